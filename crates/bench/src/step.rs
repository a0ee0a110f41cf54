//! What one step of a scenario records while it runs: latencies, per-second message counts,
//! the ledger, errors. Every client of the step writes into the same `StepStats`.

use crate::ledger::Ledger;
use crate::stats::Samples;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts per second since the step started.
pub struct Timeline {
    start: Instant,
    buckets: Vec<AtomicU64>,
}

impl Timeline {
    fn new(start: Instant, secs: u64) -> Self {
        Timeline {
            start,
            buckets: (0..secs + 2).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn tick(&self) {
        let i = self.start.elapsed().as_secs() as usize;
        if let Some(b) = self.buckets.get(i.min(self.buckets.len() - 1)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Mean count per second over seconds `from..to`.
    pub fn mean(&self, from: u64, to: u64) -> f64 {
        let to = (to as usize).min(self.buckets.len());
        let from = (from as usize).min(to);
        if to == from {
            return 0.0;
        }
        let sum: u64 = self.buckets[from..to]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum();
        sum as f64 / (to - from) as f64
    }

    pub fn peak(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct StepStats {
    pub name: String,
    pub started: Instant,
    /// Clients of this step give up at this instant.
    pub deadline: Instant,
    pub customer_to_agent: Samples,
    pub agent_to_customer: Samples,
    pub offer_with_room: Samples,
    pub offer_queued: Samples,
    pub ack_message: Samples,
    pub ack_other: Samples,
    pub reconnect: Samples,
    pub ledger: Ledger,
    /// Messages the server acknowledged (in) and message events clients received (out).
    pub msgs_in: Timeline,
    pub msgs_out: Timeline,
    pub chats_started: Counter,
    pub chats_finished: Counter,
    pub chats_wrapped: Counter,
    pub skipped_at_cap: Counter,
    pub reply_timeouts: Counter,
    pub reconnects: Counter,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl StepStats {
    pub fn new(name: &str, arrivals: Duration, drain: Duration) -> Self {
        let started = Instant::now();
        let secs = (arrivals + drain).as_secs() + 1;
        StepStats {
            name: name.to_string(),
            started,
            deadline: started + arrivals + drain,
            customer_to_agent: Samples::default(),
            agent_to_customer: Samples::default(),
            offer_with_room: Samples::default(),
            offer_queued: Samples::default(),
            ack_message: Samples::default(),
            ack_other: Samples::default(),
            reconnect: Samples::default(),
            ledger: Ledger::default(),
            msgs_in: Timeline::new(started, secs),
            msgs_out: Timeline::new(started, secs),
            chats_started: Counter::default(),
            chats_finished: Counter::default(),
            chats_wrapped: Counter::default(),
            skipped_at_cap: Counter::default(),
            reply_timeouts: Counter::default(),
            reconnects: Counter::default(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn error(&self, code: &str) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(code.to_string())
            .or_default() += 1;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().expect("errors lock").clone()
    }
}
