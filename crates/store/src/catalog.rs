//! Configuration entities (assets, queues, idle codes, wrap-up reasons, templates), the
//! desktop profile, and agents' accounts.

use crate::db::{DbError, Params, Row, Step};
use crate::{Result, Store, StoreError};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Write;
use switchboard_core::config::{Account, DesktopProfile, Queue, Role};
use switchboard_core::{Agent, AgentId, QueueId, Timestamp};

/// Which kind of catalog entry; each is stored as JSON under its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogKind {
    Asset,
    Queue,
    IdleCode,
    WrapUpReason,
    Template,
}

impl CatalogKind {
    fn as_str(self) -> &'static str {
        match self {
            CatalogKind::Asset => "asset",
            CatalogKind::Queue => "queue",
            CatalogKind::IdleCode => "idle_code",
            CatalogKind::WrapUpReason => "wrapup_reason",
            CatalogKind::Template => "template",
        }
    }
}

impl Store {
    /// Creates or replaces an entry. A live entry of the same kind with the same name is
    /// refused with `Taken("name")`.
    pub async fn put_entry<T: Serialize>(
        &self,
        kind: CatalogKind,
        id: &str,
        name: &str,
        value: &T,
    ) -> Result<()> {
        let body = serde_json::to_string(value).map_err(StoreError::corrupt)?;
        self.execute(
            "INSERT INTO catalog (kind, id, name, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, body = excluded.body",
            |q| q.bind(kind.as_str()).bind(id).bind(name).bind(body),
        )
        .await?;
        Ok(())
    }

    /// A live (not deleted) entry.
    pub async fn entry<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        id: &str,
    ) -> Result<Option<T>> {
        let row = self
            .fetch_few_optional(
                "SELECT body FROM catalog WHERE kind = $1 AND id = $2 AND deleted_at IS NULL",
                |q| q.bind(kind.as_str()).bind(id.to_string()),
            )
            .await?;
        row.map(|r| parse(&r.try_get::<String>(0)?)).transpose()
    }

    /// A live entry by its name.
    pub async fn entry_by_name<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        name: &str,
    ) -> Result<Option<T>> {
        let row = self
            .fetch_few_optional(
                "SELECT body FROM catalog WHERE kind = $1 AND name = $2 AND deleted_at IS NULL",
                |q| q.bind(kind.as_str()).bind(name.to_string()),
            )
            .await?;
        row.map(|r| parse(&r.try_get::<String>(0)?)).transpose()
    }

    /// Every live entry of a kind, by name.
    pub async fn entries<T: DeserializeOwned>(&self, kind: CatalogKind) -> Result<Vec<T>> {
        let rows = self
            .fetch_all(
                "SELECT body FROM catalog WHERE kind = $1 AND deleted_at IS NULL ORDER BY name, id",
                |q| q.bind(kind.as_str()),
            )
            .await?;
        rows.iter()
            .map(|r| parse(&r.try_get::<String>(0)?))
            .collect()
    }

    /// Marks an entry deleted; its history stays (reports still name it).
    pub async fn delete_entry(&self, kind: CatalogKind, id: &str, now: Timestamp) -> Result<bool> {
        self.delete_with(kind, id, now, vec![]).await
    }

    /// Marks an entry deleted, and runs `also` in the same transaction; whether the entry
    /// was there to delete.
    async fn delete_with(
        &self,
        kind: CatalogKind,
        id: &str,
        now: Timestamp,
        also: Vec<Step>,
    ) -> Result<bool> {
        let mut steps = vec![Step::new(
            "UPDATE catalog SET deleted_at = $1 WHERE kind = $2 AND id = $3 AND deleted_at IS NULL",
            Params::default()
                .bind(now.0)
                .bind(kind.as_str())
                .bind(id.to_string()),
        )];
        steps.extend(also);
        let done = self.write(steps).await.map_err(DbError::taken)?;
        Ok(done.first().is_some_and(|&n| n > 0))
    }

    /// Saves a queue and its membership in one transaction. Only the members it no longer
    /// has are deleted: an agent it keeps keeps its row, so an offer to that agent committing
    /// meanwhile (whose guard updates that row, `AgentWrite::serving`) does not conflict.
    pub async fn put_queue(&self, queue: &Queue) -> Result<()> {
        let body = serde_json::to_string(queue).map_err(StoreError::corrupt)?;
        let id = queue.id.to_string();
        let mut steps = vec![
            Step::new(
                "INSERT INTO catalog (kind, id, name, body) VALUES ('queue', $1, $2, $3)
                 ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, body = excluded.body",
                Params::default()
                    .bind(id.clone())
                    .bind(&queue.name)
                    .bind(body),
            ),
            removed_members(&id, &queue.agent_ids),
        ];
        for agent in &queue.agent_ids {
            steps.push(Step::new(
                "INSERT INTO queue_agents (queue_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                Params::default().bind(id.clone()).bind(agent.to_string()),
            ));
        }
        self.write(steps).await.map_err(DbError::taken)?;
        Ok(())
    }

    /// Deletes a queue and its membership in one transaction (its history stays).
    pub async fn delete_queue(&self, id: QueueId, now: Timestamp) -> Result<bool> {
        let id = id.to_string();
        let every_member = removed_members(&id, &[]);
        self.delete_with(CatalogKind::Queue, &id, now, vec![every_member])
            .await
    }

    /// The queues an agent serves.
    pub async fn queues_of_agent(&self, agent: AgentId) -> Result<Vec<QueueId>> {
        let rows = self
            .fetch_few(
                "SELECT queue_id FROM queue_agents WHERE agent_id = $1",
                |q| q.bind(agent.to_string()),
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>(0)?.parse().map_err(StoreError::corrupt))
            .collect()
    }

    pub async fn desktop_profile(&self) -> Result<DesktopProfile> {
        let row = self
            .fetch_few_optional(
                "SELECT value FROM settings WHERE key = 'desktop_profile'",
                |q| q,
            )
            .await?;
        match row {
            Some(r) => parse(&r.try_get::<String>(0)?),
            None => Ok(DesktopProfile::default()),
        }
    }

    pub async fn put_desktop_profile(&self, profile: &DesktopProfile) -> Result<()> {
        let body = serde_json::to_string(profile).map_err(StoreError::corrupt)?;
        self.execute(
            "INSERT INTO settings (key, value) VALUES ('desktop_profile', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            |q| q.bind(body),
        )
        .await?;
        Ok(())
    }

    /// Creates an agent's account with its first (logged-out) snapshot.
    pub async fn create_account(
        &self,
        account: &Account,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<()> {
        let agent = Agent::new(account.id, account.name.clone(), account.capacity, now);
        let state = serde_json::to_string(&agent).map_err(StoreError::corrupt)?;
        self.execute(
            "INSERT INTO agents (id, email, name, role, password_hash, version, state, presence,
                connected, has_offer, load, capacity, open_chats, free_since, deadline_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, 'logged_out', 0, 0, 0, $7, 0, $8, NULL)",
            |q| {
                q.bind(account.id.to_string())
                    .bind(account.email.to_lowercase())
                    .bind(account.name.clone())
                    .bind(account.role.as_str())
                    .bind(password_hash.to_string())
                    .bind(state)
                    .bind(account.capacity as i64)
                    .bind(now.0)
            },
        )
        .await?;
        Ok(())
    }

    /// Updates the account's name, email and role (capacity goes through the agent's log).
    pub async fn update_account(&self, account: &Account) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE agents SET email = $1, name = $2, role = $3 WHERE id = $4",
                |q| {
                    q.bind(account.email.to_lowercase())
                        .bind(account.name.clone())
                        .bind(account.role.as_str())
                        .bind(account.id.to_string())
                },
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn set_password_hash(&self, agent: AgentId, hash: &str) -> Result<bool> {
        let n = self
            .execute("UPDATE agents SET password_hash = $1 WHERE id = $2", |q| {
                q.bind(hash.to_string()).bind(agent.to_string())
            })
            .await?;
        Ok(n > 0)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = self
            .fetch_all(
                "SELECT id, email, name, role, capacity FROM agents ORDER BY name, id",
                |q| q,
            )
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn account(&self, id: AgentId) -> Result<Option<Account>> {
        let row = self
            .fetch_few_optional(
                "SELECT id, email, name, role, capacity FROM agents WHERE id = $1",
                |q| q.bind(id.to_string()),
            )
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// The account and password hash for a sign-in by email.
    pub async fn credentials(&self, email: &str) -> Result<Option<(Account, String)>> {
        let row = self
            .fetch_few_optional(
                "SELECT id, email, name, role, capacity, password_hash FROM agents WHERE email = $1",
                |q| q.bind(email.trim().to_lowercase()),
            )
            .await?;
        row.map(|r| Ok((account_from_row(&r)?, r.try_get::<String>(5)?)))
            .transpose()
    }
}

fn account_from_row(r: &Row) -> Result<Account> {
    Ok(Account {
        id: r
            .try_get::<String>(0)?
            .parse()
            .map_err(StoreError::corrupt)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        role: Role::parse(&r.try_get::<String>(3)?)
            .ok_or_else(|| StoreError::Corrupt("unknown role".into()))?,
        capacity: r.try_get::<i64>(4)? as u32,
    })
}

pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

/// The most members a queue's save names in one statement (SQLite takes 32,766 parameters,
/// PostgreSQL 65,535): a longer list deletes every member and inserts the list again.
const MAX_KEPT_LISTED: usize = 1_000;

/// Deletes a queue's members that are not among `keep` (all of them if it is empty).
fn removed_members(queue_id: &str, keep: &[AgentId]) -> Step {
    let mut params = Params::default().bind(queue_id.to_string());
    if keep.is_empty() || keep.len() > MAX_KEPT_LISTED {
        return Step::new("DELETE FROM queue_agents WHERE queue_id = $1", params);
    }
    let mut sql =
        String::from("DELETE FROM queue_agents WHERE queue_id = $1 AND agent_id NOT IN (");
    for (n, agent) in keep.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "${}", n + 2);
        params = params.bind(agent.to_string());
    }
    sql.push(')');
    Step::new(sql, params)
}
