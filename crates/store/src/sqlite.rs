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
//! - **A small read runs on the thread that asks** (a snapshot, a page of a short log, the
//!   head of a line: [`Sqlite::read_here`]), on one of a few connections kept for that, when
//!   one is free: it takes less time than waking a reader and being woken by its answer.
//!   Those connections do not wait for a lock: a read that finds the database busy goes to
//!   the readers, so a runtime worker is never held for longer than a small read.
//!
//! Why threads rather than an async driver: a statement on SQLite takes microseconds, so the
//! cost that matters is handing work between threads. Here a whole batch of writes is one
//! hand-off to the writer and one back per write, and a query is one each way (none for a
//! small read); statements are prepared once per connection and cached.

use crate::db::{DbError, Row, Step, Value};
use crate::sqlite_checkpoint::{self, Checkpointer, BACKSTOP_FRAMES};
use crate::sqlite_vfs;
use crate::{schema, Result};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Reader threads (and connections).
const READERS: usize = 4;
/// The most connections kept for small reads on the asking thread (one per core up to
/// this): each holds a page cache of its own, and a read that finds none free goes to the
/// readers.
const MAX_HERE: usize = 8;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// How long a connection waits for another's lock before giving up (`SQLITE_BUSY`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

type Reply<T> = oneshot::Sender<Result<T, DbError>>;

/// A write in the writer's batch: its statements, who waits for the answer, and when it was
/// sent (for the writer's log of how long writes wait).
type Pending = (Vec<Step>, WriteReply, Instant);

/// A write's answer, with its statements handed back: they were built on a runtime worker and
/// are dropped on one (at times the same one) rather than on the writer. A block freed on
/// another thread than the one that allocated it costs the allocator more, on both threads.
type WriteReply = oneshot::Sender<(Result<Vec<u64>, DbError>, Vec<Step>)>;

enum WriteJob {
    Write(Pending),
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
    /// Connections for small reads on the asking thread, one per core up to `MAX_HERE`
    /// (taken while in use; emptied on close).
    here: std::sync::Mutex<Vec<Connection>>,
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
                    // The page cache stays at SQLite's default (2 MiB), though messages land
                    // on the index pages of every active chat and a bigger one would read
                    // fewer back from the file: a B-tree split parks a page at the
                    // pending-byte page number for a moment, and then the commit walks the
                    // whole cache to drop pages past the end of the file. With 32 MiB that
                    // walk was 13 % of the writer, and the message rate 15 % lower.
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
        let checkpointer = Checkpointer::start(connect(&path)?, &path, move || {
            let _ = ask_rewind.send(WriteJob::Rewind);
        })?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut here = Vec::with_capacity(cores.min(MAX_HERE));
        for _ in 0..cores.min(MAX_HERE) {
            let conn = connect(&path)?;
            // Never wait on the asking thread: busy goes to the readers, which wait.
            conn.busy_timeout(Duration::ZERO).map_err(DbError::from)?;
            here.push(conn);
        }
        Ok(Sqlite {
            writes,
            reads,
            checkpointer,
            here: std::sync::Mutex::new(here),
        })
    }

    /// Runs a small read on this thread, if one of the connections kept for that is free
    /// and the database is not busy; otherwise a reader thread runs it. Only for reads that
    /// find a few rows by an index: whatever may scan or return many rows holds the runtime
    /// worker that asks, and goes to [`Sqlite::read`].
    pub(crate) async fn read_here(
        &self,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, DbError> {
        match self.try_here(&sql, &params) {
            Some(Err(DbError::Retryable(_))) | None => self.read(sql, params).await,
            Some(done) => done,
        }
    }

    /// The read on this thread; `None` if every connection for that is in use.
    fn try_here(&self, sql: &str, params: &[Value]) -> Option<Result<Vec<Row>, DbError>> {
        let conn = self.here.lock().ok()?.pop()?;
        let rows = query(&conn, sql, params);
        if let Ok(mut free) = self.here.lock() {
            free.push(conn);
        }
        Some(rows)
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
            .send(WriteJob::Write((steps, reply, Instant::now())))
            .map_err(|_| DbError::Closed)?;
        let (result, _steps) = answer.await.map_err(|_| DbError::Closed)?;
        result
    }

    pub(crate) async fn close(&self) {
        if let Ok(mut here) = self.here.lock() {
            here.clear();
        }
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

pub(crate) fn connect(path: &str) -> Result<Connection, DbError> {
    // Through our VFS: a commit's WAL frames go out in one write (`sqlite_vfs.rs`).
    sqlite_vfs::register().map_err(DbError::Other)?;
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        sqlite_vfs::NAME,
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
    /// Writes answered more than `SLOW` after they were sent (waiting for the writer, then
    /// their batch), and the longest such: the store's share of an acknowledgement's tail.
    answered_late: u64,
    longest_answer: Duration,
    /// Of the late writes' time, how much they spent before their batch began (waiting for
    /// the writer to wake and get a core, or for the batch before theirs) and how much in it.
    late_before_batch: Duration,
    late_in_batch: Duration,
    /// Times the writer slept with nothing to do and was woken by a write, how many of
    /// those woke it more than `WAKE_LATE` after the write was sent, and the longest.
    wakes: u64,
    wakes_late: u64,
    longest_wake: Duration,
}

impl WriterStats {
    const EVERY: Duration = Duration::from_secs(10);
    const SLOW: Duration = Duration::from_millis(5);
    /// A batch this slow is also logged on its own (at debug), with where its time went.
    const VERY_SLOW: Duration = Duration::from_millis(20);
    /// A write that waited this long for the sleeping writer to take it is counted.
    const WAKE_LATE: Duration = Duration::from_millis(1);

    fn new() -> Self {
        WriterStats {
            since: Instant::now(),
            batches: 0,
            writes: 0,
            executing: Duration::ZERO,
            committing: Duration::ZERO,
            longest: Duration::ZERO,
            slow: 0,
            answered_late: 0,
            longest_answer: Duration::ZERO,
            late_before_batch: Duration::ZERO,
            late_in_batch: Duration::ZERO,
            wakes: 0,
            wakes_late: 0,
            longest_wake: Duration::ZERO,
        }
    }

    /// A write answered `after` its sending, of which `before_batch` went by before its
    /// batch began.
    fn answered(&mut self, after: Duration, before_batch: Duration) {
        self.longest_answer = self.longest_answer.max(after);
        if after > Self::SLOW {
            self.answered_late += 1;
            self.late_before_batch += before_batch;
            self.late_in_batch += after.saturating_sub(before_batch);
        }
    }

    /// The writer slept, and took `after` from a write's sending to having it in hand.
    fn woke(&mut self, after: Duration) {
        self.wakes += 1;
        self.wakes_late += (after > Self::WAKE_LATE) as u64;
        self.longest_wake = self.longest_wake.max(after);
    }

    fn add(&mut self, writes: usize, executing: Duration, committing: Duration) {
        self.batches += 1;
        self.writes += writes as u64;
        self.executing += executing;
        self.committing += committing;
        let took = executing + committing;
        if took > Self::VERY_SLOW {
            // Every write sent meanwhile waits this long: where the time went says why.
            tracing::debug!(
                writes,
                executing_ms = format!("{:.1}", executing.as_secs_f64() * 1e3),
                committing_ms = format!("{:.1}", committing.as_secs_f64() * 1e3),
                "a slow sqlite batch"
            );
        }
        self.longest = self.longest.max(took);
        self.slow += (took > Self::SLOW) as u64;
        let period = self.since.elapsed();
        if period >= Self::EVERY {
            let late = self.answered_late.max(1) as f64;
            let mean_ms = |d: Duration| d.as_secs_f64() * 1e3 / late;
            let share = |d: Duration| 100.0 * d.as_secs_f64() / period.as_secs_f64();
            tracing::debug!(
                batches = self.batches,
                writes = self.writes,
                executing_pct = format!("{:.0}", share(self.executing)),
                committing_pct = format!("{:.0}", share(self.committing)),
                longest_ms = format!("{:.1}", self.longest.as_secs_f64() * 1e3),
                over_5ms = self.slow,
                answered_over_5ms = self.answered_late,
                longest_answer_ms = format!("{:.1}", self.longest_answer.as_secs_f64() * 1e3),
                late_before_batch_ms = format!("{:.2}", mean_ms(self.late_before_batch)),
                late_in_batch_ms = format!("{:.2}", mean_ms(self.late_in_batch)),
                wakes = self.wakes,
                wakes_over_1ms = self.wakes_late,
                longest_wake_ms = format!("{:.1}", self.longest_wake.as_secs_f64() * 1e3),
                seconds = period.as_secs(),
                "sqlite writer"
            );
            *self = WriterStats::new();
        }
    }
}

fn writer(conn: Connection, mut jobs: mpsc::UnboundedReceiver<WriteJob>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut stop = None;
    let mut stats = WriterStats::new();
    let mut rewind_asked = false;
    loop {
        let first = match jobs.try_recv() {
            Ok(job) => job,
            Err(mpsc::error::TryRecvError::Empty) => {
                if std::mem::take(&mut rewind_asked) {
                    sqlite_checkpoint::copy_rest(&conn, BUSY_TIMEOUT);
                    continue;
                }
                match jobs.blocking_recv() {
                    Some(job) => {
                        if let WriteJob::Write((_, _, sent)) = &job {
                            stats.woke(sent.elapsed());
                        }
                        job
                    }
                    None => return,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => return,
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                WriteJob::Write(write) => batch.push(write),
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
            let started = Instant::now();
            let (results, executing, committing) = write_batch(&conn, &batch);
            let writes = batch.len();
            let answered = Instant::now();
            for ((steps, reply, sent), result) in batch.drain(..).zip(results) {
                let _ = reply.send((result, steps));
                stats.answered(
                    answered.saturating_duration_since(sent),
                    started.saturating_duration_since(sent),
                );
            }
            stats.add(writes, executing, committing);
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
    batch: &[Pending],
) -> (Vec<Result<Vec<u64>, DbError>>, Duration, Duration) {
    let started = Instant::now();
    let fail_all = |e: DbError| batch.iter().map(|_| Err(e.clone())).collect();
    if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
        return (fail_all(e.into()), started.elapsed(), Duration::ZERO);
    }
    let mut results = Vec::with_capacity(batch.len());
    for (steps, _, _) in batch {
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
    // A failed statement is undone by SQLite on its own (not the transaction). The steps
    // before it are undone by their undo statements if they all have one — a message's
    // command record and event do — and otherwise by a savepoint, which costs a copy of
    // every page the write touches (9 % of the writer's samples when messages had one).
    let undoable = steps.iter().rev().skip(1).all(|s| s.undo.is_some());
    if undoable {
        return match run_steps(conn, steps) {
            Ok(rows) => Ok(Ok(rows)),
            Err(failed) => {
                trusted(conn, &failed)?;
                for step in steps[..failed.step].iter().rev() {
                    let undo = step.undo.as_deref().expect("checked above");
                    if execute(conn, undo)? != 1 {
                        return Err(DbError::Other(format!(
                            "undoing a failed write found nothing to undo: {}",
                            undo.sql
                        )));
                    }
                }
                Ok(Err(failed.error))
            }
        };
    }
    if let Err(e) = run(conn, "SAVEPOINT one_write") {
        return Ok(Err(e.into()));
    }
    match run_steps(conn, steps) {
        Ok(rows) => {
            run(conn, "RELEASE one_write")?;
            Ok(Ok(rows))
        }
        Err(failed) => {
            run(conn, "ROLLBACK TO one_write")?;
            run(conn, "RELEASE one_write")?;
            Ok(Err(failed.error))
        }
    }
}

/// Where a write stopped: the step that failed, why, and whether that step changed rows
/// before it was found wanting (a conditional update that matched more than one).
struct Failed {
    step: usize,
    error: DbError,
    wrote: bool,
}

/// A failed step left the transaction as it was apart from what earlier steps wrote; not
/// so if SQLite rolled the whole transaction back (it does on I/O errors, a full disk or no
/// memory) or the step changed rows it should not have.
fn trusted(conn: &Connection, failed: &Failed) -> Result<(), DbError> {
    if conn.is_autocommit() || failed.wrote {
        return Err(failed.error.clone());
    }
    Ok(())
}

/// Runs a statement without parameters from the statement cache (`execute_batch` would parse
/// it again each time: the savepoints come twice a write).
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

fn run_steps(conn: &Connection, steps: &[Step]) -> Result<Vec<u64>, Failed> {
    let mut affected = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let failed = |error, wrote| Failed {
            step: i,
            error,
            wrote,
        };
        let n = execute(conn, step).map_err(|e| failed(e, false))?;
        if step.expect_one && n != 1 {
            return Err(failed(DbError::Conflict, n > 1));
        }
        affected.push(n);
    }
    Ok(affected)
}

fn execute(conn: &Connection, step: &Step) -> Result<u64, DbError> {
    let mut stmt = conn.prepare_cached(&step.sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(step.params.iter()))? as u64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Params;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('taken');")
            .unwrap();
        conn
    }

    fn insert(k: &str) -> Step {
        Step::new(format!("INSERT INTO t VALUES ('{k}')"), Params::default())
    }

    fn undoable(k: &str) -> Step {
        insert(k).undone_by(Step::new(
            format!("DELETE FROM t WHERE k = '{k}'"),
            Params::default(),
        ))
    }

    fn batch(writes: Vec<Vec<Step>>) -> Vec<Pending> {
        writes
            .into_iter()
            .map(|steps| (steps, oneshot::channel().0, Instant::now()))
            .collect()
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    /// A failed write is taken back whole, by its undo steps or by a savepoint, and the rest
    /// of its batch commits.
    #[test]
    fn a_failed_write_is_undone_and_its_batch_commits() {
        let conn = table();
        let writes = batch(vec![
            vec![undoable("a"), undoable("b"), insert("taken")],
            vec![insert("c")],
            // No undo for the update: this one needs the savepoint.
            vec![
                Step::new("UPDATE t SET k = 'd' WHERE k = 'c'", Params::default()),
                insert("taken"),
            ],
            vec![undoable("e"), insert("f")],
        ]);
        let (results, _, _) = write_batch(&conn, &writes);
        assert!(
            matches!(results[0], Err(DbError::Unique(_))),
            "{:?}",
            results[0]
        );
        assert_eq!(results[1].as_ref().unwrap(), &vec![1]);
        assert!(
            matches!(results[2], Err(DbError::Unique(_))),
            "{:?}",
            results[2]
        );
        assert_eq!(results[3].as_ref().unwrap(), &vec![1, 1]);
        assert_eq!(keys(&conn), ["c", "e", "f", "taken"]);
    }

    /// An undo that finds nothing to take back leaves a transaction that cannot be trusted:
    /// nothing of the batch commits, and every write of it fails.
    #[test]
    fn an_undo_that_misses_fails_the_whole_batch() {
        let conn = table();
        let missing = insert("g").undone_by(Step::new(
            "DELETE FROM t WHERE k = 'not-there'",
            Params::default(),
        ));
        let writes = batch(vec![vec![insert("c")], vec![missing, insert("taken")]]);
        let (results, _, _) = write_batch(&conn, &writes);
        assert!(results.iter().all(|r| r.is_err()), "{results:?}");
        assert_eq!(keys(&conn), ["taken"]);
        assert!(conn.is_autocommit(), "the transaction was rolled back");
    }

    /// A small read runs on the asking thread while one of the connections kept for that is
    /// free, with the same answer a reader gives; with none free, a reader runs it. Those
    /// connections never wait for a lock (`read_here` hands a busy read to the readers,
    /// which do).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_read_runs_here_unless_none_is_free_or_the_database_is_busy() {
        let dir = crate::TestDir::new("sb_here");
        let path = dir.path().join("here.db");
        let db = Sqlite::open(path.to_string_lossy().into_owned())
            .await
            .unwrap();
        let count = "SELECT COUNT(*) FROM sqlite_master";
        let here = db
            .try_here(count, &[])
            .expect("a connection is free")
            .unwrap();
        let there = db.read(count.to_string(), vec![]).await.unwrap();
        assert_eq!(format!("{here:?}"), format!("{there:?}"));

        let taken = std::mem::take(&mut *db.here.lock().unwrap());
        assert!(db.try_here(count, &[]).is_none());
        let read = db.read_here(count.to_string(), vec![]).await.unwrap();
        assert_eq!(format!("{read:?}"), format!("{there:?}"));
        *db.here.lock().unwrap() = taken;

        // Another connection holds the write lock for a while: a connection for small reads
        // answers busy at once (a reader thread would wait for it; `read_here` then hands
        // the read to one). Had it waited, it would have had the lock when it was let go.
        let locker = Connection::open(&path).unwrap();
        locker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            locker.execute_batch("COMMIT").unwrap();
        });
        assert!(
            matches!(
                db.try_here("BEGIN IMMEDIATE", &[]),
                Some(Err(DbError::Retryable(_)))
            ),
            "a connection for small reads does not wait for a lock"
        );
        release.join().unwrap();
        db.close().await;
    }
}
