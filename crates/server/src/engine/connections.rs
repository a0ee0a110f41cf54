//! Which node holds which socket: the row in `connections` that lets another node disconnect
//! a crashed node's sockets (`timers.rs`). It is written by the commit of the event that says
//! the socket connected or left (`ConnectionChange`), not apart from it: one write for a
//! connect instead of two waits for the disk, and never a row without its event or an event
//! without its row.

use super::Engine;
use switchboard_core::decide::{AgentCommand, ConversationCommand};
use switchboard_core::{AgentId, ConversationId};
use switchboard_store::ConnectionChange;

impl Engine {
    /// The row a customer's connect or disconnect writes with its event.
    pub(crate) fn customer_connection(
        &self,
        cid: ConversationId,
        command: &ConversationCommand,
    ) -> Option<ConnectionChange> {
        match command {
            ConversationCommand::CustomerConnected { connection_id } => {
                Some(ConnectionChange::Opened {
                    id: connection_id.clone(),
                    node: self.node_id.clone(),
                    agent: None,
                    conversation: Some(cid),
                })
            }
            ConversationCommand::CustomerDisconnected { connection_id } => {
                Some(ConnectionChange::Closed {
                    id: connection_id.clone(),
                })
            }
            _ => None,
        }
    }

    /// The row an agent desktop's connect or disconnect writes with its event.
    pub(crate) fn agent_connection(
        &self,
        agent: AgentId,
        command: &AgentCommand,
    ) -> Option<ConnectionChange> {
        match command {
            AgentCommand::Connect { connection_id } => Some(ConnectionChange::Opened {
                id: connection_id.clone(),
                node: self.node_id.clone(),
                agent: Some(agent),
                conversation: None,
            }),
            AgentCommand::Disconnect { connection_id } => Some(ConnectionChange::Closed {
                id: connection_id.clone(),
            }),
            _ => None,
        }
    }
}
