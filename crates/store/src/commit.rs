//! The one way state changes: a commit of decided events with the snapshots they produce,
//! guarded by the versions the decision was made from.

use crate::db::{DbError, Params, Step};
use crate::{Result, Store, StoreError};
use std::sync::Arc;
use switchboard_core::{
    Agent, AgentEvent, AgentId, Conversation, ConversationEvent, ConversationId, Presence, QueueId,
    Timestamp,
};

/// New events of one conversation and its snapshot after them.
pub struct ConversationWrite {
    /// `None` for a new conversation; otherwise the `head_seq` the decision saw (the commit
    /// fails with `Conflict` if the log has grown past it meanwhile).
    pub expected_head: Option<u64>,
    /// The snapshot after the events (its `head_seq` is the last event's number). Shared:
    /// the cache keeps it and the engine publishes it, with no copy for either.
    pub state: Arc<Conversation>,
    /// The events, numbered `expected_head + 1 ..= state.head_seq`.
    pub events: Vec<(u64, Timestamp, ConversationEvent)>,
    /// When the timers next have something to do for it.
    pub deadline: Option<Timestamp>,
    /// The hash of the customer's token (new conversations only).
    pub token_hash: Option<String>,
}

impl ConversationWrite {
    /// Events that only extend the log (messages) leave the snapshot as it was but for its
    /// head: the row is not rewritten, so a message writes its event and nothing else. The
    /// row's `head_seq` then lags the log; reads take the head from the log (`live.rs`), and
    /// the log's key `(conversation_id, seq)` still lets only one of two racing commits
    /// append `expected_head + 1`.
    fn is_log_only(&self) -> bool {
        self.expected_head.is_some()
            && !self.events.is_empty()
            && self.events.iter().all(|(_, _, e)| !e.changes_snapshot())
    }
}

/// An agent's snapshot after a decision, with its own new events.
pub struct AgentWrite {
    /// The row version the decision saw.
    pub expected_version: i64,
    pub state: Agent,
    pub events: Vec<(u64, Timestamp, AgentEvent)>,
    pub deadline: Option<Timestamp>,
    /// A queue the agent must still serve for the commit to go through (`Conflict`
    /// otherwise): an offer of a chat in that queue. Routing reads the queue's agents before
    /// it decides; an administrator may take the agent out of the queue meanwhile, and the
    /// membership is not part of the agent's snapshot, so its version cannot tell.
    pub serving: Option<QueueId>,
}

/// The first answer to a client's command, kept so a retry gets it again.
pub struct CommandRecord {
    pub scope: String,
    pub client_id: String,
    pub fingerprint: String,
    pub response: String,
}

/// A socket's row in `connections` (which node holds it, for whom), written by the commit of
/// the event that says it connected or left: the row and the event are then never one
/// without the other (a node that dies between two writes left either a row nobody's event
/// named or an event no sweep would undo), and a connect or a disconnect is one write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionChange {
    Opened {
        id: String,
        node: String,
        agent: Option<AgentId>,
        conversation: Option<ConversationId>,
    },
    Closed {
        id: String,
    },
}

/// Everything one decision writes, atomically.
pub struct Commit {
    pub now: Timestamp,
    pub conversation: Option<ConversationWrite>,
    pub agents: Vec<AgentWrite>,
    pub command: Option<CommandRecord>,
    pub connection: Option<ConnectionChange>,
}

impl Commit {
    /// A commit that writes nothing (a placeholder while one is in flight).
    pub fn empty(now: Timestamp) -> Commit {
        Commit {
            now,
            conversation: None,
            agents: Vec::new(),
            command: None,
            connection: None,
        }
    }
}

fn presence_name(p: &Presence) -> &'static str {
    match p {
        Presence::Available => "available",
        Presence::Idle { .. } => "idle",
        Presence::Rona => "rona",
        Presence::LoggedOut => "logged_out",
    }
}

impl Store {
    /// Writes the commit in one transaction, or nothing. `Conflict` if any snapshot changed
    /// since it was read, or the command id was taken meanwhile (the caller then looks it up).
    /// The command record is taken out of `commit` (a commit is written once).
    ///
    /// On SQLite, commits are grouped: the writer takes every write waiting, runs each under
    /// its own savepoint (a commit that loses a race is undone alone) and makes them durable
    /// with one transaction — one fsync for many commits (see `sqlite.rs`).
    pub async fn commit(&self, commit: &mut Commit) -> Result<()> {
        // A fixed lock order (agents by id, then the conversation) keeps two writers on
        // PostgreSQL from deadlocking on each other.
        commit.agents.sort_by_key(|a| a.state.id);
        // Moved into the statements' parameters rather than copied.
        let command = commit.command.take();
        let steps = steps(commit, command)?;
        self.write(steps).await.map_err(DbError::settle)?;
        if let Some(cache) = &self.snapshots {
            if let Some(c) = &commit.conversation {
                cache.keep_shared_conversation(c.state.clone());
                if let (None, Some(token)) = (c.expected_head, &c.token_hash) {
                    cache.keep_token(token, c.state.id);
                }
            }
            for a in &commit.agents {
                cache.keep_agent(a.expected_version + 1, &a.state);
            }
        }
        Ok(())
    }
}

/// The statements of one commit (`command`: the commit's own, taken out of it).
fn steps(commit: &Commit, command: Option<CommandRecord>) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let log_only = (commit.conversation.as_ref()).is_some_and(ConversationWrite::is_log_only);
    // A message's command id is kept on its event row: a message then writes one row, not
    // two (the `commands` row went into three B-trees: the table, its key and its `at`
    // index; the id on the event, into one). Any other command's id goes into `commands`.
    let (mut on_event, in_commands) = match command {
        Some(cmd) if log_only => (Some(cmd), None),
        other => (None, other),
    };
    if let Some(cmd) = in_commands {
        // First, so that the transaction takes the write lock at once. An id is taken if
        // either place has it (a message's id cannot be reused for another command, nor the
        // other way round). On PostgreSQL the two checks do not see each other's uncommitted
        // rows: one id sent at the same moment as a message and as another command may be
        // taken twice. Only a client reusing ids at random does that; a retry is the same
        // command, checked against the same place.
        steps.push(
            Step::new(
                "INSERT INTO commands (scope, client_id, fingerprint, response, at)
                 SELECT $1, $2, $3, $4, $5
                 WHERE NOT EXISTS (SELECT 1 FROM events WHERE client_scope = $1 AND client_id = $2)",
                Params::default()
                    .bind(&cmd.scope)
                    .bind(&cmd.client_id)
                    .bind(cmd.fingerprint)
                    .bind(cmd.response)
                    .bind(commit.now.0),
            )
            .expect_one()
            .undone_by(Step::new(
                "DELETE FROM commands WHERE scope = $1 AND client_id = $2",
                Params::default().bind(cmd.scope).bind(cmd.client_id),
            )),
        );
    }
    for a in &commit.agents {
        let s = &a.state;
        steps.push(
            Step::new(
                "UPDATE agents SET version = version + 1, state = $1, presence = $2, connected = $3,
                    has_offer = $4, load = $5, capacity = $6, open_chats = $7, free_since = $8,
                    deadline_at = $9
                 WHERE id = $10 AND version = $11",
                Params::default()
                    .bind(to_json(s)?)
                    .bind(presence_name(&s.presence))
                    .bind(s.is_connected() as i64)
                    .bind(s.offer.is_some() as i64)
                    .bind(s.load() as i64)
                    .bind(s.capacity as i64)
                    .bind(s.chats.len() as i64)
                    .bind(s.free_since.0)
                    .bind(a.deadline.map(|t| t.0))
                    .bind(s.id.to_string())
                    .bind(a.expected_version),
            )
            .expect_one(),
        );
        if let Some(queue) = a.serving {
            // Matches the membership's row or nothing; on PostgreSQL it also locks that row,
            // so a removal committing meanwhile waits for this commit or makes it fail.
            steps.push(
                Step::new(
                    "UPDATE queue_agents SET agent_id = agent_id WHERE queue_id = $1 AND agent_id = $2",
                    Params::default()
                        .bind(queue.to_string())
                        .bind(s.id.to_string()),
                )
                .expect_one(),
            );
        }
        for (seq, at, event) in &a.events {
            steps.push(Step::new(
                "INSERT INTO agent_events (agent_id, seq, at, body) VALUES ($1, $2, $3, $4)",
                Params::default()
                    .bind(s.id.to_string())
                    .bind(*seq as i64)
                    .bind(at.0)
                    .bind(to_json(event)?),
            ));
        }
    }
    if let Some(c) = &commit.conversation {
        let s = &c.state;
        if let Some(head) = c.expected_head {
            // That key guards only events numbered on from the head the decision saw; any
            // other numbering was decided on some other log than the stored one.
            let numbered_on =
                (c.events.iter().enumerate()).all(|(i, (seq, _, _))| *seq == head + 1 + i as u64);
            if !numbered_on {
                return Err(StoreError::Conflict);
            }
        }
        if !log_only {
            snapshot_steps(&mut steps, commit.now, c)?;
        }
        for (i, (seq, at, event)) in c.events.iter().enumerate() {
            let params = Params::default()
                .bind(s.id.to_string())
                .bind(*seq as i64)
                .bind(at.0)
                .bind(event.kind())
                .bind(to_json(event)?);
            let step = if log_only && i == 0 {
                // No row update says that the conversation exists: this does.
                match on_event.take() {
                    None => Step::new(
                        "INSERT INTO events (conversation_id, seq, at, kind, body)
                         SELECT $1, $2, $3, $4, $5
                         WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1)",
                        params,
                    ),
                    // The id is taken if an event has it (the unique index) or `commands`.
                    Some(cmd) => Step::new(
                        "INSERT INTO events (conversation_id, seq, at, kind, body,
                                             client_scope, client_id, fingerprint, response)
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
                         WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1)
                           AND NOT EXISTS (SELECT 1 FROM commands WHERE scope = $6 AND client_id = $7)",
                        params
                            .bind(cmd.scope)
                            .bind(cmd.client_id)
                            .bind(cmd.fingerprint)
                            .bind(cmd.response),
                    ),
                }
                .expect_one()
            } else {
                Step::new(
                    "INSERT INTO events (conversation_id, seq, at, kind, body) VALUES ($1, $2, $3, $4, $5)",
                    params,
                )
            };
            // A message's write is its events (the first with its command id): with undo
            // steps for them the SQLite writer runs it without a savepoint. Other writes
            // update a row, which has no undo, and keep the savepoint.
            steps.push(if log_only {
                step.undone_by(Step::new(
                    "DELETE FROM events WHERE conversation_id = $1 AND seq = $2",
                    Params::default().bind(s.id.to_string()).bind(*seq as i64),
                ))
            } else {
                step
            });
        }
    }
    if let Some(change) = &commit.connection {
        steps.push(connection_step(change, commit.now));
    }
    // Each statement of a commit inserts, updates or deletes one row, by its key.
    Ok(steps.into_iter().map(Step::one_row).collect())
}

fn connection_step(change: &ConnectionChange, now: Timestamp) -> Step {
    match change {
        ConnectionChange::Opened {
            id,
            node,
            agent,
            conversation,
        } => Step::new(
            "INSERT INTO connections (id, node_id, agent_id, conversation_id, opened_at)
             VALUES ($1, $2, $3, $4, $5)",
            Params::default()
                .bind(id)
                .bind(node)
                .bind(agent.map(|a| a.to_string()))
                .bind(conversation.map(|c| c.to_string()))
                .bind(now.0),
        ),
        // Gone already (a node's sweep, or a repeat) is fine: the socket is closed either way.
        ConnectionChange::Closed { id } => Step::new(
            "DELETE FROM connections WHERE id = $1",
            Params::default().bind(id),
        ),
    }
}

/// Writes the conversation's row: inserts it, or updates it if no event was appended after
/// the head the decision saw (the row's own `head_seq` may be older: see
/// `ConversationWrite::is_log_only`).
fn snapshot_steps(steps: &mut Vec<Step>, now: Timestamp, c: &ConversationWrite) -> Result<()> {
    let s = &c.state;
    let state = to_json(s)?;
    steps.push(match c.expected_head {
        None => Step::new(
            "INSERT INTO conversations (id, asset_id, queue_id, status, head_seq, state,
                    priority, front_at, arrived_at, token_hash, identity, deadline_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            Params::default()
                .bind(s.id.to_string())
                .bind(s.asset_id.to_string())
                .bind(s.queue_id.to_string())
                .bind(s.status.name())
                .bind(s.head_seq as i64)
                .bind(state)
                .bind(s.priority as i64)
                .bind(s.front_at.0)
                .bind(s.arrived_at.0)
                .bind(c.token_hash.clone().unwrap_or_else(|| s.id.to_string()))
                .bind(s.customer.identity.clone())
                .bind(c.deadline.map(|t| t.0))
                .bind(now.0),
        ),
        // Most commits that change the snapshot (a connection, an accept) leave the chat
        // where it is: its place columns are written only when they change, so that their
        // indexes are not rewritten (and their pages not written again) each time.
        Some(expected) => Step::new(
            "UPDATE conversations SET head_seq = $1, state = $2, deadline_at = $3, updated_at = $4
                 WHERE id = $5 AND head_seq <= $6
                   AND NOT EXISTS (SELECT 1 FROM events WHERE conversation_id = $5 AND seq > $6)",
            Params::default()
                .bind(s.head_seq as i64)
                .bind(state)
                .bind(c.deadline.map(|t| t.0))
                .bind(now.0)
                .bind(s.id.to_string())
                .bind(expected as i64),
        )
        .expect_one(),
    });
    if c.expected_head.is_some() {
        steps.push(Step::new(
            "UPDATE conversations SET queue_id = $1, status = $2, priority = $3, front_at = $4
                 WHERE id = $5
                   AND (queue_id <> $1 OR status <> $2 OR priority <> $3 OR front_at <> $4)",
            Params::default()
                .bind(s.queue_id.to_string())
                .bind(s.status.name())
                .bind(s.priority as i64)
                .bind(s.front_at.0)
                .bind(s.id.to_string()),
        ));
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(StoreError::corrupt)
}
