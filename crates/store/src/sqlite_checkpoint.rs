//! Checkpoints beside the SQLite writer, so that no commit waits for one.
//!
//! In WAL mode a commit appends pages to the WAL; a checkpoint copies them into the database
//! file. SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that
//! commit, and every write queued behind it, waits for the whole copy and its fsync — at a
//! 10,000-page threshold, the p99 of an acknowledgement was that stall (docs/benchmarks.md).
//!
//! Here a thread of its own copies the WAL while the writer goes on: a PASSIVE checkpoint takes
//! no lock a writer needs. Copying often also keeps reads cheap: a page is looked up only in the
//! part of the WAL not yet copied. What the thread cannot do alone is rewind the WAL to its
//! start: SQLite does that when a write transaction begins with every frame copied and no
//! reader still in the WAL, and under steady load the writer has always appended more by
//! then. So once the WAL is long and the copy has nearly caught up, the thread asks the writer
//! to copy the last few frames itself the next time it has nothing to do ([`copy_rest`]),
//! waiting a moment for the readers still in the WAL; its next batch then begins on a fully
//! copied WAL, and SQLite writes it from the WAL's start (over the file's existing blocks,
//! which is also the cheaper write). That last copy ends with an fsync of the
//! database file, which should find little to write: the VFS syncs the file in pieces as
//! the thread copies, and the thread flushes what is left before it asks. The writer's copy
//! still takes a few milliseconds, and a write arriving meanwhile waits for it, so rewinds are
//! kept rare: one per `REWIND_FRAMES`. A writer that is never idle (overload) leaves the
//! rewind to its own automatic checkpoint at `BACKSTOP_FRAMES`, which then has little left
//! to copy.

use crate::db::DbError;
use rusqlite::Connection;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

/// A checkpoint pass this slow is logged (at debug).
const SLOW: Duration = Duration::from_millis(20);
/// How often the thread copies what the WAL has gained.
const EVERY: Duration = Duration::from_millis(100);
/// A WAL this long (4 KiB pages: about 80 MB) is rewound once copied.
const REWIND_FRAMES: i64 = 20_000;
/// Copy passes in a row while the WAL is long and the copy is not within `CAUGHT_UP_FRAMES`
/// of its end (each pass copies what was appended during the one before).
const MAX_PASSES: usize = 8;
/// Frames left for the writer to copy before a rewind.
const CAUGHT_UP_FRAMES: i64 = 200;
/// The writer's own automatic checkpoint, kept as a backstop for a load the thread cannot keep
/// up with: it then copies only what the thread has not.
pub(crate) const BACKSTOP_FRAMES: i64 = 3 * REWIND_FRAMES;

/// Called by the writer when no write is waiting (it holds no transaction), after the thread
/// asked for a rewind: copies the frames the thread has not and waits for the readers still in
/// the WAL, so that the writer's next `BEGIN` rewinds it. Says whether it will.
///
/// A PASSIVE copy here left the rewind to chance: a reader that began before the copy ended
/// still held its place in the WAL when the next batch began (reads are short, but at 5,000
/// messages a second one is nearly always running), SQLite appended instead, and the thread
/// asked again 100 ms later — two to seven asks a rewind, each a copy with two flushes on the
/// writer, and a WAL of 52,000 frames while many sockets opened (docs/benchmarks.md, "The
/// budget's load as it is stated"). A RESTART copy waits for such readers, through a busy
/// handler that gives them a moment ([`readers_a_moment`]) rather than the connection's
/// ten seconds; one that is still busy then (a long read, or the thread's own pass holding
/// the checkpoint lock) is left for the thread to ask again.
pub(crate) fn copy_rest(writer: &Connection, busy_timeout: Duration) -> bool {
    let started = Instant::now();
    let copied = writer
        .busy_handler(Some(readers_a_moment))
        .map_err(DbError::from)
        .and_then(|()| checkpoint_mode(writer, "RESTART"));
    // Every other wait of the writer's keeps the connection's own timeout.
    if let Err(e) = writer.busy_timeout(busy_timeout) {
        tracing::warn!(error = %e, "restoring the writer's busy timeout failed");
    }
    let ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3);
    match copied {
        Ok((busy, log, copied)) => {
            tracing::debug!(
                frames = ?(log, copied),
                rewinds = !busy,
                ms,
                "the writer copied the WAL's last frames for a rewind"
            );
            !busy
        }
        Err(e) => {
            tracing::warn!(error = %e, "the writer's checkpoint before a WAL rewind failed");
            false
        }
    }
}

/// The writer's busy handler while it copies for a rewind: readers finish in microseconds,
/// so it gives them a few turns of the core and then a few short sleeps — about a millisecond
/// in all, during which writes wait for the writer — and then gives up.
fn readers_a_moment(attempts: i32) -> bool {
    match attempts {
        0..=19 => std::thread::yield_now(),
        20..=29 => std::thread::sleep(Duration::from_micros(100)),
        _ => return false,
    }
    true
}

/// The running checkpoint thread; [`Checkpointer::stop`] or dropping this handle stops it.
pub(crate) struct Checkpointer {
    stop: std_mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts the thread on its own connection; `ask_rewind` asks the writer to call
    /// [`copy_rest`] when it is next idle.
    pub(crate) fn start(
        conn: Connection,
        path: &str,
        ask_rewind: impl Fn() + Send + 'static,
    ) -> Result<Checkpointer, DbError> {
        let file = std::fs::File::open(path)
            .map_err(|e| DbError::Other(format!("opening {path} for checkpoints: {e}")))?;
        let (stop, stopped) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(conn, file, ask_rewind, stopped))
            .map_err(|e| DbError::Other(format!("starting the SQLite checkpointer: {e}")))?;
        Ok(Checkpointer { stop })
    }

    pub(crate) fn stop(&self) {
        let _ = self.stop.send(());
    }
}

fn run(
    conn: Connection,
    file: std::fs::File,
    ask_rewind: impl Fn(),
    stopped: std_mpsc::Receiver<()>,
) {
    // Any message, or the handle's drop, stops the thread.
    while let Err(std_mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        for _ in 0..MAX_PASSES {
            let started = Instant::now();
            let pass = checkpoint(&conn);
            if started.elapsed() > SLOW {
                tracing::debug!(
                    ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
                    frames = ?pass.as_ref().ok(),
                    "a slow checkpoint pass"
                );
            }
            let (log, copied) = match pass {
                Ok(Some(frames)) => frames,
                // Another checkpoint holds the lock: the writer's.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "background checkpoint failed");
                    break;
                }
            };
            if log - copied > CAUGHT_UP_FRAMES {
                continue;
            }
            if log >= REWIND_FRAMES {
                // SQLite syncs the database file only in a checkpoint that copies the whole
                // WAL: that is the writer's. The VFS syncs the file every 256 KiB this thread
                // copies (`sqlite_vfs.rs`), so little is left; whatever is, is flushed here,
                // off the writer's path, leaving the writer's sync only the last few frames.
                // (Before those piecewise syncs this flush carried everything copied since
                // the last rewind: tens of megabytes, 10-28 ms during which commits waited.)
                let started = Instant::now();
                if let Err(e) = file.sync_data() {
                    tracing::warn!(error = %e, "syncing the database file before a rewind failed");
                }
                tracing::debug!(
                    ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
                    log,
                    "synced the database file before a rewind"
                );
                ask_rewind();
            }
            break;
        }
    }
}

/// A PASSIVE checkpoint: copies what it can without waiting for anyone. The WAL's length and
/// how much of it is now copied, in frames; `None` if another checkpoint was running.
fn checkpoint(conn: &Connection) -> Result<Option<(i64, i64)>, DbError> {
    let (busy, log, copied) = checkpoint_mode(conn, "PASSIVE")?;
    Ok((!busy).then_some((log, copied)))
}

/// A checkpoint in `mode`: whether it was busy (for PASSIVE, another checkpoint was running;
/// for RESTART, also a reader still in the WAL once the busy handler gave up), the WAL's
/// length and how much of it is copied, in frames (-1 when another checkpoint held the lock).
fn checkpoint_mode(conn: &Connection, mode: &str) -> Result<(bool, i64, i64), DbError> {
    let (busy, log, copied): (i64, i64, i64) =
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok((busy != 0, log, copied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::connect;

    fn insert(conn: &Connection, rows: std::ops::Range<i64>) {
        for n in rows {
            conn.execute(
                "INSERT INTO t (n, body) VALUES (?1, ?2)",
                (n, vec![7u8; 3000]),
            )
            .unwrap();
        }
    }

    #[test]
    fn the_copy_before_a_rewind_gives_up_on_a_long_read_and_rewinds_once_readers_are_done() {
        let dir = crate::TestDir::new("sb_ckpt");
        let path = dir.path().join("live.db");
        let path = path.to_str().unwrap();
        let writer = connect(path).unwrap();
        writer
            .execute_batch(
                "PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB NOT NULL);",
            )
            .unwrap();
        insert(&writer, 0..100);
        let reader = connect(path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 100);
        insert(&writer, 100..200);

        // A reader that stays in the WAL past the moment given to it: the copy gives up (it
        // does not wait the connection's ten seconds), the writer's own timeout is back, and
        // the next write appends to the WAL.
        assert!(!copy_rest(&writer, BUSY_TIMEOUT_FOR_TEST));
        let timeout: i64 = writer
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(timeout, BUSY_TIMEOUT_FOR_TEST.as_millis() as i64);
        insert(&writer, 200..201);
        let (log, _) = checkpoint(&writer).unwrap().unwrap();
        assert!(
            log > 200,
            "the WAL goes on growing while a reader is in it: {log} frames"
        );

        // Once the reader is done, the copy waits for nobody and the next write starts the
        // WAL over; every row is still there.
        reader.execute_batch("COMMIT").unwrap();
        assert!(copy_rest(&writer, BUSY_TIMEOUT_FOR_TEST));
        insert(&writer, 201..202);
        let (log, _) = checkpoint(&writer).unwrap().unwrap();
        assert!(log < 10, "the WAL was rewound: {log} frames");
        let rows: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 202);
    }

    const BUSY_TIMEOUT_FOR_TEST: Duration = Duration::from_millis(4321);
}
