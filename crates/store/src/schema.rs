//! Migrations: numbered SQL files applied once each, in order, recorded in
//! `schema_migrations`. The same text runs on SQLite and PostgreSQL.

use crate::{Result, Store};
use sqlx::Executor;

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];

pub(crate) async fn migrate(store: &Store) -> Result<()> {
    let mut conn = store.write.acquire().await?;
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
        let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
        for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let statement: String = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if statement.trim().is_empty() {
                continue;
            }
            tx.execute(statement.as_str()).await?;
        }
        let sql = store.sql("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)");
        sqlx::query(&sql)
            .bind(*version)
            .bind(0_i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
