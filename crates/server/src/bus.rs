//! The bus between nodes of a cluster. After a commit, a node delivers the events to its own
//! connections and tells the other nodes through NATS, which deliver them to theirs. The
//! bus only carries news of what is already committed: a notice that is lost (NATS core is
//! at most once) delays delivery to a connection until the next event of that conversation
//! or the client's next resume, both of which read the log; it never loses an event.

use crate::hub::{Hub, Item, PublishedEvent, Topic};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use switchboard_core::*;

/// What one node tells the others.
#[derive(Serialize, Deserialize)]
pub struct Notice {
    pub node: String,
    pub body: NoticeBody,
}

#[derive(Serialize, Deserialize)]
pub enum NoticeBody {
    /// Committed events of a conversation, the conversation after them, the agents to tell
    /// and the queues whose line changed.
    Conversation {
        conversation: Conversation,
        events: Vec<(u64, Timestamp, ConversationEvent)>,
        agents: Vec<AgentId>,
        lines: Vec<QueueId>,
    },
    /// An agent's new snapshot and its row version.
    Agent { agent: Agent, version: i64 },
    /// Typing, for these topics.
    Typing {
        topics: Vec<TopicName>,
        conversation_id: ConversationId,
        from_customer: bool,
        frame: String,
    },
    /// Close an agent's connections (signed out elsewhere).
    Close { agent: AgentId, reason: String },
}

/// A hub topic on the wire.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub enum TopicName {
    Agent(AgentId),
    Customer(ConversationId),
}

impl From<TopicName> for Topic {
    fn from(t: TopicName) -> Topic {
        match t {
            TopicName::Agent(a) => Topic::Agent(a),
            TopicName::Customer(c) => Topic::Customer(c),
        }
    }
}

pub struct Bus {
    client: async_nats::Client,
    subject: String,
    node: String,
    /// Notices on their way out, drained by one task. Bounded: when NATS is slow or gone,
    /// notices are dropped (connections catch up from the log) rather than piling up.
    outbox: tokio::sync::mpsc::Sender<Vec<u8>>,
}

/// Notices that may wait for NATS before new ones are dropped.
const OUTBOX: usize = 4096;

impl Bus {
    /// Connects to NATS; notices go on `<prefix>.events`.
    pub async fn connect(url: &str, prefix: &str, node: &str) -> Result<Bus, String> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))?;
        let subject = format!("{prefix}.events");
        let (outbox, mut pending) = tokio::sync::mpsc::channel::<Vec<u8>>(OUTBOX);
        let (publisher, to) = (client.clone(), subject.clone());
        tokio::spawn(async move {
            while let Some(payload) = pending.recv().await {
                if let Err(e) = publisher.publish(to.clone(), payload.into()).await {
                    tracing::warn!(error = %e, "cannot publish a notice");
                }
            }
        });
        Ok(Bus {
            client,
            subject,
            node: node.to_string(),
            outbox,
        })
    }

    pub fn publish(&self, body: NoticeBody) {
        let notice = Notice {
            node: self.node.clone(),
            body,
        };
        let payload = match serde_json::to_vec(&notice) {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot encode a notice"),
        };
        if self.outbox.try_send(payload).is_err() {
            tracing::warn!(
                "the bus is behind: a notice was dropped (connections catch up from the log)"
            );
        }
    }

    /// Hands other nodes' notices to `deliver`, until the bus closes.
    pub async fn listen(
        &self,
        deliver: impl Fn(NoticeBody) + Send + Sync + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, String> {
        let mut subscriber = self
            .client
            .subscribe(self.subject.clone())
            .await
            .map_err(|e| format!("cannot subscribe to {}: {e}", self.subject))?;
        let me = self.node.clone();
        Ok(tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                match serde_json::from_slice::<Notice>(&message.payload) {
                    Ok(n) if n.node == me => {}
                    Ok(n) => deliver(n.body),
                    Err(e) => tracing::warn!(error = %e, "a notice that does not parse"),
                }
            }
        }))
    }
}

/// Hands a notice's news to this node's connections.
pub fn deliver(hub: &Hub, masker: Option<&switchboard_mask::Masker>, body: NoticeBody) {
    match body {
        NoticeBody::Conversation {
            conversation,
            events,
            agents,
            lines,
        } => deliver_conversation(hub, masker, Arc::new(conversation), events, &agents, &lines),
        NoticeBody::Agent { agent, version } => hub.publish(
            Topic::Agent(agent.id),
            Item::Agent(Arc::new(agent), version),
        ),
        NoticeBody::Typing {
            topics,
            conversation_id,
            from_customer,
            frame,
        } => {
            let item = Item::Typing {
                conversation_id,
                from_customer,
                frame: frame.into(),
            };
            for t in topics {
                hub.publish(t.into(), item.clone());
            }
        }
        NoticeBody::Close { agent, reason } => {
            let reason: &'static str = if reason == "signed out" {
                "signed out"
            } else {
                "closed"
            };
            hub.publish(Topic::Agent(agent), Item::Close(reason));
        }
    }
}

/// Sends a conversation's committed events to its customer and agents on this node.
pub fn deliver_conversation(
    hub: &Hub,
    masker: Option<&switchboard_mask::Masker>,
    after: Arc<Conversation>,
    events: Vec<(u64, Timestamp, ConversationEvent)>,
    agents: &[AgentId],
    lines: &[QueueId],
) {
    for (seq, at, event) in events {
        let item = Item::Event(Arc::new(PublishedEvent::new(
            seq,
            at,
            event,
            after.clone(),
            masker,
        )));
        hub.publish(Topic::Customer(after.id), item.clone());
        for a in agents {
            hub.publish(Topic::Agent(*a), item.clone());
        }
    }
    for q in lines {
        hub.publish(Topic::Line(*q), Item::LineChanged(*q));
    }
}
