//! The conversation aggregate: where a chat is (exactly one place at a time) and who is in it.

use crate::event::{ConversationEvent, CustomerInfo};
use crate::ids::{AgentId, AssetId, ConversationId, QueueId};
use crate::time::Timestamp;
use crate::variables::Variables;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Where a conversation is. Exactly one of these at any time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Waiting in `queue_id` (see [`Conversation::queue_id`]).
    Waiting,
    /// Offered to one agent until `deadline` (by routing, or by the owner's transfer).
    Offered {
        agent_id: AgentId,
        deadline: Timestamp,
        #[serde(default)]
        transfer: bool,
    },
    /// Owned by `owner`; both sides may send.
    Active { owner: AgentId },
    /// Nobody may send; the agents still in it must end it and wrap up.
    Closed,
    /// Over for everyone; agents may still owe wrap-ups.
    Ended,
    /// Left the queue unanswered.
    Abandoned,
    /// Left the queue because its asset was deleted.
    Interrupted,
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Offered { .. } => "offered",
            Status::Active { .. } => "active",
            Status::Closed => "closed",
            Status::Ended => "ended",
            Status::Abandoned => "abandoned",
            Status::Interrupted => "interrupted",
        }
    }
}

/// A pending invitation into a conference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub agent_id: AgentId,
    pub deadline: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub asset_id: AssetId,
    pub asset_name: String,
    pub queue_id: QueueId,
    pub queue_name: String,
    pub priority: i32,
    /// When the customer first arrived (kept for reporting, also across transfers).
    pub arrived_at: Timestamp,
    /// Its place in the line: routing takes the smallest `front_at` first.
    pub front_at: Timestamp,
    // The parts below that change rarely are shared between a snapshot and the next (a
    // message makes a new snapshot for its head: these were most of that copy's
    // allocations). Serialised as the values they hold.
    pub customer: Arc<CustomerInfo>,
    pub variables: Arc<Variables>,
    pub proactive: bool,
    pub status: Status,
    /// Agents in the chat, owner first (one more once conference lands). While `Closed`,
    /// the agents who have not yet ended it.
    pub agents: Vec<AgentId>,
    /// A second agent invited by the owner, until they accept or the deadline.
    #[serde(default)]
    pub invitation: Option<Invitation>,
    /// Agents who left and owe a wrap-up, with the time they left (for auto wrap-up).
    pub wrapups: BTreeMap<AgentId, Timestamp>,
    /// Agents who transferred it away: routing does not offer it back to them.
    #[serde(default)]
    pub transferred_by: BTreeSet<AgentId>,
    /// Every agent who has ever been in the chat (they may read its log).
    pub ever_agents: BTreeSet<AgentId>,
    /// The customer's open connections, sorted and without repeats: stored as the set it
    /// once was. A vector, because a chat has one or two: a tree's node for one id was 280
    /// bytes of every idle chat (heaptrack, docs/benchmarks.md).
    pub customer_connections: Arc<Vec<String>>,
    /// Since when the customer has had no connection (None while connected).
    pub customer_away_since: Option<Timestamp>,
    /// The sequence number of the last event in the log.
    pub head_seq: u64,
}

impl Conversation {
    /// The conversation as its first event makes it. `queued` must follow at once.
    pub fn started(
        id: ConversationId,
        event: &ConversationEvent,
        queue_id: QueueId,
        at: Timestamp,
    ) -> Option<Self> {
        let ConversationEvent::Started {
            asset_id,
            asset_name,
            customer,
            variables,
            proactive,
        } = event
        else {
            return None;
        };
        Some(Conversation {
            id,
            asset_id: *asset_id,
            asset_name: asset_name.clone(),
            queue_id,
            queue_name: String::new(),
            priority: 0,
            arrived_at: at,
            front_at: at,
            customer: Arc::new(customer.clone()),
            variables: Arc::new(Variables::from(variables)),
            proactive: *proactive,
            status: Status::Waiting,
            agents: Vec::new(),
            invitation: None,
            transferred_by: BTreeSet::new(),
            wrapups: BTreeMap::new(),
            ever_agents: BTreeSet::new(),
            customer_connections: Default::default(),
            // A chat starts over REST; until the widget's socket opens the customer is away.
            customer_away_since: Some(at),
            head_seq: 1,
        })
    }

    pub fn owner(&self) -> Option<AgentId> {
        match self.status {
            Status::Active { owner } => Some(owner),
            _ => None,
        }
    }

    pub fn offered_to(&self) -> Option<AgentId> {
        match self.status {
            Status::Offered { agent_id, .. } => Some(agent_id),
            _ => None,
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.status == Status::Waiting
    }

    /// Waiting or offered: the customer is still in the line.
    pub fn is_queued(&self) -> bool {
        matches!(self.status, Status::Waiting | Status::Offered { .. })
    }

    /// Every agent whose load this conversation is part of right now.
    pub fn loaded_agents(&self) -> BTreeSet<AgentId> {
        self.each_loaded_agent().collect()
    }

    /// The same agents, some of them perhaps more than once (no set built).
    pub fn each_loaded_agent(&self) -> impl Iterator<Item = AgentId> + '_ {
        (self.agents.iter().copied())
            .chain(self.wrapups.keys().copied())
            .chain(self.offered_to())
            .chain(self.invitation.as_ref().map(|i| i.agent_id))
    }

    /// The other agent of a conference.
    pub fn conference_agent(&self) -> Option<AgentId> {
        match self.status {
            Status::Active { owner } => self.agents.iter().copied().find(|a| *a != owner),
            _ => None,
        }
    }

    /// The chat's control state, as the desktop shows it: `conference_requested` while an
    /// invitation is pending, `conference` with two agents, else the status's name.
    pub fn control_state(&self) -> &'static str {
        match self.status {
            Status::Active { .. } if self.invitation.is_some() => "conference_requested",
            Status::Active { .. } if self.agents.len() > 1 => "conference",
            _ => self.status.name(),
        }
    }

    /// Is the conversation done with, for everyone (nothing more can happen to it)?
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            Status::Ended | Status::Abandoned | Status::Interrupted
        ) && self.wrapups.is_empty()
    }

    /// Applies one event (the next in the log). An event for which
    /// [`ConversationEvent::changes_snapshot`] is false must change nothing but `head_seq`.
    pub fn apply(&mut self, event: &ConversationEvent, at: Timestamp) {
        self.head_seq += 1;
        use ConversationEvent::*;
        match event {
            Started { .. } => {}
            Queued {
                queue_id,
                queue_name,
                priority,
                front_at,
                ..
            } => {
                self.queue_id = *queue_id;
                self.queue_name = queue_name.clone();
                // The system's own variable follows the chat from queue to queue.
                if self.variables.get("system.queue") != Some(queue_name) {
                    Arc::make_mut(&mut self.variables).set("system.queue", queue_name.clone());
                }
                self.priority = *priority;
                self.front_at = *front_at;
                self.status = Status::Waiting;
            }
            Offered {
                agent_id,
                deadline,
                transfer,
                ..
            } => {
                self.status = Status::Offered {
                    agent_id: *agent_id,
                    deadline: *deadline,
                    transfer: *transfer,
                }
            }
            OfferTimedOut { .. } | OfferWithdrawn { .. } | TransferRejected { .. } => {
                self.status = Status::Waiting
            }
            Accepted { agent_id, .. } | TransferAccepted { agent_id, .. } => {
                self.status = Status::Active { owner: *agent_id };
                self.agents = vec![*agent_id];
                self.ever_agents.insert(*agent_id);
            }
            // Only the log grows (see `changes_snapshot`).
            Message { .. } => {}
            CustomerConnected { connection_id } => {
                if let Err(at) = self.customer_connections.binary_search(connection_id) {
                    Arc::make_mut(&mut self.customer_connections).insert(at, connection_id.clone());
                }
                self.customer_away_since = None;
            }
            CustomerDisconnected { connection_id } => {
                if let Ok(at) = self.customer_connections.binary_search(connection_id) {
                    Arc::make_mut(&mut self.customer_connections).remove(at);
                }
                if self.customer_connections.is_empty() && self.customer_away_since.is_none() {
                    self.customer_away_since = Some(at);
                }
            }
            Closed { .. } => self.status = Status::Closed,
            AgentLeft { agent_id, .. } => {
                self.agents.retain(|a| a != agent_id);
                self.wrapups.insert(*agent_id, at);
            }
            Ended => {
                for agent in std::mem::take(&mut self.agents) {
                    self.wrapups.insert(agent, at);
                }
                self.status = Status::Ended;
            }
            WrappedUp { agent_id, .. } => {
                self.wrapups.remove(agent_id);
            }
            Abandoned { .. } => self.status = Status::Abandoned,
            TransferRequested { agent_id, .. } => {
                self.transferred_by.insert(*agent_id);
            }
            ConferenceRequested {
                agent_id, deadline, ..
            } => {
                self.invitation = Some(Invitation {
                    agent_id: *agent_id,
                    deadline: *deadline,
                })
            }
            ConferenceJoined { agent_id, .. } => {
                self.invitation = None;
                self.agents.push(*agent_id);
                self.ever_agents.insert(*agent_id);
            }
            ConferenceWithdrawn { .. } | ConferenceCancelled { .. } => self.invitation = None,
            ConferenceLeft { agent_id, .. } => {
                self.agents.retain(|a| a != agent_id);
                self.wrapups.insert(*agent_id, at);
            }
            OwnerChanged { agent_id, .. } => {
                self.status = Status::Active { owner: *agent_id };
                self.agents.retain(|a| a != agent_id);
                self.agents.insert(0, *agent_id);
            }
            Interrupted => self.status = Status::Interrupted,
        }
    }
}

impl ConversationEvent {
    /// Whether applying the event changes the snapshot beyond its `head_seq`. A message does
    /// not: it only extends the log, so the store need not rewrite the snapshot for it, and
    /// it changes no agent either, so the engine copies none for it (both property-tested).
    pub fn changes_snapshot(&self) -> bool {
        !matches!(self, ConversationEvent::Message { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Sender;

    fn started() -> Conversation {
        let customer = CustomerInfo {
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            ..Default::default()
        };
        let variables = BTreeMap::from([("system.page_url".into(), "https://x.test/".into())]);
        let event = ConversationEvent::Started {
            asset_id: AssetId::new(),
            asset_name: "Web".into(),
            customer,
            variables,
            proactive: false,
        };
        Conversation::started(ConversationId::new(), &event, QueueId::new(), Timestamp(1))
            .expect("a started event")
    }

    /// A message's snapshot shares the customer, the variables and the connections with the
    /// one before it (no copy), changes only what it changes (`make_mut` copies on write),
    /// and the shared parts are written as the plain values they were before.
    #[test]
    fn snapshots_share_what_rarely_changes_and_serialise_as_before() {
        let mut before = started();
        before.apply(
            &ConversationEvent::CustomerConnected {
                connection_id: "tab-1".into(),
            },
            Timestamp(2),
        );
        let mut after = before.clone();
        let message = ConversationEvent::Message {
            sender: Sender::Customer,
            text: "hello".into(),
            template: None,
        };
        after.apply(&message, Timestamp(3));
        assert_eq!(after.head_seq, before.head_seq + 1);
        assert!(Arc::ptr_eq(&before.customer, &after.customer));
        assert!(Arc::ptr_eq(&before.variables, &after.variables));
        assert!(Arc::ptr_eq(
            &before.customer_connections,
            &after.customer_connections
        ));

        // A change to a shared part leaves the earlier snapshot as it was.
        after.apply(
            &ConversationEvent::CustomerDisconnected {
                connection_id: "tab-1".into(),
            },
            Timestamp(4),
        );
        assert!(after.customer_connections.is_empty());
        assert_eq!(before.customer_connections.len(), 1);

        let json = serde_json::to_value(&before).unwrap();
        assert_eq!(json["customer"]["name"], "Ada");
        assert_eq!(json["variables"]["system.page_url"], "https://x.test/");
        assert_eq!(json["customer_connections"], serde_json::json!(["tab-1"]));
        let back: Conversation = serde_json::from_value(json).unwrap();
        assert_eq!(back, before);
    }

    /// The customer's connections stay sorted and without repeats whatever the order they
    /// come and go in, so that they are stored as the set they once were, and a stored set
    /// reads back.
    #[test]
    fn customer_connections_stay_a_sorted_set() {
        let mut c = started();
        let connect = |id: &str| ConversationEvent::CustomerConnected {
            connection_id: id.into(),
        };
        let disconnect = |id: &str| ConversationEvent::CustomerDisconnected {
            connection_id: id.into(),
        };
        for (n, e) in [
            connect("b"),
            connect("a"),
            connect("c"),
            connect("a"),
            disconnect("x"),
        ]
        .iter()
        .enumerate()
        {
            c.apply(e, Timestamp(2 + n as i64));
        }
        assert_eq!(*c.customer_connections, ["a", "b", "c"]);
        c.apply(&disconnect("b"), Timestamp(10));
        assert_eq!(*c.customer_connections, ["a", "c"]);
        assert_eq!(c.customer_away_since, None);

        let mut json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["customer_connections"], serde_json::json!(["a", "c"]));
        json["customer_connections"] = serde_json::json!(["m", "z"]);
        let back: Conversation = serde_json::from_value(json).unwrap();
        assert_eq!(*back.customer_connections, ["m", "z"]);

        c.apply(&disconnect("a"), Timestamp(11));
        c.apply(&disconnect("c"), Timestamp(12));
        assert!(c.customer_connections.is_empty());
        assert_eq!(c.customer_away_since, Some(Timestamp(12)));
    }
}
