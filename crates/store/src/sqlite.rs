//! The SQLite backend (one node, one file): dedicated threads own the connections.
//!
//! - **One writer thread** takes every write that is waiting and writes them in one
//!   transaction — group commit: many writes, one fsync. A write of several statements runs
//!   under its own savepoint, so one that loses a race (a conditional update finds its row
//!   changed, a unique key is taken) is undone alone and answered with its error while the
//!   others commit. Nobody is answered before the transaction is durable: an acknowledgement
//!   still means the data survives a power cut (WAL, `synchronous=FULL`).
//! - **A few reader threads** run queries; in WAL mode they read the last commit while the
//!   writer writes.
//!
//! Why threads rather than an async driver: a statement on SQLite takes microseconds, so the
//! cost that matters is handing work between threads. Here a whole batch of writes is one
//! hand-off to the writer and one back per write, and a query is one each way; statements are
//! prepared once per connection and cached.

use crate::db::{DbError, Row, Step, Value};
use crate::sqlite_checkpoint::{self, Checkpointer, BACKSTOP_FRAMES};
use crate::{schema, Result};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Reader threads (and connections).
const READERS: usize = 4;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// The writer's page cache (KiB; SQLite's default is 2 MiB). Messages land on the index pages
/// of every active conversation: with the default, the writer read pages back from the
/// file about once a write.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// How long a connection waits for another's lock before giving up (`SQLITE_BUSY`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

type Reply<T> = oneshot::Sender<Result<T, DbError>>;

enum WriteJob {
    Write(Vec<Step>, Reply<Vec<u64>>),
    /// Answer once every write before it is durable, then stop.
    Stop(oneshot::Sender<()>),
    /// From the checkpoint thread: the WAL is long and nearly all copied; finish the copy when
    /// idle, so that the next batch rewinds it (`sqlite_checkpoint.rs`).
    Rewind,
}

enum ReadJob {
    Read(String, Vec<Value>, Reply<Vec<Row>>),
    Stop,
}

pub(crate) struct Sqlite {
    writes: mpsc::UnboundedSender<WriteJob>,
    /// Received by whichever reader is free (each waits on the channel itself: a lock around
    /// one receiver cost every read a hand-off between the readers too).
    reads: flume::Sender<ReadJob>,
    checkpointer: Checkpointer,
}

impl Sqlite {
    /// Opens the file (creating it), migrates it, and starts the threads.
    pub(crate) async fn open(path: String) -> Result<Sqlite> {
        configure_sqlite();
        let (ready, started) = oneshot::channel();
        let (writes, write_jobs) = mpsc::unbounded_channel();
        let writer_path = path.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let conn = connect(&writer_path).and_then(|mut c| {
                    schema::migrate_sqlite(&mut c)?;
                    // Checkpoints run on a thread of their own (`sqlite_checkpoint.rs`); the
                    // writer's own is the backstop.
                    c.pragma_update(None, "wal_autocheckpoint", BACKSTOP_FRAMES)?;
                    // A write's savepoint keeps the pages it changes in a sub-journal, which
                    // spills to a temporary file past 64 KiB (a file created and removed per
                    // large batch): keep it in memory.
                    c.pragma_update(None, "temp_store", "MEMORY")?;
                    c.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
                    Ok(c)
                });
                match conn {
                    Ok(conn) => {
                        let _ = ready.send(Ok(()));
                        writer(conn, write_jobs);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })
            .map_err(|e| DbError::Other(format!("starting the SQLite writer: {e}")))?;
        started.await.map_err(|_| DbError::Closed)??;

        let (reads, read_jobs) = flume::unbounded();
        for n in 0..READERS {
            let conn = connect(&path)?;
            let jobs = read_jobs.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || reader(conn, jobs))
                .map_err(|e| DbError::Other(format!("starting a SQLite reader: {e}")))?;
        }
        let ask_rewind = writes.clone();
        let checkpointer = Checkpointer::start(connect(&path)?, move || {
            let _ = ask_rewind.send(WriteJob::Rewind);
        })?;
        Ok(Sqlite {
            writes,
            reads,
            checkpointer,
        })
    }

    pub(crate) async fn read(&self, sql: String, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.reads
            .send(ReadJob::Read(sql, params, reply))
            .map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    pub(crate) async fn write(&self, steps: Vec<Step>) -> Result<Vec<u64>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(WriteJob::Write(steps, reply))
            .map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    pub(crate) async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.writes.send(WriteJob::Stop(done)).is_ok() {
            let _ = stopped.await;
        }
        for _ in 0..READERS {
            let _ = self.reads.send(ReadJob::Stop);
        }
        self.checkpointer.stop();
    }
}

/// Process-wide settings, which SQLite takes only before its first connection (later calls
/// are refused, harmlessly): no memory statistics, which would take a global mutex on every
/// allocation of every connection (one in the writer's profile per statement).
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before this process opens a connection (or refused by SQLite
        // with SQLITE_MISUSE if another part of it already has); the argument is an int, as
        // SQLITE_CONFIG_MEMSTATUS expects.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            );
        }
    });
}

fn connect(path: &str) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL with synchronous=FULL: a committed transaction survives a power cut.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn reader(conn: Connection, jobs: flume::Receiver<ReadJob>) {
    loop {
        match jobs.recv() {
            Ok(ReadJob::Read(sql, params, reply)) => {
                let _ = reply.send(query(&conn, &sql, &params));
            }
            Ok(ReadJob::Stop) | Err(_) => return,
        }
    }
}

fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Int(None),
                ValueRef::Integer(n) => Value::Int(Some(n)),
                ValueRef::Real(f) => Value::Int(Some(f as i64)),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

/// What the writer did over a period, logged at debug level (`RUST_LOG=switchboard_store=debug`):
/// how busy it was, and how much of that was executing statements and how much committing
/// (writing the WAL, the fsync, checkpoints). It is how the benchmark's limits were found.
struct WriterStats {
    since: Instant,
    batches: u64,
    writes: u64,
    executing: Duration,
    committing: Duration,
    /// The longest batch, and how many took over `SLOW`: every write waiting meanwhile waits
    /// that long for its answer, so these set the tail of the acknowledgements.
    longest: Duration,
    slow: u64,
}

impl WriterStats {
    const EVERY: Duration = Duration::from_secs(10);
    const SLOW: Duration = Duration::from_millis(5);

    fn new() -> Self {
        WriterStats {
            since: Instant::now(),
            batches: 0,
            writes: 0,
            executing: Duration::ZERO,
            committing: Duration::ZERO,
            longest: Duration::ZERO,
            slow: 0,
        }
    }

    fn add(&mut self, writes: usize, executing: Duration, committing: Duration) {
        self.batches += 1;
        self.writes += writes as u64;
        self.executing += executing;
        self.committing += committing;
        let took = executing + committing;
        self.longest = self.longest.max(took);
        self.slow += (took > Self::SLOW) as u64;
        let period = self.since.elapsed();
        if period >= Self::EVERY {
            let share = |d: Duration| 100.0 * d.as_secs_f64() / period.as_secs_f64();
            tracing::debug!(
                batches = self.batches,
                writes = self.writes,
                executing_pct = format!("{:.0}", share(self.executing)),
                committing_pct = format!("{:.0}", share(self.committing)),
                longest_ms = format!("{:.1}", self.longest.as_secs_f64() * 1e3),
                over_5ms = self.slow,
                seconds = period.as_secs(),
                "sqlite writer"
            );
            *self = WriterStats::new();
        }
    }
}

fn writer(conn: Connection, mut jobs: mpsc::UnboundedReceiver<WriteJob>) {
    let mut batch: Vec<(Vec<Step>, Reply<Vec<u64>>)> = Vec::with_capacity(MAX_BATCH);
    let mut stop = None;
    let mut stats = WriterStats::new();
    let mut rewind_asked = false;
    loop {
        let first = match jobs.try_recv() {
            Ok(job) => job,
            Err(mpsc::error::TryRecvError::Empty) => {
                if std::mem::take(&mut rewind_asked) {
                    sqlite_checkpoint::copy_rest(&conn);
                    continue;
                }
                match jobs.blocking_recv() {
                    Some(job) => job,
                    None => return,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => return,
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                WriteJob::Write(steps, reply) => batch.push((steps, reply)),
                WriteJob::Rewind => rewind_asked = true,
                WriteJob::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let (results, executing, committing) = write_batch(&conn, &batch);
            stats.add(batch.len(), executing, committing);
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        if let Some(done) = stop.take() {
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

/// Writes the batch in one transaction, each write of several statements under its own
/// savepoint. If the transaction cannot commit, every write of the batch fails (none is
/// acknowledged). Also says how long executing and committing took.
fn write_batch(
    conn: &Connection,
    batch: &[(Vec<Step>, Reply<Vec<u64>>)],
) -> (Vec<Result<Vec<u64>, DbError>>, Duration, Duration) {
    let started = Instant::now();
    let fail_all = |e: DbError| batch.iter().map(|_| Err(e.clone())).collect();
    if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
        return (fail_all(e.into()), started.elapsed(), Duration::ZERO);
    }
    let mut results = Vec::with_capacity(batch.len());
    for (steps, _) in batch {
        match write_one(conn, steps) {
            Ok(result) => results.push(result),
            Err(broken) => {
                // A write could not be undone on its own: nothing of the batch may commit.
                let _ = run(conn, "ROLLBACK");
                return (fail_all(broken), started.elapsed(), Duration::ZERO);
            }
        }
    }
    let executing = started.elapsed();
    let committed = run(conn, "COMMIT");
    let committing = started.elapsed() - executing;
    if let Err(e) = committed {
        let _ = run(conn, "ROLLBACK");
        return (fail_all(e.into()), executing, committing);
    }
    (results, executing, committing)
}

/// Runs one write inside the batch's transaction: its own result, or (outer `Err`) a
/// transaction that can no longer be trusted, because a failed write could not be undone.
fn write_one(conn: &Connection, steps: &[Step]) -> Result<Result<Vec<u64>, DbError>, DbError> {
    // A single statement is atomic on its own (SQLite undoes a failed statement, not the
    // transaction); several need a savepoint to be undone together.
    if steps.len() == 1 {
        return Ok(run_steps(conn, steps));
    }
    if let Err(e) = run(conn, "SAVEPOINT one_write") {
        return Ok(Err(e.into()));
    }
    let written = run_steps(conn, steps);
    if written.is_err() {
        run(conn, "ROLLBACK TO one_write")?;
    }
    run(conn, "RELEASE one_write")?;
    Ok(written)
}

/// Runs a statement without parameters from the statement cache (`execute_batch` would parse
/// it again each time: the savepoints come twice a write).
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

fn run_steps(conn: &Connection, steps: &[Step]) -> Result<Vec<u64>, DbError> {
    let mut affected = Vec::with_capacity(steps.len());
    for step in steps {
        let mut stmt = conn.prepare_cached(&step.sql)?;
        let n = stmt.execute(rusqlite::params_from_iter(step.params.iter()))? as u64;
        if step.expect_one && n != 1 {
            return Err(DbError::Conflict);
        }
        affected.push(n);
    }
    Ok(affected)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Int(Some(n)) => ToSqlOutput::from(*n),
            Value::Text(Some(s)) => ToSqlOutput::from(s.as_str()),
            Value::Int(None) | Value::Text(None) => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            let msg = msg.clone().unwrap_or_else(|| f.to_string());
            match f.code {
                ErrorCode::ConstraintViolation
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    return DbError::Unique(msg)
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    return DbError::Retryable(msg)
                }
                _ => {}
            }
        }
        DbError::Other(e.to_string())
    }
}
