//! Connecting, dialects and the pools.

use crate::{schema, Result, StoreError};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Writes go through here. On SQLite it has one connection: SQLite has one writer at a
    /// time anyway, and queueing in the pool is cheaper than SQLITE_BUSY retries.
    pub(crate) write: AnyPool,
    /// Reads (on PostgreSQL the same pool as writes).
    pub(crate) read: AnyPool,
    pub(crate) backend: Backend,
    /// On SQLite, the group-commit writer (see `group.rs`).
    pub(crate) group: Option<crate::group::Group>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` — `sqlite://path/to/file.db` or
    /// `postgres://…` — and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let store = if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(sqlite_setup)
                .connect(&url)
                .await?;
            let read = AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(sqlite_setup)
                .connect(&url)
                .await?;
            let mut store = Store {
                write,
                read,
                backend: Backend::Sqlite,
                group: None,
            };
            store.group = Some(crate::group::Group::start(store.clone()));
            store
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(postgres_setup)
                .connect(url)
                .await?;
            Store {
                write: pool.clone(),
                read: pool,
                backend: Backend::Postgres,
                group: None,
            }
        } else {
            return Err(StoreError::Corrupt(format!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                url.split('@').next_back().unwrap_or("")
            )));
        };
        schema::migrate(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Waits for work in flight and closes every connection (a SQLite checkpoint runs as the
    /// last connection closes).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// The statement in this backend's dialect: `$1` placeholders become `?1` on SQLite.
    pub(crate) fn sql(&self, text: &str) -> String {
        match self.backend {
            Backend::Postgres => text.to_string(),
            Backend::Sqlite => text.replace('$', "?"),
        }
    }

    pub(crate) async fn fetch_all(
        &self,
        text: &str,
        bind: impl FnOnce(Query<'_>) -> Query<'_>,
    ) -> Result<Vec<AnyRow>> {
        let sql = self.sql(text);
        Ok(bind(sqlx::query(&sql)).fetch_all(&self.read).await?)
    }

    pub(crate) async fn fetch_optional(
        &self,
        text: &str,
        bind: impl FnOnce(Query<'_>) -> Query<'_>,
    ) -> Result<Option<AnyRow>> {
        let sql = self.sql(text);
        Ok(bind(sqlx::query(&sql)).fetch_optional(&self.read).await?)
    }

    pub(crate) async fn execute(
        &self,
        text: &str,
        bind: impl FnOnce(Query<'_>) -> Query<'_>,
    ) -> Result<u64> {
        let sql = self.sql(text);
        let done = bind(sqlx::query(&sql))
            .execute(&self.write)
            .await
            .map_err(map_unique)?;
        Ok(done.rows_affected())
    }
}

type SetupFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

fn sqlite_setup(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> SetupFuture<'_> {
    Box::pin(async move {
        // WAL with synchronous=FULL: a committed transaction survives a power cut.
        conn.execute(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
             PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
        )
        .await?;
        Ok(())
    })
}

fn postgres_setup(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> SetupFuture<'_> {
    Box::pin(async move {
        // An acknowledged message survives a crash of the database server too, whatever
        // the server's own default.
        conn.execute("SET synchronous_commit = on").await?;
        Ok(())
    })
}

pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A unique-key violation, named by the column it is about where we can tell.
pub(crate) fn map_unique(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let msg = db.message().to_lowercase();
            let what = if msg.contains("email") {
                "email"
            } else if msg.contains("name") {
                "name"
            } else {
                "key"
            };
            return StoreError::Taken(what);
        }
    }
    StoreError::Database(e)
}

/// Is this error one a retry can cure (a lost race, a deadlock, a busy database)?
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(db) = e {
        if db.is_unique_violation() {
            return true;
        }
        // PostgreSQL: serialization_failure, deadlock_detected. SQLite: busy, locked.
        if let Some(code) = db.code() {
            return matches!(code.as_ref(), "40001" | "40P01" | "5" | "6" | "517");
        }
    }
    false
}
