//! Raw durable SQLite: what one acknowledged chat message writes in Switchboard — a command
//! row (idempotency), an event row and the conversation's snapshot update — as one
//! transaction in WAL mode with `synchronous=FULL`, on one connection, back to back, with
//! prepared statements (rusqlite, as the server's writer). Then the
//! same rows 64 messages to a transaction: what group commit could reach.

use crate::stats::{summarise, Summary};
use rusqlite::{params, Connection};
use serde::Serialize;
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

fn write_message(
    conn: &Connection,
    n: u64,
    heads: &mut [i64],
    state: &str,
    body: &str,
) -> rusqlite::Result<()> {
    let c = (n as usize) % CONVERSATIONS;
    let cid = format!("conversation-{c:08}");
    heads[c] += 1;
    let seq = heads[c];
    conn.prepare_cached("INSERT INTO commands VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![
            format!("customer:{cid}"),
            format!("s{n}"),
            "f".repeat(64),
            format!(r#"{{"type":"ack","id":"s{n}","seq":{seq}}}"#),
            n as i64
        ])?;
    conn.prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, 'message', ?4)")?
        .execute(params![&cid, seq, n as i64, body])?;
    let changed = conn
        .prepare_cached(
            "UPDATE conversations SET head_seq = ?1, state = ?2, updated_at = ?3
             WHERE id = ?4 AND head_seq = ?5",
        )?
        .execute(params![seq, state, n as i64, &cid, seq - 1])?;
    assert_eq!(
        changed, 1,
        "the baseline's conditional update matched its row"
    );
    Ok(())
}

pub async fn run(secs: Duration) -> anyhow::Result<SqliteBaseline> {
    tokio::task::spawn_blocking(move || measure(secs)).await?
}

fn measure(secs: Duration) -> anyhow::Result<SqliteBaseline> {
    let dir = std::env::temp_dir().join(format!("sb-bench-sqlite-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let conn = Connection::open(dir.join("baseline.db"))?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
    conn.execute_batch(SCHEMA)?;
    for c in 0..CONVERSATIONS {
        conn.execute(
            "INSERT INTO conversations VALUES (?1, 0, '{}', 0)",
            [format!("conversation-{c:08}")],
        )?;
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
        conn.execute_batch("BEGIN IMMEDIATE")?;
        write_message(&conn, n, &mut heads, &state, &body)?;
        conn.execute_batch("COMMIT")?;
        lat.push(t.elapsed().as_micros() as u32);
        n += 1;
    }
    let commits_per_s = lat.len() as f64 / start.elapsed().as_secs_f64();

    let mut grouped = 0u64;
    let start = Instant::now();
    while start.elapsed() < secs {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for _ in 0..GROUP {
            write_message(&conn, n, &mut heads, &state, &body)?;
            n += 1;
        }
        conn.execute_batch("COMMIT")?;
        grouped += GROUP as u64;
    }
    let grouped_messages_per_s = grouped as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SqliteBaseline {
        commits_per_s,
        commit_latency: summarise(&mut lat),
        group_size: GROUP,
        grouped_messages_per_s,
    })
}
