//! The binary as an operator runs it: SIGTERM stops it cleanly; SIGKILL loses nothing that was
//! acknowledged, and deadlines stored before the crash are honoured after the restart.

#[allow(dead_code)]
#[path = "../../server/tests/api/helpers.rs"]
mod helpers;

use helpers::{TempDir, Ws};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

struct Node {
    child: Child,
    base: String,
    ws: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data: &TempDir, port: u16) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return Node {
                    child,
                    base,
                    ws: format!("ws://127.0.0.1:{port}"),
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the node did not become ready");
}

impl Node {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn sign_in(&self, email: &str) -> String {
        let password = if email.starts_with("admin") {
            "switchboard-admin"
        } else {
            "switchboard-demo"
        };
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        r["token"].as_str().expect("signed in").to_string()
    }

    async fn agent(&self, email: &str) -> Ws {
        let token = self.sign_in(email).await;
        let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", self.ws)).await;
        ws.send(json!({"type": "hello", "token": token})).await;
        ws.expect_type("snapshot").await;
        let r = ws
            .command(json!({"type": "set_presence", "presence": "available"}))
            .await;
        assert_eq!(r["type"], "ack");
        ws
    }

    async fn asset_id(&self, admin: &str) -> String {
        self.get("/api/v1/admin/assets", admin).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn kill(&mut self) {
        signal(self.child.id().unwrap() as i32, 9);
    }
}

fn signal(pid: i32, signal: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_closes_sessions_and_exits_zero() {
    let data = TempDir::new();
    let mut node = start(&data, free_port()).await;
    let mut ana = node.agent("ana@demo.switchboard.test").await;
    signal(node.child.id().unwrap() as i32, 15);
    let (code, reason) = ana.closed().await;
    assert_eq!((code, reason.as_str()), (1001, "server stopping"));
    let status = tokio::time::timeout(Duration::from_secs(15), node.child.wait())
        .await
        .expect("it exits")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn after_sigkill_every_acknowledged_message_is_there_once_and_deadlines_hold() {
    let data = TempDir::new();
    let port = free_port();
    let mut node = start(&data, port).await;
    let admin = node.sign_in("admin@demo.switchboard.test").await;
    // Short offers, so the deadline stored before the crash comes soon after the restart.
    let queues = node.get("/api/v1/admin/queues", &admin).await;
    let support = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap();
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/admin/queues/{}",
            node.base,
            support["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .json(&json!({"offer_timeout_secs": 5}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let asset = node.asset_id(&admin).await;

    // A chat in full swing.
    let mut ana = node.agent("ana@demo.switchboard.test").await;
    let started = node
        .post(
            &format!("/api/v1/assets/{asset}/conversations"),
            None,
            json!({"name": "Jo"}),
        )
        .await;
    let (cid, token) = (
        started["conversation_id"].as_str().unwrap().to_string(),
        started["token"].as_str().unwrap().to_string(),
    );
    let mut jo = Ws::connect(&format!("{}/api/v1/ws/customer", node.ws)).await;
    jo.send(json!({"type": "hello", "token": token, "last_seq": 0}))
        .await;
    jo.expect_type("welcome").await;
    ana.expect_type("offer").await;
    assert_eq!(
        ana.command(json!({"type": "accept", "conversation_id": cid}))
            .await["type"],
        "ack"
    );
    let mut acked = Vec::new();
    for i in 0..20 {
        let (ws, text) = if i % 2 == 0 {
            (&mut jo, format!("customer {i}"))
        } else {
            (&mut ana, format!("agent {i}"))
        };
        let mut cmd = json!({"type": "send", "text": text});
        if i % 2 == 1 {
            cmd["conversation_id"] = json!(cid);
        }
        let ack = ws.command(cmd).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        acked.push((ack["seq"].as_u64().unwrap(), text));
    }
    // And a second chat on offer to Ana when the node dies.
    let second = node
        .post(
            &format!("/api/v1/assets/{asset}/conversations"),
            None,
            json!({"name": "Second"}),
        )
        .await;
    let second_id = second["conversation_id"].as_str().unwrap().to_string();
    let offer = ana.expect_type("offer").await;
    assert_eq!(offer["offer"]["conversation_id"], second_id.as_str());

    node.kill();
    let _ = node.child.wait().await;
    drop((ana, jo));

    let node = start(&data, port).await;
    // Every acknowledged message, exactly once, in order.
    let mut jo = Ws::connect(&format!("{}/api/v1/ws/customer", node.ws)).await;
    jo.send(json!({"type": "hello", "token": token, "last_seq": 0}))
        .await;
    jo.expect_type("welcome").await;
    let mut seen = Vec::new();
    while seen.len() < acked.len() {
        let m = jo.event(&cid, "message").await;
        seen.push((
            m["seq"].as_u64().unwrap(),
            m["event"]["text"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(seen, acked);
    // The offer stored before the crash runs out: Ben, Available on the new node, gets it.
    let mut ben = node.agent("ben@demo.switchboard.test").await;
    let offer = ben.expect_type("offer").await;
    assert_eq!(offer["offer"]["conversation_id"], second_id.as_str());
    let admin = node.sign_in("admin@demo.switchboard.test").await;
    let log = node
        .get(&format!("/api/v1/conversations/{second_id}/events"), &admin)
        .await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"offer_timed_out"), "{kinds:?}");
}
