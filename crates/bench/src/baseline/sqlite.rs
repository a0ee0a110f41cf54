//! Raw durable SQLite: what one acknowledged chat message writes in Switchboard — a command
//! row (idempotency), an event row and the conversation's snapshot update — as one
//! transaction in WAL mode with `synchronous=FULL`, on one connection, back to back. Then the
//! same rows 64 messages to a transaction: what group commit could reach.

use crate::stats::{summarise, Summary};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, SqliteConnection};
use std::time::{Duration, Instant};

/// Sizes of the rows, close to what the server writes for a chat message.
const STATE_BYTES: usize = 1200;
const EVENT_BYTES: usize = 260;
pub const GROUP: usize = 64;

#[derive(Clone, Debug, Serialize)]
pub struct SqliteBaseline {
    /// One message per transaction (one fsync each).
    pub commits_per_s: f64,
    pub commit_latency: Summary,
    /// `GROUP` messages per transaction.
    pub group_size: usize,
    pub grouped_messages_per_s: f64,
}

const SCHEMA: &str = "
CREATE TABLE commands (scope TEXT NOT NULL, client_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    response TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (scope, client_id));
CREATE INDEX commands_at ON commands (at);
CREATE TABLE events (conversation_id TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (conversation_id, seq));
CREATE TABLE conversations (id TEXT PRIMARY KEY, head_seq BIGINT NOT NULL, state TEXT NOT NULL,
    updated_at BIGINT NOT NULL);
";

const CONVERSATIONS: usize = 200;

async fn write_message(
    conn: &mut SqliteConnection,
    n: u64,
    heads: &mut [i64],
    state: &str,
    body: &str,
) -> sqlx::Result<()> {
    let c = (n as usize) % CONVERSATIONS;
    let cid = format!("conversation-{c:08}");
    heads[c] += 1;
    let seq = heads[c];
    sqlx::query("INSERT INTO commands VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(format!("customer:{cid}"))
        .bind(format!("s{n}"))
        .bind("f".repeat(64))
        .bind(format!(r#"{{"type":"ack","id":"s{n}","seq":{seq}}}"#))
        .bind(n as i64)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO events VALUES (?1, ?2, ?3, 'message', ?4)")
        .bind(&cid)
        .bind(seq)
        .bind(n as i64)
        .bind(body)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE conversations SET head_seq = ?1, state = ?2, updated_at = ?3
         WHERE id = ?4 AND head_seq = ?5",
    )
    .bind(seq)
    .bind(state)
    .bind(n as i64)
    .bind(&cid)
    .bind(seq - 1)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn run(secs: Duration) -> anyhow::Result<SqliteBaseline> {
    let dir = std::env::temp_dir().join(format!("sb-bench-sqlite-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let opts = SqliteConnectOptions::new()
        .filename(dir.join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    conn.execute(SCHEMA).await?;
    for c in 0..CONVERSATIONS {
        sqlx::query("INSERT INTO conversations VALUES (?1, 0, '{}', 0)")
            .bind(format!("conversation-{c:08}"))
            .execute(&mut conn)
            .await?;
    }
    let state = format!(r#"{{"snapshot":"{}"}}"#, "x".repeat(STATE_BYTES));
    let body = format!(
        r#"{{"type":"message","text":"{}"}}"#,
        "y".repeat(EVENT_BYTES)
    );
    let mut heads = vec![0i64; CONVERSATIONS];

    let mut n = 0u64;
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < secs {
        let t = Instant::now();
        let mut tx = conn.begin().await?;
        write_message(&mut tx, n, &mut heads, &state, &body).await?;
        tx.commit().await?;
        lat.push(t.elapsed().as_micros() as u32);
        n += 1;
    }
    let commits_per_s = lat.len() as f64 / start.elapsed().as_secs_f64();

    let mut grouped = 0u64;
    let start = Instant::now();
    while start.elapsed() < secs {
        let mut tx = conn.begin().await?;
        for _ in 0..GROUP {
            write_message(&mut tx, n, &mut heads, &state, &body).await?;
            n += 1;
        }
        tx.commit().await?;
        grouped += GROUP as u64;
    }
    let grouped_messages_per_s = grouped as f64 / start.elapsed().as_secs_f64();
    conn.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SqliteBaseline {
        commits_per_s,
        commit_latency: summarise(&mut lat),
        group_size: GROUP,
        grouped_messages_per_s,
    })
}
