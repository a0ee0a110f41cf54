//! The engine: command → load state → core decides → store commits (if nothing changed
//! meanwhile) → publish to connections → follow-ups (routing, timers). It holds no state
//! that a decision depends on: two engines sharing one database stay correct, because every
//! commit is conditional on the versions the decision was made from.

mod connections;
mod conversation;
mod line;
mod routing;
mod start;
mod timers;

pub use start::{StartRequest, Started};

use crate::bus::{Bus, NoticeBody, TopicName};
use crate::clock::SharedClock;
use crate::config::ConfigCache;
use crate::hub::{Hub, Item, Topic};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use switchboard_core::decide::{agent_next_deadline, decide_agent, AgentCommand};
use switchboard_core::*;
use switchboard_store::{AgentWrite, CommandRecord, Commit, ConnectionChange, Store, StoreError};
use thiserror::Error;
use tokio::sync::Notify;

/// How often a lost race is retried before the command is answered `busy`.
const MAX_ATTEMPTS: usize = 64;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("this command id was already used for a different command")]
    IdReused,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("the server is busy; retry the command with the same id")]
    Busy,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// A client's command id, scoped to its sender, with a fingerprint of the command.
#[derive(Clone, Debug)]
pub struct ClientId {
    pub scope: String,
    pub id: String,
    pub fingerprint: String,
}

/// What a command came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or nothing to do); `seq` of the last event written to a conversation, if any.
    Done { seq: Option<u64> },
    /// A repeat of a command already done: its first answer, as sent then.
    Replayed(String),
}

pub struct Engine {
    pub store: Store,
    pub clock: SharedClock,
    pub hub: Arc<Hub>,
    pub config: ConfigCache,
    /// This process's id among the nodes sharing the database.
    pub node_id: String,
    timer_wake: Notify,
    /// The deadline (ms) the timers sleep until; 0 while they are awake. A commit wakes
    /// them only with a deadline sooner than this, not on every commit.
    timers_asleep_until: AtomicI64,
    accepting: AtomicBool,
    /// Queues with a routing pass running (true: run another when it ends).
    routing: Mutex<HashMap<QueueId, bool>>,
    /// The other nodes, in a cluster.
    bus: OnceLock<Bus>,
    /// Turns for commands on one conversation (striped by its id).
    turns: Box<[tokio::sync::Mutex<()>]>,
    /// Recently read queue lines, for customers' places in line.
    lines: line::Lines,
    /// Agents picked for an offer on a chat's arrival whose commit is under way on this node.
    picked_on_arrival: Mutex<std::collections::HashSet<AgentId>>,
}

/// Stripes of conversation turns: enough that unrelated conversations rarely share one.
const TURNS: usize = 1024;

/// Waits a little longer after each lost race: the winner's commit may still be on its way
/// to disk.
pub(crate) async fn backoff(attempt: usize) {
    if attempt < 2 {
        tokio::task::yield_now().await;
    } else {
        let ms = (attempt as u64).min(20);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

pub type SharedEngine = Arc<Engine>;

impl Engine {
    pub fn new(store: Store, clock: SharedClock) -> SharedEngine {
        Arc::new(Engine {
            config: ConfigCache::new(store.clone()),
            store,
            clock,
            hub: Arc::new(Hub::default()),
            node_id: uuid::Uuid::now_v7().to_string(),
            timer_wake: Notify::new(),
            timers_asleep_until: AtomicI64::new(0),
            accepting: AtomicBool::new(true),
            routing: Mutex::new(HashMap::new()),
            bus: OnceLock::new(),
            turns: (0..TURNS).map(|_| tokio::sync::Mutex::new(())).collect(),
            lines: line::Lines::default(),
            picked_on_arrival: Mutex::default(),
        })
    }

    /// Joins a cluster: what this node commits is told to the others, and theirs to this
    /// node's connections.
    pub async fn attach_bus(self: &Arc<Self>, bus: Bus) -> Result<(), String> {
        let engine = Arc::downgrade(self);
        bus.listen(move |body| {
            if let Some(engine) = engine.upgrade() {
                if let NoticeBody::Conversation { lines, .. } = &body {
                    lines.iter().for_each(|q| engine.line_changed(*q));
                }
                let config = engine.config.current();
                crate::bus::deliver(&engine.hub, config.agent_masker(), body);
            }
        })
        .await?;
        self.bus
            .set(bus)
            .map_err(|_| "the bus is attached already".to_string())
    }

    /// Tells the other nodes, if any.
    pub(crate) fn tell_cluster(&self, body: impl FnOnce() -> NoticeBody) {
        if let Some(bus) = self.bus.get() {
            bus.publish(body());
        }
    }

    /// A typing indicator for these topics, on every node.
    pub fn publish_typing(
        &self,
        topics: Vec<TopicName>,
        conversation_id: ConversationId,
        from_customer: bool,
        frame: crate::hub::Frame,
    ) {
        let item = Item::Typing {
            conversation_id,
            from_customer,
            frame: frame.clone(),
        };
        for t in &topics {
            self.hub.publish((*t).into(), item.clone());
        }
        self.tell_cluster(|| NoticeBody::Typing {
            topics,
            conversation_id,
            from_customer,
            frame: frame.to_string(),
        });
    }

    /// Closes an agent's desktop connections on every node.
    pub fn close_agent(&self, agent: AgentId, reason: &'static str) {
        self.hub.publish(Topic::Agent(agent), Item::Close(reason));
        self.tell_cluster(|| NoticeBody::Close {
            agent,
            reason: reason.to_string(),
        });
    }

    pub(crate) fn conversation_turn(&self, cid: ConversationId) -> &tokio::sync::Mutex<()> {
        let n = cid.as_uuid().as_u128();
        &self.turns[((n ^ (n >> 64)) as usize) % TURNS]
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Stop taking new work (SIGTERM): commands are refused with `shutting_down`.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    fn check_accepting(&self) -> Result<(), EngineError> {
        if self.is_accepting() {
            Ok(())
        } else {
            Err(EngineError::ShuttingDown)
        }
    }

    /// A command that changed nothing is still recorded under its id, so that a repeat gets
    /// this answer (not a second evaluation on a state that may have changed since). A
    /// socket's leaving that changed nothing (its connection was no longer in the snapshot)
    /// still removes its row; a connect that changed nothing was written already.
    pub(crate) async fn record_no_op(
        &self,
        client: Option<&ClientId>,
        now: Timestamp,
        connection: Option<ConnectionChange>,
    ) -> Result<Outcome, EngineError> {
        let connection = connection.filter(|c| matches!(c, ConnectionChange::Closed { .. }));
        if client.is_some() || connection.is_some() {
            let mut commit = Commit {
                now,
                conversation: None,
                agents: vec![],
                command: client.map(|c| record(c, ack_json(&c.id, None))),
                connection,
            };
            self.commit(&mut commit).await?;
        }
        Ok(Outcome::Done { seq: None })
    }

    /// A command's outcome, unless it was a repeat: a refusal may only mean that the first
    /// try already did it, and then the first answer is the answer.
    pub(crate) async fn unless_repeat(
        &self,
        client: Option<&ClientId>,
        outcome: Result<Outcome, EngineError>,
    ) -> Result<Outcome, EngineError> {
        // (A no-op is recorded under its id, and a taken id surfaces as a lost race: only a
        // refusal needs the lookup.)
        let may_be_repeat = matches!(outcome, Err(EngineError::Domain(_))) && client.is_some();
        if may_be_repeat {
            if let Some(replayed) = self.replay(client).await? {
                return Ok(replayed);
            }
        }
        outcome
    }

    /// The first answer to a repeated command id, or an error if the id was used for another
    /// command. `None`: the id is new.
    pub async fn replay(&self, client: Option<&ClientId>) -> Result<Option<Outcome>, EngineError> {
        let Some(c) = client else { return Ok(None) };
        match self.store.command(&c.scope, &c.id).await? {
            Some((fp, response)) if fp == c.fingerprint => Ok(Some(Outcome::Replayed(response))),
            Some(_) => Err(EngineError::IdReused),
            None => Ok(None),
        }
    }

    /// Runs a command about an agent alone (presence, sign-in/out, connections, capacity).
    pub async fn agent_command(
        self: &Arc<Self>,
        agent: AgentId,
        client: Option<&ClientId>,
        command: AgentCommand,
    ) -> Result<Outcome, EngineError> {
        self.check_accepting()?;
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(replayed) = self.replay(client).await? {
                return Ok(replayed);
            }
            let row = self
                .store
                .agent(agent)
                .await?
                .ok_or(EngineError::NotFound("no such agent"))?;
            let config = self.config.get().await?;
            let policy = config.base_policy();
            let now = self.now();
            let events = decide_agent(&row.state, &command, now, &policy)?;
            let connection = self.agent_connection(agent, &command);
            if events.is_empty() {
                match self.record_no_op(client, now, connection).await {
                    Err(EngineError::Store(StoreError::Conflict)) => {
                        backoff(attempt).await;
                        continue;
                    }
                    other => return other,
                }
            }
            let mut state = row.state.clone();
            let mut numbered = Vec::with_capacity(events.len());
            for e in events {
                state.apply(&e, now);
                numbered.push((state.log_seq, now, e));
            }
            let response = client.map(|c| ack_json(&c.id, None));
            let mut commit = Commit {
                now,
                conversation: None,
                agents: vec![AgentWrite {
                    expected_version: row.version,
                    deadline: agent_next_deadline(&state, &policy),
                    state: state.clone(),
                    events: numbered,
                    serving: None,
                }],
                command: client.zip(response).map(|(c, r)| record(c, r)),
                connection,
            };
            match self.commit(&mut commit).await {
                Ok(()) => {
                    self.after_agent_change(&row.state, Arc::new(state), row.version + 1);
                    return Ok(Outcome::Done { seq: None });
                }
                Err(StoreError::Conflict) => {
                    backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Busy)
    }

    /// Changes the name an agent's chats show from now on (an administrator renamed the
    /// account): offers, "joined" notices and message captions take it from the agent's
    /// snapshot.
    pub async fn rename_agent(
        self: &Arc<Self>,
        agent: AgentId,
        name: &str,
    ) -> Result<(), EngineError> {
        for attempt in 0..MAX_ATTEMPTS {
            let row = self
                .store
                .agent(agent)
                .await?
                .ok_or(EngineError::NotFound("no such agent"))?;
            if row.state.name == name {
                return Ok(());
            }
            let mut state = row.state.clone();
            state.name = name.to_string();
            let policy = self.config.get().await?.base_policy().clone();
            let mut commit = Commit {
                now: self.now(),
                conversation: None,
                agents: vec![AgentWrite {
                    expected_version: row.version,
                    deadline: agent_next_deadline(&state, &policy),
                    state: state.clone(),
                    events: vec![],
                    serving: None,
                }],
                command: None,
                connection: None,
            };
            match self.commit(&mut commit).await {
                Ok(()) => {
                    self.after_agent_change(&row.state, Arc::new(state), row.version + 1);
                    return Ok(());
                }
                Err(StoreError::Conflict) => {
                    backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Busy)
    }

    /// Publishes an agent's new snapshot and starts what its change calls for.
    /// `version`: the agent row's version after the commit.
    fn after_agent_change(self: &Arc<Self>, before: &Agent, after: Arc<Agent>, version: i64) {
        let room_opened = after.can_take_offer() && !before.can_take_offer();
        let agent = after.id;
        self.hub
            .publish(Topic::Agent(agent), Item::Agent(after.clone(), version));
        self.tell_cluster(|| NoticeBody::Agent {
            agent: (*after).clone(),
            version,
        });
        if room_opened {
            self.route_agent(agent);
        }
    }

    /// Commits, then wakes the timers if the commit set a deadline sooner than the one they
    /// sleep until.
    pub(crate) async fn commit(&self, commit: &mut Commit) -> Result<(), StoreError> {
        self.store.commit(commit).await?;
        let soonest = commit
            .conversation
            .iter()
            .filter_map(|c| c.deadline)
            .chain(commit.agents.iter().filter_map(|a| a.deadline))
            .min();
        if let Some(at) = soonest {
            if at.0 < self.timers_asleep_until.load(Ordering::SeqCst) {
                self.timer_wake.notify_one();
            }
        }
        Ok(())
    }
}

pub(crate) fn ack_json(id: &str, seq: Option<u64>) -> String {
    crate::wire::ServerFrame::Ack {
        id: id.to_string(),
        seq,
    }
    .to_json()
}

fn record(c: &ClientId, response: String) -> CommandRecord {
    CommandRecord {
        scope: c.scope.clone(),
        client_id: c.id.clone(),
        fingerprint: c.fingerprint.clone(),
        response,
    }
}
