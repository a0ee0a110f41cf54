//! The last committed snapshot of each conversation and agent, kept in memory on SQLite, and
//! the conversation each customer token opens.
//!
//! Every message is decided on its conversation's snapshot (and an agent's message on the
//! agent's too); reading and parsing them from the database for each one was the largest
//! share of the store's reads. On SQLite this process is the only writer, and every change
//! to a snapshot is a commit that passes through here, so the cache is the database's own
//! last state. It is never the judge of a race: commits stay conditional on the versions
//! in the database, so even a stale entry could only cost a `Conflict` and a retry.
//!
//! Not used on PostgreSQL, where other nodes write the same rows.

use crate::live::AgentRow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_core::{Agent, AgentId, Conversation, ConversationId};

/// Entries kept of each kind; past this the cache starts again empty (reads then refill
/// it with what is live).
const CAPACITY: usize = 50_000;

#[derive(Default)]
pub(crate) struct Snapshots {
    conversations: Mutex<HashMap<ConversationId, Arc<Conversation>>>,
    agents: Mutex<HashMap<AgentId, (i64, Arc<Agent>)>>,
    /// The conversation each customer token (hashed) opens: the widget's socket asks as soon
    /// as its chat has started, and again on every reconnect. A token's conversation never
    /// changes and no conversation is deleted, so an entry is never stale.
    tokens: Mutex<HashMap<String, ConversationId>>,
}

impl Snapshots {
    pub(crate) fn conversation(&self, id: ConversationId) -> Option<Arc<Conversation>> {
        let map = self.conversations.lock().expect("cache lock");
        map.get(&id).cloned()
    }

    /// Keeps `c` unless a later snapshot is there already: commits and reads racing to
    /// fill the cache never move it backwards. Returns the latest snapshot kept.
    pub(crate) fn keep_conversation(&self, c: Conversation) -> Arc<Conversation> {
        self.keep_shared_conversation(Arc::new(c))
    }

    pub(crate) fn keep_shared_conversation(&self, c: Arc<Conversation>) -> Arc<Conversation> {
        let mut map = self.conversations.lock().expect("cache lock");
        if let Some(old) = map.get(&c.id) {
            if old.head_seq > c.head_seq {
                return old.clone();
            }
        }
        make_room(&mut map, &c.id);
        map.insert(c.id, c.clone());
        c
    }

    pub(crate) fn conversation_of_token(&self, token_hash: &str) -> Option<ConversationId> {
        let map = self.tokens.lock().expect("cache lock");
        map.get(token_hash).copied()
    }

    pub(crate) fn keep_token(&self, token_hash: &str, id: ConversationId) {
        let mut map = self.tokens.lock().expect("cache lock");
        make_room(&mut map, token_hash);
        map.insert(token_hash.to_string(), id);
    }

    pub(crate) fn agent(&self, id: AgentId) -> Option<AgentRow> {
        let map = self.agents.lock().expect("cache lock");
        map.get(&id).map(|(version, a)| AgentRow {
            version: *version,
            state: (**a).clone(),
        })
    }

    pub(crate) fn keep_agent(&self, version: i64, a: &Agent) {
        let mut map = self.agents.lock().expect("cache lock");
        if map.get(&a.id).is_some_and(|(old, _)| *old > version) {
            return;
        }
        make_room(&mut map, &a.id);
        map.insert(a.id, (version, Arc::new(a.clone())));
    }
}

/// Before `key` goes in: a full cache starts again empty (reads then refill it with what is
/// live), unless `key` only replaces an entry.
fn make_room<K, V, Q>(map: &mut HashMap<K, V>, key: &Q)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if map.len() >= CAPACITY && !map.contains_key(key) {
        map.clear();
    }
}
