//! SQLite alone: its WAL is copied into the database file by a thread beside the writer, and
//! rewound to its start once long (`src/sqlite_checkpoint.rs`), so that the file does not grow
//! without end and no commit waits for a checkpoint.

use std::time::{Duration, Instant};
use switchboard_core::{Conversation, QueueId};
use switchboard_store::Store;

use super::fixtures::*;

/// About 15 pages of 4 KiB per message: the WAL grows fast.
const TEXT: usize = 60_000;
/// `REWIND_FRAMES` in `src/sqlite_checkpoint.rs`, in bytes (a frame is a page and its header).
const REWIND_BYTES: u64 = 20_000 * (4096 + 24);

fn size(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Appends messages to `head` until `bytes` of text are written.
async fn write(store: &Store, head: &mut Conversation, bytes: u64) {
    let text = "x".repeat(TEXT);
    for i in 0..bytes.div_ceil(TEXT as u64) {
        let now = at(2_000 + i as i64);
        let write = conversation_write(head, vec![customer_message(&text)], now);
        *head = (*write.state).clone();
        let mut commit = commit_at(now);
        commit.conversation = Some(write);
        store.commit(&mut commit).await.expect("a message");
    }
}

/// Waits (up to 10 s) for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn the_wal_is_copied_beside_the_writer_and_rewound(store: Store, url: String) {
    let db = url
        .strip_prefix("sqlite://")
        .expect("a SQLite url")
        .to_string();
    let wal = format!("{db}-wal");
    let mut head = start(&store, QueueId::new(), 0, at(1_000)).await;

    // Far below the writer's own automatic checkpoint, the pages reach the database file.
    write(&store, &mut head, 20 << 20).await;
    eventually("20 MB copied into the database file", || {
        size(&db) > 20 << 20
    })
    .await;

    // Writing on without a pause, three times the rewind length: the writer finishes the copy
    // whenever it finds nothing waiting, and the WAL starts over instead of growing.
    write(&store, &mut head, 3 * REWIND_BYTES).await;
    let wal_size = size(&wal);
    assert!(
        wal_size < REWIND_BYTES + REWIND_BYTES / 2,
        "the WAL was not rewound: {wal_size} bytes after writing {} bytes",
        3 * REWIND_BYTES
    );

    // Nothing written was lost on the way.
    let events = store
        .events_after(head.id, 0, 100_000)
        .await
        .expect("the log");
    assert_eq!(events.len() as u64, head.head_seq);
    drop(store);
    let reopened = Store::open(&url).await.expect("reopen");
    assert_eq!(
        conversation(&reopened, head.id).await.head_seq,
        head.head_seq
    );
    reopened.close().await;
}
