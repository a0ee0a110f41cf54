//! Counting lost and doubled messages by their ids. The sender writes a message down before
//! sending it and marks it when the server acknowledges it; the other side counts each
//! receipt. A message acknowledged but never received in a finished chat is lost; one
//! received twice is doubled; one received that nobody sent is unknown.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Entry {
    conversation: String,
    acked: bool,
    received: u32,
}

#[derive(Default)]
struct Inner {
    messages: HashMap<String, Entry>,
    finished: HashSet<String>,
    unknown: u64,
}

#[derive(Default)]
pub struct Ledger(Mutex<Inner>);

/// The ledger's verdict.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Tally {
    /// Messages written down by a sender.
    pub sent: u64,
    /// Of those, acknowledged by the server.
    pub acked: u64,
    /// Acknowledged, in a finished chat, never received.
    pub lost: u64,
    /// Received more than once.
    pub doubled: u64,
    /// Received without having been sent.
    pub unknown: u64,
    /// Acknowledged, not received, in a chat that had not finished by the cutoff.
    pub in_flight_at_cutoff: u64,
    /// The first few ids of each kind, for a person to look up.
    pub lost_ids: Vec<String>,
    pub doubled_ids: Vec<String>,
}

impl Ledger {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().expect("ledger lock")
    }

    pub fn sent(&self, id: &str, conversation: &str) {
        self.inner()
            .messages
            .entry(id.to_string())
            .or_insert_with(|| Entry {
                conversation: conversation.to_string(),
                ..Entry::default()
            });
    }

    pub fn acked(&self, id: &str) {
        if let Some(e) = self.inner().messages.get_mut(id) {
            e.acked = true;
        }
    }

    /// Counts a receipt; returns how many times the id has now been received (0: unknown).
    pub fn received(&self, id: &str) -> u32 {
        let mut inner = self.inner();
        match inner.messages.get_mut(id) {
            Some(e) => {
                e.received += 1;
                e.received
            }
            None => {
                inner.unknown += 1;
                0
            }
        }
    }

    /// The chat is over for both sides: whatever it has not delivered never will be.
    pub fn finished(&self, conversation: &str) {
        self.inner().finished.insert(conversation.to_string());
    }

    pub fn tally(&self) -> Tally {
        let inner = self.inner();
        let mut t = Tally {
            unknown: inner.unknown,
            ..Tally::default()
        };
        let mut ids: Vec<(&String, &Entry)> = inner.messages.iter().collect();
        ids.sort_by(|a, b| a.0.cmp(b.0));
        for (id, e) in ids {
            t.sent += 1;
            t.acked += e.acked as u64;
            if e.received > 1 {
                t.doubled += 1;
                if t.doubled_ids.len() < 10 {
                    t.doubled_ids.push(id.clone());
                }
            }
            if e.acked && e.received == 0 {
                if inner.finished.contains(&e.conversation) {
                    t.lost += 1;
                    if t.lost_ids.len() < 10 {
                        t.lost_ids.push(id.clone());
                    }
                } else {
                    t.in_flight_at_cutoff += 1;
                }
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lost_doubled_unknown_and_in_flight() {
        let l = Ledger::default();
        for id in ["a", "b", "c", "d"] {
            l.sent(id, if id == "d" { "open" } else { "done" });
            l.acked(id);
        }
        assert_eq!(l.received("a"), 1);
        assert_eq!(l.received("b"), 1);
        assert_eq!(l.received("b"), 2);
        assert_eq!(l.received("zzz"), 0);
        l.finished("done");
        let t = l.tally();
        assert_eq!((t.sent, t.acked), (4, 4));
        assert_eq!(t.lost_ids, vec!["c".to_string()]);
        assert_eq!(t.doubled_ids, vec!["b".to_string()]);
        assert_eq!((t.unknown, t.in_flight_at_cutoff), (1, 1));
    }
}
