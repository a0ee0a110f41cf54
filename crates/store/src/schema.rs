//! Migrations: numbered SQL files applied once each, in order, recorded in
//! `schema_migrations`. The same text runs on SQLite and PostgreSQL.

use crate::{Backend, Result, Store};
use sqlx::Executor;

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];

/// On PostgreSQL, nodes starting at once on a new database would race to create the same
/// tables (and all but one fail): they take this advisory lock and migrate one at a time,
/// the later ones finding nothing left to do.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7305350107142361) IS NULL";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7305350107142361)";

pub(crate) async fn migrate(store: &Store) -> Result<()> {
    let mut conn = store.write.acquire().await?;
    if store.backend != Backend::Postgres {
        // On SQLite the whole check-and-apply runs under the write lock (BEGIN IMMEDIATE):
        // stores opening a new file at once wait for each other (busy timeout) instead of
        // racing to create the same tables.
        conn.execute("BEGIN IMMEDIATE").await?;
        let applied = apply(store, &mut conn, false).await;
        let ended = conn
            .execute(if applied.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            })
            .await;
        applied?;
        ended?;
        return Ok(());
    }
    conn.execute(PG_MIGRATION_LOCK).await?;
    let applied = apply(store, &mut conn, true).await;
    // A session lock: released even when a migration failed, as the connection stays pooled.
    let unlocked = conn.execute(PG_MIGRATION_UNLOCK).await;
    applied?;
    unlocked?;
    Ok(())
}

/// Applies what is missing; `own_transactions`: each migration in a transaction of its own
/// (otherwise the caller holds one around everything).
async fn apply(
    store: &Store,
    conn: &mut sqlx::AnyConnection,
    own_transactions: bool,
) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for (version, text) in MIGRATIONS {
        let sql = store.sql("SELECT version FROM schema_migrations WHERE version = $1");
        let done = sqlx::query(&sql)
            .bind(*version)
            .fetch_optional(&mut *conn)
            .await?;
        if done.is_some() {
            continue;
        }
        if own_transactions {
            conn.execute("BEGIN").await?;
        }
        let written = apply_one(store, conn, *version, text).await;
        if own_transactions {
            conn.execute(if written.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            })
            .await?;
        }
        written?;
    }
    Ok(())
}

async fn apply_one(
    store: &Store,
    conn: &mut sqlx::AnyConnection,
    version: i64,
    text: &str,
) -> Result<()> {
    // Comment lines go before the text is cut at `;`: a comment may contain one.
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute(statement).await?;
    }
    let sql = store.sql("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)");
    sqlx::query(&sql)
        .bind(version)
        .bind(0_i64)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
