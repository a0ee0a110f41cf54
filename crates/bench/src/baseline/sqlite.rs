//! Raw durable SQLite: what one acknowledged chat message writes in Switchboard — its event
//! row, which carries the message's command id (idempotency) under a unique index; a message
//! leaves its conversation's row as it is and writes no `commands` row — as
//! one transaction in WAL mode with `synchronous=FULL`, on one connection, back to back, with
//! prepared statements (rusqlite, as the server's writer). Then the same rows 64 messages to a
//! transaction: what group commit could reach. The messages go to `CONVERSATIONS` chats with
//! time-ordered ids, as the server's are, so that each lands on its chat's own index pages.

use crate::stats::{summarise, Summary};
use rusqlite::{params, Connection};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Size of the event's text, close to what the bench's chats write.
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
CREATE TABLE events (conversation_id TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL, client_scope TEXT, client_id TEXT,
    fingerprint TEXT, response TEXT, PRIMARY KEY (conversation_id, seq));
CREATE UNIQUE INDEX events_client_id ON events (client_id, client_scope)
    WHERE client_id IS NOT NULL;
";

/// Chats open at once: about as many as the message-heavy steady runs keep (1,000 agents
/// with room for 5 each, most of it taken).
const CONVERSATIONS: usize = 4000;

fn write_message(
    conn: &Connection,
    n: u64,
    chats: &[String],
    heads: &mut [i64],
    body: &str,
) -> rusqlite::Result<()> {
    // Each chat in turn, in a scattered order (the multiplier is prime to CONVERSATIONS).
    let c = (n as usize).wrapping_mul(2_654_435_761) % CONVERSATIONS;
    let cid = &chats[c];
    heads[c] += 1;
    let seq = heads[c];
    // Half the messages come from the customer, half from one of 1,000 agents.
    let scope = if n.is_multiple_of(2) {
        format!("customer:{cid}")
    } else {
        format!("agent:{:08}", c % 1000)
    };
    // Ids in time order, as the bench's clients make them (protocol.md, "Idempotency").
    let id = crate::command_id::new('m', n, "");
    conn.prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, 'message', ?4, ?5, ?6, ?7, ?8)")?
        .execute(params![
            cid,
            seq,
            n as i64,
            body,
            scope,
            id,
            "f".repeat(64),
            format!(r#"{{"type":"ack","id":"{id}","seq":{seq}}}"#),
        ])?;
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
    let chats: Vec<String> = (0..CONVERSATIONS)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
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
        write_message(&conn, n, &chats, &mut heads, &body)?;
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
            write_message(&conn, n, &chats, &mut heads, &body)?;
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
