//! Reading live state: snapshots, logs, the line in each queue, who can take a chat, and
//! what the timers owe.

use crate::catalog::parse;
use crate::db::{Params, Row};
use crate::{Result, Store, StoreError};
use std::sync::Arc;
use switchboard_core::{
    Agent, AgentEvent, AgentId, Conversation, ConversationEvent, ConversationId, QueueId, Timestamp,
};

/// The page in which a socket catches up on a conversation's log: small enough to be read
/// on the asking thread (`Store::events_after`), and most chats' whole log when it opens.
pub const LOG_PAGE: u32 = 64;

/// An event as stored in a conversation's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub at: Timestamp,
    pub event: ConversationEvent,
}

/// An agent's snapshot with the row version that guards it.
#[derive(Clone, Debug)]
pub struct AgentRow {
    pub version: i64,
    pub state: Agent,
}

fn id<T: std::str::FromStr>(text: String) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(StoreError::corrupt)
}

/// A query of conversations' snapshots as of their log (`rest` follows `FROM conversations c`):
/// the stored state, and the last `seq` in its log, which is newer when messages were
/// appended after the row was written (they change nothing but the head, so the row is not
/// rewritten for them: `commit.rs`). Read with [`snapshot`].
macro_rules! snapshot_query {
    ($rest:literal) => {
        concat!(
            "SELECT c.state, (SELECT MAX(e.seq) FROM events e WHERE e.conversation_id = c.id)
             FROM conversations c ",
            $rest
        )
    };
}

fn snapshot(row: &Row) -> Result<Conversation> {
    let mut c: Conversation = parse(&row.try_get::<String>(0)?)?;
    if let Some(head) = row.try_get::<Option<i64>>(1)? {
        c.head_seq = c.head_seq.max(head as u64);
    }
    Ok(c)
}

impl Store {
    pub async fn conversation(&self, cid: ConversationId) -> Result<Option<Conversation>> {
        Ok(self
            .conversation_shared(cid)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    /// The conversation's snapshot, shared with the cache where there is one (a connection
    /// that keeps it then holds no copy of its own).
    pub async fn conversation_shared(
        &self,
        cid: ConversationId,
    ) -> Result<Option<Arc<Conversation>>> {
        if let Some(c) = self.snapshots.as_ref().and_then(|s| s.conversation(cid)) {
            return Ok(Some(c));
        }
        let row = self
            .fetch_few_optional(snapshot_query!("WHERE c.id = $1"), |q| {
                q.bind(cid.to_string())
            })
            .await?;
        let found: Option<Conversation> = row.map(|r| snapshot(&r)).transpose()?;
        Ok(found.map(|c| match &self.snapshots {
            Some(cache) => cache.keep_conversation(c),
            None => Arc::new(c),
        }))
    }

    /// The conversation a customer's token (hashed) opens.
    pub async fn conversation_by_token(&self, token_hash: &str) -> Result<Option<ConversationId>> {
        let cache = self.snapshots.as_ref();
        if let Some(found) = cache.and_then(|c| c.conversation_of_token(token_hash)) {
            return Ok(Some(found));
        }
        let row = self
            .fetch_few_optional("SELECT id FROM conversations WHERE token_hash = $1", |q| {
                q.bind(token_hash.to_string())
            })
            .await?;
        let found = row.map(|r| id(r.try_get::<String>(0)?)).transpose()?;
        if let (Some(cache), Some(found)) = (cache, found) {
            cache.keep_token(token_hash, found);
        }
        Ok(found)
    }

    /// Events of a conversation with `seq > after`, in order, at most `limit`. A page of at
    /// most [`LOG_PAGE`] is a small read (see `Store::fetch_few`).
    pub async fn events_after(
        &self,
        cid: ConversationId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let sql = "SELECT seq, at, body FROM events WHERE conversation_id = $1 AND seq > $2
                   ORDER BY seq LIMIT $3";
        let bind = |q: Params| {
            q.bind(cid.to_string())
                .bind(after as i64)
                .bind(limit as i64)
        };
        let rows = if limit <= LOG_PAGE {
            self.fetch_few(sql, bind).await?
        } else {
            self.fetch_all(sql, bind).await?
        };
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    seq: r.try_get::<i64>(0)? as u64,
                    at: Timestamp(r.try_get(1)?),
                    event: parse(&r.try_get::<String>(2)?)?,
                })
            })
            .collect()
    }

    pub async fn agent(&self, aid: AgentId) -> Result<Option<AgentRow>> {
        if let Some(a) = self.snapshots.as_ref().and_then(|s| s.agent(aid)) {
            return Ok(Some(a));
        }
        let row = self
            .fetch_few_optional("SELECT version, state FROM agents WHERE id = $1", |q| {
                q.bind(aid.to_string())
            })
            .await?;
        let found = row
            .map(|r| {
                Ok::<_, StoreError>(AgentRow {
                    version: r.try_get(0)?,
                    state: parse(&r.try_get::<String>(1)?)?,
                })
            })
            .transpose()?;
        if let (Some(cache), Some(a)) = (&self.snapshots, &found) {
            cache.keep_agent(a.version, &a.state);
        }
        Ok(found)
    }

    /// An agent's own log after `after`.
    pub async fn agent_events_after(
        &self,
        aid: AgentId,
        after: u64,
    ) -> Result<Vec<(u64, Timestamp, AgentEvent)>> {
        let rows = self
            .fetch_all(
                "SELECT seq, at, body FROM agent_events WHERE agent_id = $1 AND seq > $2 ORDER BY seq",
                |q| q.bind(aid.to_string()).bind(after as i64),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64>(0)? as u64,
                    Timestamp(r.try_get(1)?),
                    parse(&r.try_get::<String>(2)?)?,
                ))
            })
            .collect()
    }

    /// The chat to offer next to an agent, in any of the queues the agent serves: waiting,
    /// higher priority first, then the earliest place in line, then the id. One read for
    /// what is usually nothing (an agent getting room while no chat waits).
    pub async fn next_waiting_for(&self, agent: AgentId) -> Result<Option<ConversationId>> {
        let row = self
            .fetch_few_optional(
                "SELECT id FROM conversations WHERE status = 'waiting'
                   AND queue_id IN (SELECT queue_id FROM queue_agents WHERE agent_id = $1)
                 ORDER BY priority DESC, front_at, id LIMIT 1",
                |q| q.bind(agent.to_string()),
            )
            .await?;
        row.map(|r| id(r.try_get::<String>(0)?)).transpose()
    }

    /// The agents of a queue who could take an offer now, best first (fewest open chats,
    /// then free longest, then the id). The decider re-checks before an offer is written.
    pub async fn candidate_agents(&self, queue: QueueId, limit: u32) -> Result<Vec<AgentId>> {
        let rows = self
            .fetch_few(CANDIDATE_AGENTS, |q| {
                q.bind(queue.to_string()).bind(limit as i64)
            })
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// Conversations still in line (waiting or offered) in a queue, in line order.
    pub async fn queued_in(&self, queue: QueueId) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_all(
                "SELECT id FROM conversations WHERE queue_id = $1 AND status IN ('waiting', 'offered')
                 ORDER BY priority DESC, front_at, id",
                |q| q.bind(queue.to_string()),
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// Conversations whose deadline has come.
    pub async fn due_conversations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_all(
                "SELECT id FROM conversations WHERE deadline_at <= $1 ORDER BY deadline_at LIMIT $2",
                |q| q.bind(now.0).bind(limit as i64),
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// Agents whose deadline has come.
    pub async fn due_agents(&self, now: Timestamp, limit: u32) -> Result<Vec<AgentId>> {
        let rows = self
            .fetch_all(
                "SELECT id FROM agents WHERE deadline_at <= $1 ORDER BY deadline_at LIMIT $2",
                |q| q.bind(now.0).bind(limit as i64),
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// The earliest deadline of any conversation or agent.
    pub async fn next_deadline(&self) -> Result<Option<Timestamp>> {
        let row = self
            .fetch_optional(
                "SELECT MIN(t) FROM (
                    SELECT MIN(deadline_at) AS t FROM conversations
                    UNION ALL SELECT MIN(deadline_at) AS t FROM agents) d",
                |q| q,
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<i64>>(0))
            .transpose()?
            .flatten()
            .map(Timestamp))
    }

    /// Conversations of an asset that are not over (for interrupting them when it is deleted).
    pub async fn live_conversations_of_asset(&self, asset: &str) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_all(
                "SELECT id FROM conversations WHERE asset_id = $1
                   AND status IN ('waiting', 'offered', 'active', 'closed')",
                |q| q.bind(asset.to_string()),
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// Other conversations of the same verified customer, newest first: a customer's history
    /// is linked only through identities signed by a website, never through what a pre-chat
    /// form claims.
    pub async fn conversations_of_identity(
        &self,
        identity: &str,
        except: ConversationId,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let rows = self
            .fetch_all(
                snapshot_query!(
                    "WHERE c.identity = $1 AND c.id <> $2
                     ORDER BY c.arrived_at DESC, c.id DESC LIMIT $3"
                ),
                |q| {
                    q.bind(identity.to_string())
                        .bind(except.to_string())
                        .bind(limit as i64)
                },
            )
            .await?;
        rows.iter().map(snapshot).collect()
    }

    /// Agents who could take a transfer or an invitation now (Available, connected, no offer,
    /// room), by name: (id, name, load, capacity).
    pub async fn available_agents(&self) -> Result<Vec<(AgentId, String, i64, i64)>> {
        let rows = self
            .fetch_all(
                "SELECT id, name, load, capacity FROM agents
                 WHERE presence = 'available' AND connected = 1 AND has_offer = 0 AND load < capacity
                 ORDER BY name, id",
                |q| q,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    id(r.try_get::<String>(0)?)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                ))
            })
            .collect()
    }

    /// Conversations not over whose asset has been deleted (a chat that started on another
    /// node just as the asset was deleted): the timers interrupt them.
    pub async fn live_conversations_of_deleted_assets(&self) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_all(
                "SELECT c.id FROM conversations c
                 JOIN catalog a ON a.kind = 'asset' AND a.id = c.asset_id
                 WHERE a.deleted_at IS NOT NULL
                   AND c.status IN ('waiting', 'offered', 'active')",
                |q| q,
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// The first `limit` chats waiting in a queue, in line order.
    pub async fn waiting_in(&self, queue: QueueId, limit: u32) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_few(
                "SELECT id FROM conversations WHERE queue_id = $1 AND status = 'waiting'
                 ORDER BY priority DESC, front_at, id LIMIT $2",
                |q| q.bind(queue.to_string()).bind(limit as i64),
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// How many chats of a queue are not over (waiting, offered, answered or closed): any of
    /// them may still come back to the queue.
    pub async fn open_chats_of_queue(&self, queue: QueueId) -> Result<u64> {
        let row = self
            .fetch_optional(
                "SELECT COUNT(*) FROM conversations WHERE queue_id = $1
                   AND status IN ('waiting', 'offered', 'active', 'closed')",
                |q| q.bind(queue.to_string()),
            )
            .await?;
        Ok(row.map(|r| r.try_get::<i64>(0)).transpose()?.unwrap_or(0) as u64)
    }

    /// Conversations that have a deadline (for recomputing them when the rules change).
    pub async fn conversations_with_deadline(&self) -> Result<Vec<ConversationId>> {
        let rows = self
            .fetch_all(
                "SELECT id FROM conversations WHERE deadline_at IS NOT NULL",
                |q| q,
            )
            .await?;
        rows.into_iter()
            .map(|r| id(r.try_get::<String>(0)?))
            .collect()
    }

    /// Agents with a deadline or with anything on their plate (chats, offers, wrap-ups).
    pub async fn busy_or_timed_agents(&self) -> Result<Vec<AgentRow>> {
        let rows = self
            .fetch_all(
                "SELECT version, state FROM agents WHERE deadline_at IS NOT NULL OR load > 0",
                |q| q,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentRow {
                    version: r.try_get(0)?,
                    state: parse(&r.try_get::<String>(1)?)?,
                })
            })
            .collect()
    }
}

/// `Store::candidate_agents`. Written as EXISTS so that the agents are read in order from the
/// `agents_free` index and the read stops at the limit, rather than every member of the queue
/// being read and sorted; and the index holds every column named here, so the `agents` table
/// is not read at all (migration 0004).
const CANDIDATE_AGENTS: &str = "SELECT a.id FROM agents a
     WHERE a.presence = 'available' AND a.connected = 1 AND a.has_offer = 0
       AND a.load < a.capacity
       AND EXISTS (SELECT 1 FROM queue_agents qa WHERE qa.queue_id = $1 AND qa.agent_id = a.id)
     ORDER BY a.open_chats, a.free_since, a.id LIMIT $2";

#[cfg(test)]
mod tests {
    use super::CANDIDATE_AGENTS;

    /// Routing's read of free agents runs many times a second: on SQLite it reads the index
    /// alone, in order (no sort, no table row), and looks up membership by key.
    #[test]
    fn candidate_agents_reads_only_the_free_agents_index() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::schema::migrate_sqlite(&mut conn).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            crate::db::numbered(CANDIDATE_AGENTS)
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(("q", 8), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            plan,
            [
                "SCAN a USING COVERING INDEX agents_free",
                "CORRELATED SCALAR SUBQUERY 1",
                "SEARCH qa USING COVERING INDEX sqlite_autoindex_queue_agents_1 (queue_id=? AND agent_id=?)",
            ],
        );
    }
}
