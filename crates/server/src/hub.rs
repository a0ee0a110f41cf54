//! Fan-out from committed events to the connections that show them. One mailbox per
//! connection; topics name who cares (an agent, a conversation's customer, a queue's line).
//! A mailbox that is full is marked lagged rather than blocking the publisher: its
//! connection then resyncs from the log, so nothing is dropped silently.

use crate::wire::{EventFrame, ServerFrame};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use switchboard_core::*;
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Agent(AgentId),
    Customer(ConversationId),
    Line(QueueId),
}

/// A frame serialised once and shared by every connection it goes to: sending it clones a
/// reference, not the text (a `String` per recipient would be an allocation and a copy each).
pub type Frame = axum::extract::ws::Utf8Bytes;

/// A conversation event after commit, serialised once per audience.
pub struct PublishedEvent {
    pub seq: u64,
    pub at: Timestamp,
    pub event: ConversationEvent,
    /// The conversation after this commit.
    pub conversation: Arc<Conversation>,
    pub agent_frame: Frame,
    /// None when the customer may not see it.
    pub customer_frame: Option<Frame>,
}

impl PublishedEvent {
    /// `masker`: mask customer sensitive data in the agents' frame (the customer's is never
    /// masked: it shows the customer's own words).
    pub fn new(
        seq: u64,
        at: Timestamp,
        event: ConversationEvent,
        conversation: Arc<Conversation>,
        masker: Option<&switchboard_mask::Masker>,
    ) -> Self {
        let frame = |e: &ConversationEvent| -> Frame {
            serde_json::to_string(&EventFrame {
                kind: "event",
                conversation_id: conversation.id,
                seq,
                at: at.0,
                event: e,
            })
            .expect("events always serialise")
            .into()
        };
        let agent_frame = match masker {
            Some(m) => frame(&crate::masking::event(m, &event)),
            None => frame(&event),
        };
        let customer_frame = (event.audience() == Audience::Everyone).then(|| frame(&event));
        PublishedEvent {
            seq,
            at,
            event,
            conversation,
            agent_frame,
            customer_frame,
        }
    }
}

#[derive(Clone)]
pub enum Item {
    Event(Arc<PublishedEvent>),
    /// An agent's snapshot after a change, with its row version (newer is larger), so that
    /// a connection never shows an older state after a newer one.
    Agent(Arc<Agent>, i64),
    Typing {
        conversation_id: ConversationId,
        from_customer: bool,
        frame: Frame,
    },
    /// Someone joined or left a queue's line: positions may have changed.
    LineChanged(QueueId),
    /// Close the connection (the server is stopping, or the session ended).
    Close(&'static str),
}

/// A connection's queue of items. Most connections are idle most of the time, so the queue
/// is a `VecDeque` that allocates nothing until an item comes (a tokio channel allocates a
/// block of 32 slots up front: about 2 KiB per connection), and gives its buffer back when
/// its connection has taken every item ([`Receiver::is_idle`]).
pub struct Mailbox {
    pub id: u64,
    queue: Mutex<VecDeque<Item>>,
    /// Wakes the receiver when an item is queued.
    items: Notify,
    lagged: AtomicBool,
    /// A `LineChanged` was delivered and the connection has not looked at its place since
    /// ([`Mailbox::line_seen`]): further ones are dropped. Each arrival and offer in a queue
    /// changes its line, and without this every chat waiting in it woke for each one — under
    /// overload, waiting chats × changes a second, which ate the cores the chats being
    /// served needed (docs/benchmarks.md, "Saturation measured again").
    line_pending: AtomicBool,
    /// Set when the connection must close; kept apart from the queue so it is never dropped.
    closing: std::sync::OnceLock<&'static str>,
    pub wake: Notify,
}

impl Mailbox {
    /// Why the connection must close, once asked to.
    pub fn closing(&self) -> Option<&'static str> {
        self.closing.get().copied()
    }

    /// Takes the lagged flag (true once after a dropped item).
    pub fn take_lagged(&self) -> bool {
        self.lagged.swap(false, Ordering::AcqRel)
    }

    /// The connection is about to read its place in line: the next change wakes it again.
    pub fn line_seen(&self) {
        self.line_pending.store(false, Ordering::Release);
    }
}

/// Items a connection may have waiting before it counts as lagging.
const MAILBOX_DEPTH: usize = 256;

#[derive(Default)]
pub struct Hub {
    topics: Mutex<HashMap<Topic, Vec<Arc<Mailbox>>>>,
    next_id: AtomicU64,
    all: Mutex<HashMap<u64, Arc<Mailbox>>>,
}

impl Hub {
    pub fn mailbox(&self) -> (Arc<Mailbox>, Receiver) {
        let mailbox = Arc::new(Mailbox {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            queue: Mutex::new(VecDeque::new()),
            items: Notify::new(),
            lagged: AtomicBool::new(false),
            line_pending: AtomicBool::new(false),
            closing: std::sync::OnceLock::new(),
            wake: Notify::new(),
        });
        self.all.lock().unwrap().insert(mailbox.id, mailbox.clone());
        let rx = Receiver {
            mailbox: mailbox.clone(),
        };
        (mailbox, rx)
    }

    pub fn subscribe(&self, topic: Topic, mailbox: &Arc<Mailbox>) {
        let mut topics = self.topics.lock().unwrap();
        let list = topics.entry(topic).or_default();
        if !list.iter().any(|m| m.id == mailbox.id) {
            list.push(mailbox.clone());
        }
    }

    pub fn unsubscribe(&self, topic: Topic, mailbox: &Mailbox) {
        let mut topics = self.topics.lock().unwrap();
        if let Some(list) = topics.get_mut(&topic) {
            list.retain(|m| m.id != mailbox.id);
            if list.is_empty() {
                topics.remove(&topic);
            }
        }
    }

    /// Forgets a mailbox everywhere (its connection closed).
    pub fn remove(&self, mailbox: &Mailbox, topics: &[Topic]) {
        for t in topics {
            self.unsubscribe(*t, mailbox);
        }
        self.all.lock().unwrap().remove(&mailbox.id);
    }

    pub fn publish(&self, topic: Topic, item: Item) {
        let targets: Vec<Arc<Mailbox>> = match self.topics.lock().unwrap().get(&topic) {
            Some(list) => list.clone(),
            None => return,
        };
        for m in targets {
            deliver(&m, item.clone());
        }
    }

    /// Sends to every connection (shutdown).
    pub fn broadcast(&self, item: Item) {
        let all: Vec<Arc<Mailbox>> = self.all.lock().unwrap().values().cloned().collect();
        for m in all {
            deliver(&m, item.clone());
        }
    }

    pub fn connections(&self) -> usize {
        self.all.lock().unwrap().len()
    }
}

fn deliver(m: &Mailbox, item: Item) {
    if let Item::Close(reason) = item {
        let _ = m.closing.set(reason);
        m.wake.notify_one();
        return;
    }
    if matches!(item, Item::LineChanged(_)) && m.line_pending.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut queue = m.queue.lock().unwrap();
    if queue.len() >= MAILBOX_DEPTH {
        drop(queue);
        m.lagged.store(true, Ordering::Release);
        m.wake.notify_one();
    } else {
        queue.push_back(item);
        drop(queue);
        m.items.notify_one();
    }
}

/// The receiving end of a mailbox, held by its connection.
pub struct Receiver {
    mailbox: Arc<Mailbox>,
}

impl Receiver {
    /// Whether no item is queued now. If none is, the queue gives back the buffer it grew
    /// for the last items: a connection is idle long after a burst, and a buffer kept for
    /// it was ~220 bytes of every idle connection (heaptrack, docs/benchmarks.md); a burst
    /// makes a new one.
    pub fn is_idle(&self) -> bool {
        let mut queue = self.mailbox.queue.lock().unwrap();
        if !queue.is_empty() {
            return false;
        }
        if queue.capacity() > 0 {
            *queue = VecDeque::new();
        }
        true
    }

    /// The next item, waiting for one if none is queued (never `None`: the receiver holds its
    /// mailbox). Cancel-safe: an item is taken only when it is returned, and a wake-up not
    /// waited for stays stored in `Notify`.
    pub async fn recv(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.mailbox.queue.lock().unwrap().pop_front() {
                return Some(item);
            }
            self.mailbox.items.notified().await;
        }
    }
}

/// A frame for a typing indicator, serialised once.
pub fn typing_frame(conversation_id: ConversationId, from: &str) -> Frame {
    ServerFrame::Typing {
        conversation_id,
        from: from.to_string(),
    }
    .to_json()
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mailbox allocates nothing until an item comes, and gives its buffer back once its
    /// connection has taken every item.
    #[tokio::test]
    async fn an_idle_mailbox_holds_no_buffer() {
        let hub = Hub::default();
        let (mailbox, mut rx) = hub.mailbox();
        let cid = ConversationId::new();
        hub.subscribe(Topic::Customer(cid), &mailbox);
        let capacity = || mailbox.queue.lock().unwrap().capacity();
        assert_eq!(capacity(), 0);

        hub.publish(Topic::Customer(cid), agent_typing(cid));
        hub.publish(Topic::Customer(cid), agent_typing(cid));
        assert!(capacity() > 0);
        assert!(!rx.is_idle(), "two items wait");
        assert!(matches!(rx.recv().await, Some(Item::Typing { .. })));
        assert!(!rx.is_idle(), "one item waits, and is kept");
        assert!(capacity() > 0);
        assert!(matches!(rx.recv().await, Some(Item::Typing { .. })));
        assert!(rx.is_idle());
        assert_eq!(capacity(), 0);
    }

    fn agent_typing(conversation_id: ConversationId) -> Item {
        Item::Typing {
            conversation_id,
            from_customer: false,
            frame: typing_frame(conversation_id, "agent"),
        }
    }

    /// A line's changes wake a waiting connection once until it has looked at its place:
    /// the ones in between are dropped, not queued.
    #[tokio::test]
    async fn line_changes_wait_for_the_last_one_to_be_seen() {
        let hub = Hub::default();
        let (mailbox, mut rx) = hub.mailbox();
        let queue = QueueId::new();
        hub.subscribe(Topic::Line(queue), &mailbox);
        for _ in 0..3 {
            hub.publish(Topic::Line(queue), Item::LineChanged(queue));
        }
        assert!(matches!(rx.recv().await, Some(Item::LineChanged(q)) if q == queue));
        assert!(rx.is_idle(), "the second and third changes were dropped");

        mailbox.line_seen();
        hub.publish(Topic::Line(queue), Item::LineChanged(queue));
        hub.publish(Topic::Line(queue), Item::LineChanged(queue));
        assert!(matches!(rx.recv().await, Some(Item::LineChanged(q)) if q == queue));
        assert!(rx.is_idle());

        // Other items are never held back by it.
        let cid = ConversationId::new();
        hub.subscribe(Topic::Customer(cid), &mailbox);
        hub.publish(Topic::Customer(cid), agent_typing(cid));
        hub.publish(Topic::Customer(cid), agent_typing(cid));
        assert!(matches!(rx.recv().await, Some(Item::Typing { .. })));
        assert!(matches!(rx.recv().await, Some(Item::Typing { .. })));
    }
}
