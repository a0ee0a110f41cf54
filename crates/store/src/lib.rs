//! Switchboard's store: the event logs, the snapshots folded from them, configuration,
//! sessions and idempotency records, on SQLite (the default, one file in a data folder) or
//! PostgreSQL (for a cluster). One SQL text serves both: SQLite through connections owned by
//! dedicated threads (`sqlite.rs`), PostgreSQL through a sqlx pool (`postgres.rs`).
//!
//! Every decision two writers could race on is settled here, not in memory: a commit updates
//! each snapshot only if its version is the one the decision was made from (a conditional
//! UPDATE), and appends events under a unique (conversation, seq) key. A commit that loses a
//! race fails with [`StoreError::Conflict`] and changes nothing; the engine reloads and
//! decides again.

mod catalog;
mod commit;
mod db;
mod live;
mod postgres;
mod schema;
mod sessions;
mod snapshots;
mod sqlite;
mod sqlite_checkpoint;
mod sqlite_vfs;

/// A folder of its own for a test's database files, removed when the test ends.
#[cfg(test)]
pub(crate) struct TestDir(std::path::PathBuf);

#[cfg(test)]
impl TestDir {
    /// Creates `<temp>/<prefix>_<random>`.
    pub(crate) fn new(prefix: &str) -> TestDir {
        let dir = std::env::temp_dir().join(format!("{prefix}_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        TestDir(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub use catalog::CatalogKind;
pub use commit::{AgentWrite, CommandRecord, Commit, ConnectionChange, ConversationWrite};
pub use db::{Backend, Store};
pub use live::{AgentRow, StoredEvent, LOG_PAGE};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A snapshot changed since it was read (another writer won): reload and decide again.
    #[error("conflict: the state changed since it was read")]
    Conflict,
    /// A unique name or email is taken.
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error("not found")]
    NotFound,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn corrupt(e: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
