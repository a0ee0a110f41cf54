//! Test helpers: a server on port 0 with a manual clock and the demo set, and real HTTP and
//! WebSocket clients for agents and customers.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use switchboard_server::clock::ManualClock;
use switchboard_server::engine::{Engine, SharedEngine};
use switchboard_store::Store;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that must come before it fails (not a timing claim:
/// only a bound on a hung test).
pub const PATIENCE: Duration = Duration::from_secs(15);

pub const ANA: &str = "ana@demo.switchboard.test";
pub const BEN: &str = "ben@demo.switchboard.test";
pub const CHLOE: &str = "chloe@demo.switchboard.test";
pub const DEV: &str = "dev@demo.switchboard.test";
pub const ADMIN: &str = "admin@demo.switchboard.test";

pub struct TestApp {
    pub base: String,
    pub ws: String,
    pub engine: SharedEngine,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub asset_id: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

/// A temporary folder removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("sb-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Logs only when `TEST_LOG` is set.
fn init_tracing() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,sqlx=warn"))
            .with_test_writer()
            .try_init();
    }
}

/// A server on SQLite in a fresh folder, with the demo set.
pub async fn spawn_app() -> TestApp {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("sb.db").display());
    let mut app = spawn_app_on(&url).await;
    app._dir = Some(dir);
    app
}

/// A server on the given database (seeding the demo set if it is empty).
pub async fn spawn_app_on(url: &str) -> TestApp {
    spawn_node(url, None).await
}

/// A node of a cluster: the given database, and NATS at `bus` (url, subject prefix).
pub async fn spawn_node(url: &str, bus: Option<(&str, &str)>) -> TestApp {
    init_tracing();
    let store = Store::open(url).await.expect("store opens");
    let clock = ManualClock::new(switchboard_core::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    ));
    let engine = Engine::new(store, clock.clone());
    if let Some((nats, prefix)) = bus {
        let bus = switchboard_server::bus::Bus::connect(nats, prefix, &engine.node_id)
            .await
            .expect("NATS reachable");
        engine.attach_bus(bus).await.expect("bus attaches");
    }
    let demo = switchboard_server::demo::seed(&engine)
        .await
        .expect("demo seeds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let e = engine.clone();
    let server = tokio::spawn(async move {
        switchboard_server::serve(listener, e, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base: format!("http://{addr}"),
        ws: format!("ws://{addr}"),
        engine,
        clock,
        http: reqwest::Client::new(),
        asset_id: demo.asset_id.to_string(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: None,
    }
}

impl TestApp {
    /// Stops the server as SIGTERM would, and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(PATIENCE, h).await;
        }
        self.engine.store.close().await;
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn sign_in(&self, email: &str) -> String {
        let password = if email.starts_with("admin") {
            switchboard_server::demo::DEMO_ADMIN_PASSWORD
        } else {
            switchboard_server::demo::DEMO_PASSWORD
        };
        let (status, body) = self
            .post(
                "/api/v1/sessions",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 201, "sign-in of {email}: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Signs in, opens the desktop socket, reads the snapshot.
    pub async fn agent(&self, email: &str) -> Agent {
        let token = self.sign_in(email).await;
        let mut agent = Agent {
            ws: Ws::connect(&format!("{}/api/v1/ws/agent", self.ws)).await,
            token,
            id: String::new(),
            snapshot: Value::Null,
        };
        agent.hello(json!({})).await;
        agent
    }

    /// Opens another desktop socket with a session token already signed in.
    pub async fn reconnect(&self, token: &str) -> Agent {
        let mut agent = Agent {
            ws: Ws::connect(&format!("{}/api/v1/ws/agent", self.ws)).await,
            token: token.to_string(),
            id: String::new(),
            snapshot: Value::Null,
        };
        agent.hello(json!({})).await;
        agent
    }

    /// Sends a request with any method; the body is JSON when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Starts a chat on the demo asset: (conversation id, customer token).
    pub async fn start_chat(&self, body: Value) -> (String, String) {
        self.start_chat_on(&self.asset_id, body).await
    }

    /// Starts a chat on the given asset: (conversation id, customer token).
    pub async fn start_chat_on(&self, asset_id: &str, body: Value) -> (String, String) {
        let (status, started) = self
            .post(
                &format!("/api/v1/assets/{asset_id}/conversations"),
                None,
                body,
            )
            .await;
        assert_eq!(status, 201, "start: {started}");
        (
            started["conversation_id"].as_str().unwrap().to_string(),
            started["token"].as_str().unwrap().to_string(),
        )
    }

    pub async fn customer(&self, token: &str, last_seq: u64) -> Customer {
        let mut ws = Ws::connect(&format!("{}/api/v1/ws/customer", self.ws)).await;
        ws.send(json!({"type": "hello", "token": token, "last_seq": last_seq}))
            .await;
        let welcome = ws.expect_type("welcome").await;
        Customer { ws, welcome }
    }

    /// Polls a conversation's log (read with `token`, an admin's say) until `pred` holds
    /// for it; returns the log's events. A wait for the server to get there, not a timing
    /// claim: it fails only when the test's patience runs out.
    pub async fn log_until(
        &self,
        token: &str,
        cid: &str,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, log) = self
                .get(&format!("/api/v1/conversations/{cid}/events"), Some(token))
                .await;
            assert_eq!(status, 200, "log of {cid}: {log}");
            let events = log.as_array().cloned().unwrap_or_default();
            if pred(&events) {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {what}; log: {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until GET `path` with `token` answers `status`.
    pub async fn get_until(&self, path: &str, token: &str, status: u16) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (s, body) = self.get(path, Some(token)).await;
            if s == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {path} to answer {status}; last {s} {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the account's agent is in the given presence (the timers act on their own
    /// time after the clock moves).
    pub async fn wait_presence(&self, token: &str, state: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, me) = self.get("/api/v1/me", Some(token)).await;
            if me["agent"]["presence"]["state"] == state {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "not {state}: {me}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the server has recorded that the agent has no connection left (its
    /// socket was dropped). Only a point to synchronise on before moving the clock: the
    /// server learns of a closed socket on its own time.
    pub async fn wait_agent_disconnected(&self, agent_id: &str) {
        let id: switchboard_core::AgentId = agent_id.parse().unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let row = self.engine.store.agent(id).await.unwrap().unwrap();
            if row.state.connections.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never noticed that {agent_id}'s socket closed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Looks up a demo list entry's id by name (idle codes, wrap-up reasons).
    pub async fn id_of(&self, token: &str, list: &str, name: &str) -> String {
        let (_, items) = self.get(&format!("/api/v1/{list}"), Some(token)).await;
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The types of a log's events, in order.
pub fn kinds(log: &[Value]) -> Vec<String> {
    log.iter()
        .map(|e| e["event"]["type"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A JSON WebSocket client that keeps frames it has not been asked for yet.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub buffer: VecDeque<Value>,
    pub closed: Option<(u16, String)>,
    next_id: u64,
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connects");
        Ws {
            stream,
            buffer: VecDeque::new(),
            closed: None,
            next_id: 0,
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, text: String) {
        self.stream.send(Message::Text(text.into())).await.unwrap();
    }

    pub fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("c{}-{}", self.next_id, uuid::Uuid::new_v4().simple())
    }

    /// Reads one more frame into the buffer; false when the socket closed.
    async fn pull(&mut self) -> bool {
        let msg = tokio::time::timeout(PATIENCE, self.stream.next())
            .await
            .expect("a frame within the test's patience");
        match msg {
            Some(Ok(Message::Text(t))) => {
                self.buffer
                    .push_back(serde_json::from_str(t.as_str()).unwrap());
                true
            }
            Some(Ok(Message::Close(frame))) => {
                self.closed = Some(
                    frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new())),
                );
                false
            }
            Some(Ok(_)) => true,
            Some(Err(_)) | None => {
                self.closed.get_or_insert((1006, String::new()));
                false
            }
        }
    }

    /// The first frame (buffered or new) that matches, removed from the buffer.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            if let Some(i) = self.buffer.iter().position(&pred) {
                return self.buffer.remove(i).unwrap();
            }
            if !self.pull().await {
                panic!(
                    "socket closed ({:?}) while waiting for {what}; had {:?}",
                    self.closed, self.buffer
                );
            }
        }
    }

    pub async fn expect_type(&mut self, t: &str) -> Value {
        let t2 = t.to_string();
        self.wait_for(t, move |v| v["type"] == t2.as_str()).await
    }

    /// Sends a command with a fresh id and returns its answer; a `rate_limited` refusal is
    /// sent again after a pause, as a client should.
    pub async fn command(&mut self, mut v: Value) -> Value {
        let id = self.fresh_id();
        v["id"] = json!(id);
        loop {
            let answer = self.command_with_id(v.clone()).await;
            if answer["code"] != "rate_limited" {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn command_with_id(&mut self, v: Value) -> Value {
        let id = v["id"].as_str().unwrap().to_string();
        self.send(v).await;
        self.wait_for("the answer", |f| {
            f["id"] == id.as_str() && (f["type"] == "ack" || f["type"] == "error")
        })
        .await
    }

    /// The next event frame of a conversation of the given event type.
    pub async fn event(&mut self, cid: &str, event_type: &str) -> Value {
        let (c, t) = (cid.to_string(), event_type.to_string());
        self.wait_for(event_type, move |f| {
            f["type"] == "event"
                && f["conversation_id"] == c.as_str()
                && f["event"]["type"] == t.as_str()
        })
        .await
    }

    /// The next frame (buffered first), or None once the socket is closed.
    pub async fn next_frame(&mut self) -> Option<Value> {
        loop {
            if let Some(f) = self.buffer.pop_front() {
                return Some(f);
            }
            if self.closed.is_some() || !self.pull().await {
                return None;
            }
        }
    }

    /// A ping answered by a pong: every frame the server sent before it is in the buffer.
    pub async fn round_trip(&mut self) {
        self.send(json!({"type": "ping"})).await;
        self.expect_type("pong").await;
    }

    /// Waits until the server closes the socket; returns the close code.
    pub async fn closed(&mut self) -> (u16, String) {
        while self.closed.is_none() {
            self.pull().await;
        }
        self.closed.clone().unwrap()
    }

    /// Every event frame of a conversation received so far (buffered), in order.
    pub fn buffered_events(&self, cid: &str) -> Vec<Value> {
        self.buffer
            .iter()
            .filter(|f| f["type"] == "event" && f["conversation_id"] == cid)
            .cloned()
            .collect()
    }
}

pub struct Agent {
    pub ws: Ws,
    pub token: String,
    pub id: String,
    pub snapshot: Value,
}

impl Agent {
    pub async fn hello(&mut self, resume: Value) {
        let token = self.token.clone();
        self.ws
            .send(json!({"type": "hello", "token": token, "resume": resume}))
            .await;
        self.snapshot = self.ws.expect_type("snapshot").await;
        self.id = self.snapshot["agent"]["agent_id"]
            .as_str()
            .unwrap()
            .to_string();
    }

    pub async fn available(&mut self) {
        let r = self
            .ws
            .command(json!({"type": "set_presence", "presence": "available"}))
            .await;
        assert_eq!(r["type"], "ack", "{r}");
    }

    pub async fn expect_offer(&mut self) -> Value {
        self.ws.expect_type("offer").await["offer"].clone()
    }

    pub async fn accept(&mut self, cid: &str) -> Value {
        self.ws
            .command(json!({"type": "accept", "conversation_id": cid}))
            .await
    }

    pub async fn say(&mut self, cid: &str, text: &str) -> Value {
        self.ws
            .command(json!({"type": "send", "conversation_id": cid, "text": text}))
            .await
    }

    pub async fn idle(&mut self, idle_code_id: &str) -> Value {
        self.ws
            .command(
                json!({"type": "set_presence", "presence": "idle", "idle_code_id": idle_code_id}),
            )
            .await
    }

    pub async fn end(&mut self, cid: &str) -> Value {
        self.ws
            .command(json!({"type": "end", "conversation_id": cid}))
            .await
    }

    pub async fn wrap_up(&mut self, cid: &str, reason_id: &str) -> Value {
        self.ws
            .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": reason_id}))
            .await
    }

    /// The next `presence` frame whose state is `state`.
    pub async fn presence(&mut self, state: &str) -> Value {
        let s = state.to_string();
        self.ws
            .wait_for(state, move |f| {
                f["type"] == "presence" && f["agent"]["presence"]["state"] == s.as_str()
            })
            .await
    }

    /// Has an offer frame arrived (before whatever was last waited for)?
    pub fn has_offer_buffered(&self) -> bool {
        self.ws.buffer.iter().any(|f| f["type"] == "offer")
    }
}

pub struct Customer {
    pub ws: Ws,
    pub welcome: Value,
}

impl Customer {
    pub async fn say(&mut self, text: &str) -> Value {
        self.ws.command(json!({"type": "send", "text": text})).await
    }

    pub async fn end(&mut self) -> Value {
        self.ws.command(json!({"type": "end"})).await
    }

    /// The next `position` frame's position.
    pub async fn position(&mut self) -> u64 {
        self.ws.expect_type("position").await["position"]
            .as_u64()
            .unwrap()
    }
}
