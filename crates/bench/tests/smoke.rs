//! CI smoke run: a server in this process (SQLite in a fresh folder, the demo set), a few
//! seconds of `steady` at a small rate through the bench's library, and the self-test.
//! It asserts that the bench works and that nothing is lost, doubled or refused — nothing
//! about speed.

use std::sync::Arc;
use switchboard_bench::{Options, Report};
use switchboard_server::clock::SystemClock;
use switchboard_server::engine::Engine;
use switchboard_store::Store;

struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    dir: std::path::PathBuf,
}

async fn spawn_server() -> Server {
    let dir = std::env::temp_dir().join(format!("sb-bench-smoke-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.join("sb.db").display()))
        .await
        .expect("store opens");
    let engine = Engine::new(store, Arc::new(SystemClock));
    switchboard_server::demo::seed(&engine)
        .await
        .expect("demo seeds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        switchboard_server::serve(listener, engine.clone(), async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        engine.store.close().await;
    });
    Server {
        url,
        stop: Some(tx),
        task,
        dir,
    }
}

impl Server {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), self.task).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn options(url: &str, extra: &[&str]) -> Options {
    use clap::Parser;
    let mut args = vec![
        "switchboard-bench",
        "--url",
        url,
        "--scenario",
        "steady",
        "--agents",
        "3",
        "--capacity",
        "2",
        // Poisson arrivals: at 4 chats/s, 3 s without one is e^-12 (at 2 it was e^-6, 1 in 400).
        "--rates",
        "4",
        "--duration",
        "3",
        "--drain",
        "30",
        "--messages",
        "2",
        "--think-ms",
        "50",
        "--idle",
        "0",
        "--baseline-secs",
        "0",
        "--progress",
        "false",
    ];
    args.extend_from_slice(extra);
    Options::parse_from(args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_steady_run_loses_and_doubles_nothing() {
    let server = spawn_server().await;
    let report: Report = switchboard_bench::run(options(&server.url, &[]))
        .await
        .expect("the bench runs");
    server.stop().await;
    print!("{}", report.table());
    let step = &report.steps[0];
    assert!(step.chats_started > 0, "no chat arrived");
    assert_eq!(
        step.chats_finished, step.chats_started,
        "chats left unfinished"
    );
    assert!(step.customer_to_agent.count > 0 && step.agent_to_customer.count > 0);
    assert_eq!(report.lost(), 0, "lost: {:?}", step.ledger.lost_ids);
    assert_eq!(
        report.doubled(),
        0,
        "doubled: {:?}",
        step.ledger.doubled_ids
    );
    assert_eq!(report.unknown(), 0);
    assert_eq!(report.errors(), 0, "errors: {:?}", step.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_test_sees_the_planted_loss_and_duplicate() {
    let server = spawn_server().await;
    let report = switchboard_bench::run(options(&server.url, &["--self-test"]))
        .await
        .expect("the bench runs");
    server.stop().await;
    let t = report.self_test.clone().expect("a self-test verdict");
    assert!(t.passed, "{t:?}");
    assert_eq!(report.lost(), 1);
    assert_eq!(report.doubled(), 1);
}
