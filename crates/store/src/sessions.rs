//! Sign-in sessions, idempotency records, and which node holds which connection.

use crate::{Result, Store, StoreError};
use switchboard_core::{AgentId, Timestamp};

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        agent: AgentId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO sessions (token_hash, agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            |q| {
                q.bind(token_hash.to_string())
                    .bind(agent.to_string())
                    .bind(now.0)
                    .bind(expires_at.0)
            },
        )
        .await?;
        Ok(())
    }

    /// The agent a session token (hashed) belongs to, if it has not expired.
    pub async fn session_agent(&self, token_hash: &str, now: Timestamp) -> Result<Option<AgentId>> {
        let row = self
            .fetch_few_optional(
                "SELECT agent_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
                |q| q.bind(token_hash.to_string()).bind(now.0),
            )
            .await?;
        row.map(|r| r.try_get::<String>(0)?.parse().map_err(StoreError::corrupt))
            .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.execute("DELETE FROM sessions WHERE token_hash = $1", |q| {
            q.bind(token_hash.to_string())
        })
        .await?;
        Ok(())
    }

    pub async fn delete_sessions_of(&self, agent: AgentId) -> Result<()> {
        self.execute("DELETE FROM sessions WHERE agent_id = $1", |q| {
            q.bind(agent.to_string())
        })
        .await?;
        Ok(())
    }

    /// The first answer to a command, with its fingerprint, if its id was seen. A message's
    /// id is kept on its event, any other command's in `commands` (see `commit.rs`).
    pub async fn command(&self, scope: &str, client_id: &str) -> Result<Option<(String, String)>> {
        let row = self
            .fetch_few_optional(
                "SELECT fingerprint, response FROM commands WHERE scope = $1 AND client_id = $2
                 UNION ALL
                 SELECT fingerprint, response FROM events WHERE client_scope = $1 AND client_id = $2",
                |q| q.bind(scope.to_string()).bind(client_id.to_string()),
            )
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Forgets command ids and sessions older than `before` (ids are kept at least 24 h). A
    /// message's id stays with the message.
    pub async fn prune(&self, commands_before: Timestamp, now: Timestamp) -> Result<()> {
        self.execute("DELETE FROM commands WHERE at < $1", |q| {
            q.bind(commands_before.0)
        })
        .await?;
        self.execute("DELETE FROM sessions WHERE expires_at < $1", |q| {
            q.bind(now.0)
        })
        .await?;
        Ok(())
    }

    /// Records that this node is alive.
    pub async fn heartbeat(&self, node: &str, now: Timestamp) -> Result<()> {
        self.execute(
            "INSERT INTO nodes (id, heartbeat_at) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            |q| q.bind(node.to_string()).bind(now.0),
        )
        .await?;
        Ok(())
    }

    /// Removes a connection's row (a dead node's, swept). A socket's own row is written and
    /// removed by the commit of its event ([`crate::ConnectionChange`]).
    pub async fn remove_connection(&self, connection: &str) -> Result<()> {
        self.execute("DELETE FROM connections WHERE id = $1", |q| {
            q.bind(connection.to_string())
        })
        .await?;
        Ok(())
    }

    /// Connections held by nodes other than `me` whose heartbeat is older than
    /// `stale_before` (crashed or stopped without closing them): (connection, agent,
    /// conversation). A node never sweeps its own: its sessions close their connections.
    pub async fn orphaned_connections(
        &self,
        me: &str,
        stale_before: Timestamp,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        let rows = self
            .fetch_all(
                "SELECT c.id, c.agent_id, c.conversation_id FROM connections c
                 LEFT JOIN nodes n ON n.id = c.node_id
                 WHERE c.node_id <> $2
                   AND ((n.id IS NULL AND c.opened_at < $1) OR n.heartbeat_at < $1)",
                |q| q.bind(stale_before.0).bind(me.to_string()),
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
