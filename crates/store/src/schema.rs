//! Migrations: numbered SQL files applied once each, in order, recorded in
//! `schema_migrations`. The same text runs on SQLite and PostgreSQL.

use crate::db::DbError;
use crate::Result;
use sqlx::{Executor, PgPool};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_routing_indexes.sql")),
    (
        3,
        include_str!("../migrations/0003_message_ids_on_events.sql"),
    ),
    (
        4,
        include_str!("../migrations/0004_covering_free_agents.sql"),
    ),
    (
        5,
        include_str!("../migrations/0005_message_ids_in_time_order.sql"),
    ),
];

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

/// On PostgreSQL, nodes starting at once on a new database would race to create the same
/// tables (and all but one fail): they take this advisory lock and migrate one at a time,
/// the later ones finding nothing left to do.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7305350107142361) IS NULL";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7305350107142361)";

/// The statements of a migration. Comment lines go before the text is cut at `;`: a
/// comment may contain one.
fn statements(text: &str) -> Vec<String> {
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// On SQLite the whole check-and-apply runs under the write lock (BEGIN IMMEDIATE): stores
/// opening a new file at once wait for each other (busy timeout) instead of racing to
/// create the same tables.
pub(crate) fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_LEDGER)?;
    for (version, text) in MIGRATIONS {
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        if done.is_some() {
            continue;
        }
        for statement in statements(text) {
            tx.execute_batch(&statement)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            [version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) async fn migrate_postgres(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await.map_err(DbError::from)?;
    conn.execute(PG_MIGRATION_LOCK)
        .await
        .map_err(DbError::from)?;
    let applied = apply_postgres(&mut conn).await;
    // A session lock: released even when a migration failed, as the connection stays pooled.
    let unlocked = conn.execute(PG_MIGRATION_UNLOCK).await;
    applied?;
    unlocked.map_err(DbError::from)?;
    Ok(())
}

/// Applies what is missing, each migration in a transaction of its own.
async fn apply_postgres(conn: &mut sqlx::PgConnection) -> Result<(), DbError> {
    conn.execute(CREATE_LEDGER).await?;
    for (version, text) in MIGRATIONS {
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(*version)
            .fetch_optional(&mut *conn)
            .await?;
        if done.is_some() {
            continue;
        }
        conn.execute("BEGIN").await?;
        let written = async {
            for statement in statements(text) {
                conn.execute(statement.as_str()).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)")
                .bind(*version)
                .execute(&mut *conn)
                .await?;
            Ok::<_, DbError>(())
        }
        .await;
        conn.execute(if written.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })
        .await?;
        written?;
    }
    Ok(())
}
