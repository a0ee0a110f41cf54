//! Events: what happened. A conversation's events form its log, numbered 1, 2, 3, … with no
//! gap; an agent's presence and connection changes form the agent's log. Snapshots (the
//! [`crate::Conversation`] and [`crate::Agent`] structs) are folds of these logs.

use crate::ids::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a customer told us about themselves. Shown to agents, never trusted: only `identity`
/// (from a token signed with the asset's secret) links chats into a customer's history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub phone: Option<String>,
    /// Free pre-chat fields, by the form's field name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The verified identity (the `sub` of a signed identity token), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub identity: Option<String>,
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sender {
    Customer,
    Agent { agent_id: AgentId, name: String },
}

/// Why a chat (re-)entered a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    /// A new chat.
    Arrived,
    /// The offer was not accepted in time (the agent went to RONA).
    OfferTimedOut,
    /// The offer was withdrawn (the agent's desktop lost its connection).
    OfferWithdrawn,
    /// The owning agent was logged out when their desktop stayed away too long.
    AgentLoggedOut,
    /// The owner transferred it to this queue (its place in line: the transfer time).
    Transferred,
    /// A transfer to an agent was not accepted in time: back to the front of its queue.
    TransferRejected,
}

/// Why an offer was withdrawn without RONA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    CustomerLeft,
    AgentDisconnected,
    /// The chat's asset was deleted.
    Interrupted,
}

/// Why a chat was closed while agents were still in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The customer clicked End chat: "Customer has ended the conversation".
    CustomerEnded,
    /// The customer stayed away past the asset's inactivity timeout.
    CustomerLeft,
    /// The chat's asset was deleted.
    Interrupted,
}

/// Where the owner sends a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransferTarget {
    Queue {
        queue_id: QueueId,
        queue_name: String,
    },
    Agent {
        agent_id: AgentId,
        agent_name: String,
    },
}

/// Why a waiting chat left its queue without being answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// The customer ended the chat while it waited.
    CustomerEnded,
    /// The customer disconnected and did not come back within the grace period.
    CustomerGone,
}

/// One step in a conversation's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationEvent {
    Started {
        asset_id: AssetId,
        asset_name: String,
        customer: CustomerInfo,
        /// The conversation's variables: pre-chat answers, the page, the system's own.
        variables: BTreeMap<String, String>,
        proactive: bool,
    },
    Queued {
        queue_id: QueueId,
        queue_name: String,
        priority: i32,
        /// Its place in the line: the original arrival time, or the transfer time.
        front_at: Timestamp,
        reason: QueueReason,
    },
    Offered {
        agent_id: AgentId,
        agent_name: String,
        deadline: Timestamp,
        /// Offered because the owner transferred it to this agent.
        #[serde(default)]
        transfer: bool,
    },
    /// The offer ran out: the agent goes to RONA; a `Queued` follows.
    OfferTimedOut {
        agent_id: AgentId,
    },
    OfferWithdrawn {
        agent_id: AgentId,
        reason: WithdrawReason,
    },
    Accepted {
        agent_id: AgentId,
        agent_name: String,
    },
    Message {
        sender: Sender,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        template: Option<String>,
    },
    /// A customer's connection opened (a tab, a reconnect).
    CustomerConnected {
        connection_id: String,
    },
    /// A customer's connection closed; with none left the customer is away.
    CustomerDisconnected {
        connection_id: String,
    },
    Closed {
        reason: CloseReason,
    },
    /// An agent left the chat (End, or logged out); they now owe a wrap-up.
    AgentLeft {
        agent_id: AgentId,
        agent_name: String,
        /// `true` when the agent was logged out by the system, not by their own click.
        by_system: bool,
    },
    /// The conversation is over for everyone (agents may still owe wrap-ups).
    Ended,
    WrappedUp {
        agent_id: AgentId,
        reason_id: WrapUpReasonId,
        reason_name: String,
        /// Submitted by the system (auto wrap-up, or the agent was logged out).
        auto: bool,
    },
    Abandoned {
        reason: AbandonReason,
    },
    /// The owner asked for a transfer; the owner leaves the chat at once (an `agent_left`
    /// follows) and the chat waits in the queue or is offered to the agent.
    TransferRequested {
        agent_id: AgentId,
        agent_name: String,
        target: TransferTarget,
    },
    /// The agent a chat was transferred to accepted it: they own it now.
    TransferAccepted {
        agent_id: AgentId,
        agent_name: String,
    },
    /// The agent a chat was transferred to did not accept in time (they go to RONA); a
    /// `queued` follows.
    TransferRejected {
        agent_id: AgentId,
    },
    /// The owner invited a second agent into the chat.
    ConferenceRequested {
        agent_id: AgentId,
        agent_name: String,
        deadline: Timestamp,
    },
    /// The invited agent accepted: both agents are in the chat.
    ConferenceJoined {
        agent_id: AgentId,
        agent_name: String,
    },
    /// The invitation was not accepted in time (the invited agent goes to RONA).
    ConferenceWithdrawn {
        agent_id: AgentId,
    },
    /// The invitation was cancelled: by the owner, or because the chat closed or the invited
    /// agent's desktop was gone (no RONA).
    ConferenceCancelled {
        agent_id: AgentId,
    },
    /// An agent left the conference (End conference); they now owe a wrap-up.
    ConferenceLeft {
        agent_id: AgentId,
        agent_name: String,
    },
    /// The other agent became the owner (the owner left the conference).
    OwnerChanged {
        agent_id: AgentId,
        agent_name: String,
    },
    /// The chat's asset was deleted while it was still in line: it leaves the queue
    /// (counted as interrupted, not abandoned).
    Interrupted,
}

/// Who may see an event of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The customer, the agents in the chat and supervisors.
    Everyone,
    /// The agents in the chat and supervisors: offers, RONAs, wrap-ups.
    AgentsOnly,
}

impl ConversationEvent {
    pub fn audience(&self) -> Audience {
        use ConversationEvent::*;
        match self {
            Started { .. }
            | Queued { .. }
            | Accepted { .. }
            | Message { .. }
            | Closed { .. }
            | AgentLeft { .. }
            | Ended
            | Abandoned { .. }
            | TransferRequested { .. }
            | TransferAccepted { .. }
            | ConferenceJoined { .. }
            | ConferenceLeft { .. }
            | Interrupted => Audience::Everyone,
            Offered { .. }
            | OfferTimedOut { .. }
            | OfferWithdrawn { .. }
            | CustomerConnected { .. }
            | CustomerDisconnected { .. }
            | WrappedUp { .. }
            | TransferRejected { .. }
            | ConferenceRequested { .. }
            | ConferenceWithdrawn { .. }
            | ConferenceCancelled { .. }
            | OwnerChanged { .. } => Audience::AgentsOnly,
        }
    }

    pub fn kind(&self) -> &'static str {
        use ConversationEvent::*;
        match self {
            Started { .. } => "started",
            Queued { .. } => "queued",
            Offered { .. } => "offered",
            OfferTimedOut { .. } => "offer_timed_out",
            OfferWithdrawn { .. } => "offer_withdrawn",
            Accepted { .. } => "accepted",
            Message { .. } => "message",
            CustomerConnected { .. } => "customer_connected",
            CustomerDisconnected { .. } => "customer_disconnected",
            Closed { .. } => "closed",
            AgentLeft { .. } => "agent_left",
            Ended => "ended",
            WrappedUp { .. } => "wrapped_up",
            Abandoned { .. } => "abandoned",
            TransferRequested { .. } => "transfer_requested",
            TransferAccepted { .. } => "transfer_accepted",
            TransferRejected { .. } => "transfer_rejected",
            ConferenceRequested { .. } => "conference_requested",
            ConferenceJoined { .. } => "conference_joined",
            ConferenceWithdrawn { .. } => "conference_withdrawn",
            ConferenceCancelled { .. } => "conference_cancelled",
            ConferenceLeft { .. } => "conference_left",
            OwnerChanged { .. } => "owner_changed",
            Interrupted => "interrupted",
        }
    }
}

/// An agent's presence, as chosen by them or set by the system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Presence {
    Available,
    /// Idle, with the idle code chosen (none right after signing in).
    Idle {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code_id: Option<IdleCodeId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code_name: Option<String>,
    },
    /// Redirection on no answer: set by the system, left only by the agent's own change.
    Rona,
    LoggedOut,
}

/// Why an agent's presence changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PresenceReason {
    /// The agent's own choice (or sign-in / sign-out).
    Agent,
    /// An offer timed out.
    Rona,
    /// The agent's desktop was gone longer than the sign-out grace period.
    ConnectionLost,
}

/// One step in an agent's own log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    PresenceChanged {
        presence: Presence,
        reason: PresenceReason,
    },
    Connected {
        connection_id: String,
    },
    Disconnected {
        connection_id: String,
    },
    CapacityChanged {
        capacity: u32,
    },
}
