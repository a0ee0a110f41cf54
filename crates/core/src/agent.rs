//! The agent aggregate: presence, connections and load. Its load is derived from the
//! conversations it is in, offered or owes a wrap-up for.

use crate::event::{AgentEvent, ConversationEvent, Presence};
use crate::ids::{AgentId, ConversationId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most chats an agent may be given at once.
pub const MAX_CAPACITY: u32 = 20;
pub const DEFAULT_CAPACITY: u32 = 3;

/// An offer (or, later, a transfer or conference invitation) waiting for the agent to accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffer {
    pub conversation_id: ConversationId,
    pub deadline: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub capacity: u32,
    pub presence: Presence,
    pub presence_since: Timestamp,
    /// Open WebSocket connections (ids), on any node.
    pub connections: BTreeSet<String>,
    /// Since when the agent has had no connection (None while connected).
    pub disconnected_since: Option<Timestamp>,
    /// At most one offer pending at a time.
    pub offer: Option<PendingOffer>,
    /// Chats the agent is in (owner or, later, conference agent), closed ones included until
    /// the agent ends them.
    pub chats: BTreeSet<ConversationId>,
    /// Chats the agent has left and still owes a wrap-up for.
    pub wrapups: BTreeSet<ConversationId>,
    /// When the agent last got room or became Available: routing prefers the one free longest.
    pub free_since: Timestamp,
    /// The number of events in the agent's own log (the last one's sequence number). The
    /// store guards the row with a version of its own, bumped on every write, because
    /// conversation events change this snapshot too.
    pub log_seq: u64,
}

impl Agent {
    /// A newly created agent: logged out, no chats.
    pub fn new(id: AgentId, name: String, capacity: u32, now: Timestamp) -> Self {
        Agent {
            id,
            name,
            capacity,
            presence: Presence::LoggedOut,
            presence_since: now,
            connections: BTreeSet::new(),
            disconnected_since: Some(now),
            offer: None,
            chats: BTreeSet::new(),
            wrapups: BTreeSet::new(),
            free_since: now,
            log_seq: 0,
        }
    }

    /// Offers + invitations + chats + wrap-ups not yet submitted.
    pub fn load(&self) -> u32 {
        self.offer.is_some() as u32 + self.chats.len() as u32 + self.wrapups.len() as u32
    }

    pub fn has_room(&self) -> bool {
        self.load() < self.capacity
    }

    pub fn is_connected(&self) -> bool {
        !self.connections.is_empty()
    }

    /// May a new chat be offered to this agent now?
    pub fn can_take_offer(&self) -> bool {
        self.presence == Presence::Available
            && self.is_connected()
            && self.offer.is_none()
            && self.has_room()
    }

    /// Engaged is shown (not stored) while the agent has chats open.
    pub fn is_engaged(&self) -> bool {
        !self.chats.is_empty()
    }

    /// Applies one of the agent's own events.
    pub fn apply(&mut self, event: &AgentEvent, at: Timestamp) {
        self.log_seq += 1;
        match event {
            AgentEvent::PresenceChanged { presence, .. } => {
                if *presence == Presence::Available && self.presence != Presence::Available {
                    self.free_since = at;
                }
                // Signing in without a desktop connected yet (e.g. over REST, before the socket
                // opens): the sign-out grace counts from the sign-in, not from whenever the
                // agent last had a connection, or the agent would be logged out at once.
                if self.presence == Presence::LoggedOut
                    && *presence != Presence::LoggedOut
                    && self.disconnected_since.is_some()
                {
                    self.disconnected_since = Some(at);
                }
                self.presence = presence.clone();
                self.presence_since = at;
            }
            AgentEvent::Connected { connection_id } => {
                self.connections.insert(connection_id.clone());
                self.disconnected_since = None;
            }
            AgentEvent::Disconnected { connection_id } => {
                self.connections.remove(connection_id);
                if self.connections.is_empty() && self.disconnected_since.is_none() {
                    self.disconnected_since = Some(at);
                }
            }
            AgentEvent::CapacityChanged { capacity } => self.capacity = *capacity,
        }
    }

    /// Applies a conversation's event to this agent's offer, chats and wrap-ups.
    pub fn apply_conversation(
        &mut self,
        conversation: ConversationId,
        event: &ConversationEvent,
        at: Timestamp,
    ) {
        let before = self.load();
        use ConversationEvent as E;
        match event {
            E::Offered {
                agent_id, deadline, ..
            }
            | E::ConferenceRequested {
                agent_id, deadline, ..
            } if *agent_id == self.id => {
                self.offer = Some(PendingOffer {
                    conversation_id: conversation,
                    deadline: *deadline,
                });
            }
            E::OfferTimedOut { agent_id }
            | E::OfferWithdrawn { agent_id, .. }
            | E::TransferRejected { agent_id }
            | E::ConferenceWithdrawn { agent_id }
            | E::ConferenceCancelled { agent_id }
                if *agent_id == self.id =>
            {
                self.clear_offer(conversation);
            }
            E::Accepted { agent_id, .. }
            | E::TransferAccepted { agent_id, .. }
            | E::ConferenceJoined { agent_id, .. }
                if *agent_id == self.id =>
            {
                self.clear_offer(conversation);
                self.chats.insert(conversation);
            }
            E::AgentLeft { agent_id, .. } | E::ConferenceLeft { agent_id, .. }
                if *agent_id == self.id =>
            {
                if self.chats.remove(&conversation) {
                    self.wrapups.insert(conversation);
                }
            }
            E::Ended => {
                if self.chats.remove(&conversation) {
                    self.wrapups.insert(conversation);
                }
            }
            E::WrappedUp { agent_id, .. } if *agent_id == self.id => {
                self.wrapups.remove(&conversation);
            }
            E::Abandoned { .. } | E::Interrupted => self.clear_offer(conversation),
            _ => {}
        }
        if self.load() < before {
            self.free_since = at;
        }
    }

    fn clear_offer(&mut self, conversation: ConversationId) {
        if self
            .offer
            .as_ref()
            .is_some_and(|o| o.conversation_id == conversation)
        {
            self.offer = None;
        }
    }
}
