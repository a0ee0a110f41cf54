//! Connecting, the two backends behind one SQL text, and the few operations the rest of the
//! store is written in: read rows, write one statement, write several atomically.
//!
//! Statements are written once, in PostgreSQL's dialect with `$n` placeholders (SQLite reads
//! them as `?n`), and their parameters and rows are plain [`Value`]s, so every query in the
//! store serves both backends.

use crate::{postgres, sqlite, Result, StoreError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    db: Db,
    /// On SQLite, the last committed snapshots (see `snapshots.rs`).
    pub(crate) snapshots: Option<Arc<crate::snapshots::Snapshots>>,
}

#[derive(Clone)]
enum Db {
    /// Dedicated threads own the connections: one writer (group commit) and a few readers.
    Sqlite(Arc<sqlite::Sqlite>),
    Postgres(sqlx::PgPool),
}

/// A parameter or a column. NULLs carry their type: PostgreSQL must know what a parameter is
/// even when it is NULL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

/// The parameters of one statement, bound in order (`$1`, `$2`, …).
#[derive(Debug)]
pub(crate) struct Params(pub(crate) Vec<Value>);

impl Default for Params {
    /// Room for the longest statement's parameters (13), so binding never grows the vector:
    /// growing from empty took three allocations for a message's event, one here.
    fn default() -> Self {
        Params(Vec::with_capacity(16))
    }
}

impl Params {
    pub(crate) fn bind(mut self, v: impl Into<Value>) -> Self {
        self.0.push(v.into());
        self
    }
}

/// One row of a result, its columns in the order selected.
#[derive(Debug)]
pub(crate) struct Row(pub(crate) Vec<Value>);

/// What a column can be read as.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(Some(i)) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(Some(s)) => Some(s.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            // A NULL read back from SQLite has no declared type: either kind is NULL.
            Value::Int(None) | Value::Text(None) => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl Row {
    pub(crate) fn try_get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))?;
        T::from_value(v).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "column {i} holds {v:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// One statement of an atomic write.
#[derive(Debug)]
pub(crate) struct Step {
    /// A literal as written in the code (no copy), or SQL built at run time.
    pub(crate) sql: Cow<'static, str>,
    pub(crate) params: Vec<Value>,
    /// The write is a conditional update that must change exactly one row; otherwise the
    /// whole write is undone and fails with `DbError::Conflict`.
    pub(crate) expect_one: bool,
    /// A statement that takes back exactly what this one did (it deletes the row this one
    /// inserted), run if a later step of the same write fails. A write whose steps all have
    /// one, but for the last, needs no savepoint on SQLite (see `sqlite::write_one`).
    pub(crate) undo: Option<Box<Step>>,
    /// The statement inserts or updates at most one row (see [`Step::one_row`]).
    pub(crate) one_row: bool,
}

impl Step {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>, params: Params) -> Step {
        Step {
            sql: sql.into(),
            params: params.0,
            expect_one: false,
            undo: None,
            one_row: false,
        }
    }

    /// Says that the statement (an `INSERT` or `UPDATE`) changes at most one row. On SQLite
    /// it then runs `OR FAIL` rather than the default `OR ABORT`. The two differ only in what
    /// a statement that fails part way keeps of its own changes, and a one-row statement
    /// checks its constraints before it changes anything. But for `ABORT` SQLite opens a
    /// statement journal in a transaction of several statements (every batch of writes is
    /// one), and copies into it, in 1 KiB blocks, each page the statement changes: two or
    /// three pages for each message, most of the writer's calls to `malloc`.
    pub(crate) fn one_row(mut self) -> Step {
        self.one_row = true;
        self
    }

    pub(crate) fn undone_by(mut self, undo: Step) -> Step {
        self.undo = Some(Box::new(undo));
        self
    }

    /// The same step with its SQL (and its undo's) rewritten.
    fn map_sql(self, f: fn(Cow<'static, str>, bool) -> Cow<'static, str>) -> Step {
        Step {
            sql: f(self.sql, self.one_row),
            undo: self.undo.map(|u| Box::new(u.map_sql(f))),
            ..self
        }
    }

    pub(crate) fn expect_one(mut self) -> Step {
        self.expect_one = true;
        self
    }
}

/// What went wrong in the database, in terms the store decides on.
#[derive(Debug, Clone)]
pub(crate) enum DbError {
    /// A unique key was taken (the message names the constraint or its columns).
    Unique(String),
    /// A conditional update found its row changed.
    Conflict,
    /// A retry can cure it: busy, locked, a serialisation failure, a deadlock.
    Retryable(String),
    /// The store was closed, or its threads stopped.
    Closed,
    Other(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Unique(m) => write!(f, "unique key taken: {m}"),
            DbError::Conflict => write!(f, "the row changed"),
            DbError::Retryable(m) => write!(f, "busy: {m}"),
            DbError::Closed => write!(f, "the store is closed"),
            DbError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl DbError {
    /// For writes that race by design (commits): a taken key or a busy database is a lost
    /// race, which the caller decides again.
    pub(crate) fn settle(self) -> StoreError {
        match self {
            DbError::Unique(_) | DbError::Conflict | DbError::Retryable(_) => StoreError::Conflict,
            other => StoreError::Database(other.to_string()),
        }
    }

    /// For writes of names and emails: a taken key is `Taken`, named by its column where
    /// we can tell.
    pub(crate) fn taken(self) -> StoreError {
        match self {
            DbError::Unique(msg) => {
                let msg = msg.to_lowercase();
                StoreError::Taken(if msg.contains("email") {
                    "email"
                } else if msg.contains("name") {
                    "name"
                } else {
                    "key"
                })
            }
            DbError::Conflict => StoreError::Conflict,
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        e.taken()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` — `sqlite://path/to/file.db` or
    /// `postgres://…` — and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path).to_string();
            let db = sqlite::Sqlite::open(path).await?;
            Ok(Store {
                backend: Backend::Sqlite,
                db: Db::Sqlite(Arc::new(db)),
                snapshots: Some(Default::default()),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = postgres::open(url).await?;
            Ok(Store {
                backend: Backend::Postgres,
                db: Db::Postgres(pool),
                snapshots: None,
            })
        } else {
            Err(StoreError::Corrupt(format!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                url.split('@').next_back().unwrap_or("")
            )))
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> Result<()> {
        self.fetch_all("SELECT 1", |q| q).await?;
        Ok(())
    }

    /// Waits for the writes in flight and closes every connection (on SQLite a checkpoint
    /// runs as the last connection closes).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) async fn fetch_all(
        &self,
        sql: &str,
        bind: impl FnOnce(Params) -> Params,
    ) -> Result<Vec<Row>> {
        self.fetch(sql, bind, false).await
    }

    pub(crate) async fn fetch_optional(
        &self,
        sql: &str,
        bind: impl FnOnce(Params) -> Params,
    ) -> Result<Option<Row>> {
        Ok(self.fetch_all(sql, bind).await?.into_iter().next())
    }

    /// A read of a few rows found by an index (a snapshot by its key, a page of a short log,
    /// the head of a line). On SQLite it runs on the calling thread when it can
    /// ([`sqlite::Sqlite::read_here`]): never use it for a read that may scan or return many
    /// rows, which would hold a runtime worker.
    pub(crate) async fn fetch_few(
        &self,
        sql: &str,
        bind: impl FnOnce(Params) -> Params,
    ) -> Result<Vec<Row>> {
        self.fetch(sql, bind, true).await
    }

    /// [`Store::fetch_few`] for at most one row.
    pub(crate) async fn fetch_few_optional(
        &self,
        sql: &str,
        bind: impl FnOnce(Params) -> Params,
    ) -> Result<Option<Row>> {
        Ok(self.fetch_few(sql, bind).await?.into_iter().next())
    }

    async fn fetch(
        &self,
        sql: &str,
        bind: impl FnOnce(Params) -> Params,
        small: bool,
    ) -> Result<Vec<Row>> {
        let params = bind(Params::default()).0;
        let rows = match &self.db {
            Db::Sqlite(db) if small => db.read_here(numbered(sql), params).await,
            Db::Sqlite(db) => db.read(numbered(sql), params).await,
            Db::Postgres(pool) => postgres::fetch_all(pool, sql, params).await,
        };
        rows.map_err(|e| StoreError::Database(e.to_string()))
    }

    /// One statement, written (and durable) on its own; the rows it changed. A taken unique
    /// key is `Taken`.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        bind: impl FnOnce(Params) -> Params,
    ) -> Result<u64> {
        let step = Step::new(sql, bind(Params::default()));
        let done = self.write(vec![step]).await.map_err(DbError::taken)?;
        Ok(done.first().copied().unwrap_or(0))
    }

    /// Several statements written atomically: all of them or none. The rows each changed.
    pub(crate) async fn write(&self, steps: Vec<Step>) -> Result<Vec<u64>, DbError> {
        match &self.db {
            Db::Sqlite(db) => {
                let steps = steps
                    .into_iter()
                    .map(|s| s.map_sql(sql_for_sqlite))
                    .collect();
                db.write(steps).await
            }
            Db::Postgres(pool) => postgres::write(pool, steps).await,
        }
    }
}

/// `$n` placeholders become `?n`: SQLite's numbered parameters.
pub(crate) fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

/// [`numbered`] for a write's statement, made `OR FAIL` if it changes one row
/// ([`Step::one_row`]). Every write passes here, so a literal is converted once and the result
/// kept for the life of the process (the literals are a fixed set, a few dozen); SQL built at
/// run time is converted each time.
fn sql_for_sqlite(sql: Cow<'static, str>, one_row: bool) -> Cow<'static, str> {
    // Keyed by where the literal is (hashing its address, not its text).
    static CONVERTED: LazyLock<Mutex<HashMap<(usize, usize, bool), &'static str>>> =
        LazyLock::new(Default::default);
    let convert = |sql: &str| {
        let sql = numbered(sql);
        if !one_row {
            return sql;
        }
        let text = sql.trim_start();
        if let Some(rest) = text.strip_prefix("INSERT INTO ") {
            format!("INSERT OR FAIL INTO {rest}")
        } else if let Some(rest) = text.strip_prefix("UPDATE ") {
            format!("UPDATE OR FAIL {rest}")
        } else {
            sql
        }
    };
    match sql {
        Cow::Borrowed(literal) => {
            let key = (literal.as_ptr() as usize, literal.len(), one_row);
            let mut converted = CONVERTED.lock().expect("SQL cache lock");
            Cow::Borrowed(
                converted
                    .entry(key)
                    .or_insert_with(|| convert(literal).leak()),
            )
        }
        Cow::Owned(built) => Cow::Owned(convert(&built)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_and_a_literal_is_converted_once() {
        let literal = "SELECT $1 WHERE a = $2 AND b = $1";
        let first = sql_for_sqlite(Cow::Borrowed(literal), false);
        let again = sql_for_sqlite(Cow::Borrowed(literal), false);
        assert_eq!(first, "SELECT ?1 WHERE a = ?2 AND b = ?1");
        assert!(
            std::ptr::eq(first.as_ref(), again.as_ref()),
            "kept, not made again"
        );
        let built = sql_for_sqlite(
            Cow::Owned(format!("DELETE FROM t WHERE id = ${}", 3)),
            false,
        );
        assert_eq!(built, "DELETE FROM t WHERE id = ?3");
    }

    #[test]
    fn a_one_row_insert_or_update_fails_rather_than_aborts() {
        let insert = "\n   INSERT INTO t (a) SELECT $1 WHERE EXISTS (SELECT 1 FROM u)";
        assert_eq!(
            sql_for_sqlite(Cow::Borrowed(insert), true),
            "INSERT OR FAIL INTO t (a) SELECT ?1 WHERE EXISTS (SELECT 1 FROM u)"
        );
        assert_eq!(
            sql_for_sqlite(Cow::Borrowed(insert), false),
            insert.replace('$', "?")
        );
        assert_eq!(
            sql_for_sqlite(Cow::Borrowed("UPDATE t SET a = $1 WHERE id = $2"), true),
            "UPDATE OR FAIL t SET a = ?1 WHERE id = ?2"
        );
        assert_eq!(
            sql_for_sqlite(Cow::Borrowed("DELETE FROM t WHERE id = $1"), true),
            "DELETE FROM t WHERE id = ?1"
        );
    }
}
