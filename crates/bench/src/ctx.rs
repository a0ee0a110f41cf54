//! What every client of a run shares: the server's address, the fixture, the current step,
//! the bench's view of agent room, the offer book, the connection cap and the signals.

use crate::clock::now_us;
use crate::conn::Conns;
use crate::options::Options;
use crate::setup::Fixture;
use crate::step::StepStats;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub struct Ctx {
    pub opts: Options,
    pub http: reqwest::Client,
    /// `http://host:port`
    pub base: String,
    /// `ws://host:port`
    pub ws_base: String,
    pub fixture: Fixture,
    step: Mutex<Arc<StepStats>>,
    pub room: Room,
    pub offers: OfferBook,
    pub conns: Arc<Conns>,
    /// Bumped to make a fraction of the clients drop their sockets and resume.
    pub storm: watch::Sender<u64>,
    /// Set when the run is over: agents sign off.
    pub stop: watch::Sender<bool>,
    pub chat_no: AtomicU64,
    pub plant: Plant,
    /// This run's mark in agents' command ids: an agent's ids are its own across all its
    /// chats and kept by the server for a day, so a later run against the same server (whose
    /// agents are reused) must not send the ids of an earlier one.
    pub run: String,
}

impl Ctx {
    pub fn new(opts: Options, base: String, fixture: Fixture) -> Arc<Self> {
        let ws_base = base.replacen("http", "ws", 1);
        let conns = Conns::new(opts.max_connections);
        let plant = if opts.self_test {
            Plant::self_test()
        } else {
            Plant::default()
        };
        Arc::new(Ctx {
            http: reqwest::Client::new(),
            base,
            ws_base,
            fixture,
            step: Mutex::new(Arc::new(StepStats::new(
                "setup",
                std::time::Duration::from_secs(1),
                std::time::Duration::ZERO,
            ))),
            room: Room::default(),
            offers: OfferBook::default(),
            conns,
            storm: watch::channel(0).0,
            stop: watch::channel(false).0,
            chat_no: AtomicU64::new(0),
            plant,
            run: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
            opts,
        })
    }

    pub fn step(&self) -> Arc<StepStats> {
        self.step.lock().expect("step lock").clone()
    }

    pub fn set_step(&self, s: Arc<StepStats>) {
        *self.step.lock().expect("step lock") = s;
    }

    /// A think time: uniform in 0.5..1.5 of the mean.
    pub fn think(&self) -> std::time::Duration {
        let mean = self.opts.think_ms as f64;
        let f: f64 = 0.5 + rand::random::<f64>();
        std::time::Duration::from_micros((mean * f * 1000.0) as u64)
    }
}

/// The bench's running view of whether some agent has room: free slots (capacity minus
/// offers, chats and wrap-ups) and chats waiting for an offer. Near the boundary it can be
/// off by the few chats in flight; it only decides which histogram an offer goes to.
#[derive(Default)]
pub struct Room {
    free: AtomicI64,
    waiting: AtomicI64,
}

impl Room {
    pub fn add_free(&self, n: i64) {
        self.free.fetch_add(n, Ordering::AcqRel);
    }

    /// A chat arrives: did some agent have room for it?
    pub fn arrive(&self) -> bool {
        let room = self.free.load(Ordering::Acquire) - self.waiting.load(Ordering::Acquire) > 0;
        self.waiting.fetch_add(1, Ordering::AcqRel);
        room
    }

    pub fn start_failed(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn offered(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.free.fetch_sub(1, Ordering::AcqRel);
    }

    /// An offer went away unaccepted: the chat waits again, the agent has the slot back.
    pub fn requeued(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.free.fetch_add(1, Ordering::AcqRel);
    }

    pub fn wrapped_up(&self) {
        self.free.fetch_add(1, Ordering::AcqRel);
    }
}

enum Half {
    Arrived {
        at_us: u64,
        room: bool,
        step: Arc<StepStats>,
    },
    Offered {
        at_us: u64,
    },
    Done,
}

/// Joins a chat's arrival (the customer's POST) with its first offer on an agent's socket,
/// whichever the bench hears of first.
#[derive(Default)]
pub struct OfferBook(Mutex<HashMap<String, Half>>);

impl OfferBook {
    pub fn arrived(&self, cid: &str, at_us: u64, room: bool, step: &Arc<StepStats>) {
        let mut map = self.0.lock().expect("offers lock");
        match map.remove(cid) {
            Some(Half::Offered { at_us: offered }) => {
                record(step, room, offered.saturating_sub(at_us));
                map.insert(cid.to_string(), Half::Done);
            }
            _ => {
                map.insert(
                    cid.to_string(),
                    Half::Arrived {
                        at_us,
                        room,
                        step: step.clone(),
                    },
                );
            }
        }
    }

    pub fn offered(&self, cid: &str) {
        let now = now_us();
        let mut map = self.0.lock().expect("offers lock");
        match map.remove(cid) {
            Some(Half::Arrived { at_us, room, step }) => {
                record(&step, room, now.saturating_sub(at_us));
                map.insert(cid.to_string(), Half::Done);
            }
            Some(other @ (Half::Done | Half::Offered { .. })) => {
                map.insert(cid.to_string(), other);
            }
            None => {
                map.insert(cid.to_string(), Half::Offered { at_us: now });
            }
        }
    }

    /// Forget a finished chat.
    pub fn forget(&self, cid: &str) {
        self.0.lock().expect("offers lock").remove(cid);
    }
}

fn record(step: &StepStats, room: bool, us: u64) {
    if room {
        step.offer_with_room.record_us(us);
    } else {
        step.offer_queued.record_us(us);
    }
}

/// Faults planted by `--self-test`: the agent's reader drops one customer message, and the
/// customer sends another one twice (under two command ids, so the server stores it twice).
#[derive(Default)]
pub struct Plant {
    pub drop_id: Option<String>,
    pub duplicate_id: Option<String>,
    dropped: std::sync::atomic::AtomicBool,
}

impl Plant {
    fn self_test() -> Self {
        Plant {
            drop_id: Some(crate::customer::message_id(0, 1)),
            duplicate_id: Some(crate::customer::message_id(0, 2)),
            dropped: Default::default(),
        }
    }

    /// Should the agent's reader drop this message (once)?
    pub fn drops(&self, id: &str) -> bool {
        self.drop_id.as_deref() == Some(id) && !self.dropped.swap(true, Ordering::AcqRel)
    }
}
