//! The real-time protocol's frames, as JSON objects tagged by `type`. Documented in
//! docs/protocol.md; the TypeScript types for web clients are generated from these.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_core::*;

/// The longest client frame we parse (bigger ones get `frame_too_large`).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// The longest command id.
pub const MAX_ID_CHARS: usize = 100;

/// Frames an agent's desktop sends.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum AgentCommandFrame {
    /// First frame on the socket: the session token and, per conversation, the last `seq`
    /// the desktop has (missing: it has nothing; the server sends the whole history).
    Hello {
        token: String,
        #[serde(default)]
        #[ts(type = "Record<string, number>")]
        resume: BTreeMap<ConversationId, u64>,
    },
    SetPresence {
        id: String,
        /// `available` or `idle`.
        presence: String,
        #[serde(default)]
        #[ts(optional)]
        idle_code_id: Option<IdleCodeId>,
    },
    Accept {
        id: String,
        conversation_id: ConversationId,
    },
    Send {
        id: String,
        conversation_id: ConversationId,
        text: String,
    },
    SendTemplate {
        id: String,
        conversation_id: ConversationId,
        template: String,
    },
    Typing {
        conversation_id: ConversationId,
    },
    End {
        id: String,
        conversation_id: ConversationId,
    },
    WrapUp {
        id: String,
        conversation_id: ConversationId,
        reason_id: WrapUpReasonId,
    },
    /// Events of a conversation the agent is (or was) in, after `after_seq`.
    Sync {
        id: String,
        conversation_id: ConversationId,
        #[ts(type = "number")]
        after_seq: u64,
    },
    SignOut {
        id: String,
    },
    Ping,
    /// Transfer a chat you own (alone, no invitation pending) to a queue or to an agent.
    Transfer {
        id: String,
        conversation_id: ConversationId,
        #[serde(default)]
        #[ts(optional)]
        queue_id: Option<QueueId>,
        #[serde(default)]
        #[ts(optional)]
        agent_id: Option<AgentId>,
    },
    /// Invite an available agent into a chat you own: a conference.
    Invite {
        id: String,
        conversation_id: ConversationId,
        agent_id: AgentId,
    },
    /// Cancel your pending invitation (no RONA).
    CancelInvitation {
        id: String,
        conversation_id: ConversationId,
    },
    /// End conference: leave the chat; it goes on with the other agent.
    Leave {
        id: String,
        conversation_id: ConversationId,
    },
}

/// Frames a customer's widget sends.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum CustomerCommandFrame {
    /// First frame: the conversation token and the last `seq` the widget has (0: none).
    Hello {
        token: String,
        #[serde(default)]
        #[ts(type = "number")]
        last_seq: u64,
    },
    Send {
        id: String,
        text: String,
    },
    Typing,
    End {
        id: String,
    },
    Ping,
}

/// An event of a conversation, as an audience sees it.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct EventFrame<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub conversation_id: ConversationId,
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub at: i64,
    pub event: &'a ConversationEvent,
}

/// What the offer pop-over shows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ts_rs::TS)]
pub struct OfferView {
    /// `chat` (routing), `transfer` (the owner transferred it to you), `conference` (an
    /// invitation to join the owner).
    pub kind: String,
    pub conversation_id: ConversationId,
    pub customer_name: String,
    pub customer: CustomerInfo,
    pub queue_id: QueueId,
    pub queue_name: String,
    pub agent_name: String,
    /// When the offer was made (the pop-over's date), ms since the epoch.
    #[ts(type = "number")]
    pub offered_at: i64,
    /// When the chat arrived (the pop-over's timer counts from it).
    #[ts(type = "number")]
    pub arrived_at: i64,
    /// When the offer runs out.
    #[ts(type = "number")]
    pub deadline: i64,
    pub proactive: bool,
    pub variables: BTreeMap<String, String>,
    /// The messages so far.
    pub messages: Vec<MessageView>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ts_rs::TS)]
pub struct MessageView {
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub at: i64,
    pub sender: Sender,
    pub text: String,
}

/// A chat in the agent's snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ts_rs::TS)]
pub struct ChatView {
    pub conversation_id: ConversationId,
    /// `active`, `closed` (nobody can send; End it), `ended` or ... (see protocol.md).
    pub status: String,
    /// What the chat's controls show: `active`, `conference_requested`, `conference`,
    /// `closed`, `ended`.
    pub control: String,
    /// The owner, while it is active.
    #[ts(optional)]
    pub owner: Option<AgentId>,
    /// The agents in it (owner first).
    pub agents: Vec<AgentId>,
    /// The conversation's last `seq`.
    #[ts(type = "number")]
    pub head_seq: u64,
    /// The agent owes a wrap-up for it.
    pub wrap_up_pending: bool,
    pub customer_name: String,
    pub customer: CustomerInfo,
    pub queue_name: String,
    #[ts(type = "number")]
    pub arrived_at: i64,
    pub proactive: bool,
    pub variables: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ts_rs::TS)]
pub struct AgentView {
    pub agent_id: AgentId,
    pub name: String,
    pub presence: Presence,
    #[ts(type = "number")]
    pub presence_since: i64,
    /// Shown while the agent has chats open.
    pub engaged: bool,
    pub capacity: u32,
    pub load: u32,
}

/// The label shown for a customer: their name, else their email, else "Customer".
pub fn customer_label(c: &CustomerInfo) -> String {
    c.name
        .clone()
        .or_else(|| c.email.clone())
        .unwrap_or_else(|| "Customer".into())
}

impl AgentView {
    pub fn of(a: &Agent) -> Self {
        AgentView {
            agent_id: a.id,
            name: a.name.clone(),
            presence: a.presence.clone(),
            presence_since: a.presence_since.0,
            engaged: a.is_engaged(),
            capacity: a.capacity,
            load: a.load(),
        }
    }
}

impl ChatView {
    pub fn of(c: &Conversation, agent: AgentId) -> Self {
        ChatView {
            conversation_id: c.id,
            status: c.status.name().to_string(),
            control: c.control_state().to_string(),
            owner: c.owner(),
            agents: c.agents.clone(),
            head_seq: c.head_seq,
            wrap_up_pending: c.wrapups.contains_key(&agent),
            customer_name: customer_label(&c.customer),
            customer: (*c.customer).clone(),
            queue_name: c.queue_name.clone(),
            arrived_at: c.arrived_at.0,
            proactive: c.proactive,
            variables: c.variables.to_map(),
        }
    }
}

/// Frames the server sends (to agents and customers).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// An agent's connection opens with this (after `hello`).
    Snapshot {
        agent: AgentView,
        offer: Option<OfferView>,
        chats: Vec<ChatView>,
    },
    /// A customer's connection opens with this (after `hello`).
    Welcome {
        conversation_id: ConversationId,
        status: String,
        #[ts(type = "number")]
        head_seq: u64,
        /// Chats ahead in line (0: next), while waiting.
        #[ts(as = "Option<f64>")]
        position: Option<u64>,
    },
    Offer {
        offer: OfferView,
    },
    /// The pending offer is gone: `timed_out` (you are in RONA), `withdrawn`, `accepted`.
    OfferEnded {
        conversation_id: ConversationId,
        reason: String,
    },
    Presence {
        agent: AgentView,
    },
    Position {
        conversation_id: ConversationId,
        #[ts(type = "number")]
        position: u64,
    },
    Typing {
        conversation_id: ConversationId,
        /// `customer`, or the agent's name.
        from: String,
    },
    Ack {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<f64>")]
        seq: Option<u64>,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        id: Option<String>,
        code: String,
        message: String,
    },
    Pong,
}

impl ServerFrame {
    pub fn error(id: Option<String>, code: &str, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            id,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }
}
