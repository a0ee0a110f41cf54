//! The store test suite, generated for each backend (DESIGN.md, convention 6; after quickwit's
//! metastore tests): every test body in `suite/` takes a fresh, migrated [`Store`] and runs
//! once on SQLite (a new file in the temporary folder) and once on PostgreSQL (a new database
//! on the server at `SWITCHBOARD_TEST_DATABASE_URL`, dropped afterwards).
//!
//! When PostgreSQL cannot be reached its tests are skipped with a notice, unless `CI=true`,
//! where they fail: CI must never pass by testing one backend only.

mod suite;

use std::any::Any;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use switchboard_store::Store;
use uuid::Uuid;

/// The server (and a database on it to connect to) the PostgreSQL tests create their
/// databases on.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Instantiates each named test body of `suite` once per backend: `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    crate::with_sqlite(crate::suite::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    crate::with_postgres(crate::suite::$name).await;
                }
            )*
        }
    };
}

store_suite!(
    migrations_run_on_open_and_reopening_is_a_no_op,
    concurrent_opens_of_a_fresh_database_both_succeed,
    catalog_put_get_list_delete,
    catalog_names_are_unique_among_live_entries,
    queues_and_their_members,
    desktop_profile_default_and_round_trip,
    accounts_create_duplicate_lookup_update,
    sessions_valid_expired_deleted,
    new_conversation_commit_and_read_back,
    events_after_pages_in_order,
    stale_head_seq_conflicts_and_writes_nothing,
    messages_extend_the_log_and_reads_follow_its_head,
    new_conversation_with_a_taken_id_conflicts,
    stale_agent_version_conflicts_and_writes_nothing,
    conversation_conflict_rolls_back_the_agents_too,
    agent_snapshot_and_log_round_trip,
    command_id_is_recorded_once_per_scope,
    message_ids_and_other_command_ids_are_one_space,
    a_token_opens_its_conversation_once_committed,
    next_waiting_order_across_an_agents_queues,
    candidate_agents_filters_and_order,
    an_offer_needs_the_agent_in_the_queue_when_it_commits,
    position_in_line_and_queued_in,
    due_conversations_due_agents_next_deadline,
    prune_forgets_old_commands_and_expired_sessions,
    heartbeat_and_orphaned_connections,
    a_connection_row_is_written_with_its_event,
    concurrent_commits_on_one_agent_version_have_one_winner,
    concurrent_commits_on_one_conversation_head_have_one_winner,
    concurrent_commits_with_one_command_id_have_one_winner,
    concurrent_offers_to_one_agent_have_one_winner,
);

/// What only one backend has.
mod sqlite_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_wal_is_copied_beside_the_writer_and_rewound() {
        crate::with_sqlite(crate::suite::the_wal_is_copied_beside_the_writer_and_rewound).await;
    }
}

/// Runs `test` on a new SQLite database file, removed afterwards.
pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let path = std::env::temp_dir().join(format!("sb_test_{}.db", Uuid::new_v4().simple()));
    let _remove = RemoveOnDrop(path.clone());
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    if let Err(panic) = run(store, url, test).await {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `test` on a new PostgreSQL database, dropped afterwards (even when the test fails).
pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    let connected = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&server))
        .await
        .map_err(|_| "timed out after 10 s".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let mut admin = match connected {
        Ok(conn) => conn,
        Err(e) => return postgres_unreachable(&server, &e),
    };
    let name = format!("sb_test_{}", Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    let url = with_database(&server, &name);
    let outcome = match Store::open(&url).await {
        Ok(store) => run(store, url, test).await,
        Err(e) => {
            Err(Box::new(HarnessError(format!("opening {name}: {e}"))) as Box<dyn Any + Send>)
        }
    };
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap_or_else(|e| panic!("dropping database {name}: {e}"));
    let _ = admin.close().await;
    match outcome {
        Ok(()) => {}
        Err(panic) => match panic.downcast::<HarnessError>() {
            // Not a panic of the test (that one has been reported already): say it now.
            Ok(error) => panic!("{}", error.0),
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
}

/// Runs the test body in its own task, so that a failing assertion still lets the caller
/// close the store and clean up; returns the panic, if any, to be resumed after.
async fn run<F, Fut>(store: Store, url: String, test: F) -> Result<(), Box<dyn Any + Send>>
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(test(store.clone(), url)).await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => Err(Box::new(HarnessError(format!(
            "the test task did not finish: {e}"
        )))),
    }
}

fn postgres_unreachable(server: &str, error: &str) {
    let host = server.rsplit('@').next().unwrap_or(server);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL at {host} cannot be reached ({error}), and CI=true: failing");
    }
    static TOLD: AtomicBool = AtomicBool::new(false);
    if !TOLD.swap(true, Ordering::SeqCst) {
        // Straight to the terminal, past the test harness's output capture.
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: PostgreSQL at {host} cannot be reached ({error}): the postgres::* store \
             tests are SKIPPED (they pass without running). Set SWITCHBOARD_TEST_DATABASE_URL \
             to a server where the user may create databases; with CI=true they fail instead."
        );
    }
}

/// `url` with its database (path) replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    format!("{}/{database}{query}", &base[..path])
}

/// A failure of the harness itself (not of a test's assertion).
struct HarnessError(String);

/// Removes a SQLite database and its WAL files when the test is over, however it ended.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "sb_x"),
        "postgres://postgres@127.0.0.1:5432/sb_x"
    );
    assert_eq!(
        with_database("postgres://u:p@db/test?sslmode=disable", "sb_x"),
        "postgres://u:p@db/sb_x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgresql://localhost", "sb_x"),
        "postgresql://localhost/sb_x"
    );
}
