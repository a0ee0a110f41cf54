//! The WebSocket side of the gateway: one socket per agent desktop (its state and all its
//! chats) and one per customer widget (its chat). Shared here: reading and limiting client
//! frames, heartbeats, and sending.

pub mod agent;
pub mod customer;

use crate::engine::{ClientId, EngineError, Outcome};
use crate::http::error::engine_error_code;
use crate::wire::{ServerFrame, MAX_FRAME_BYTES, MAX_ID_CHARS};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// How long a new socket has to send `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The server pings this often; a socket silent for `DEAD_AFTER` is closed.
pub const PING_EVERY: Duration = Duration::from_secs(20);
pub const DEAD_AFTER: Duration = Duration::from_secs(60);
/// Commands per second a connection may send (a bucket of `RATE_BURST`).
pub const RATE_PER_SEC: f64 = 20.0;
pub const RATE_BURST: f64 = 40.0;
/// Refused commands in a row after which the connection is closed.
pub const RATE_STRIKES: u32 = 100;
/// After closing a flooding connection, how long its unread frames are drained while the
/// client's Close comes back.
pub const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// The transport's own limit: beyond it the socket is closed (1009).
pub const MAX_TRANSPORT_BYTES: usize = 1024 * 1024;

/// Close codes we use (4000–4999 are the application's).
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_HELLO: u16 = 4400;
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// A message over the transport's limit (1 MiB).
pub const CLOSE_TOO_BIG: u16 = 1009;
/// The server could not serve the connection now (the store is unreachable): retry.
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// Frames a connection's loop may hold back to write together (see [`Socket::hold`]), and
/// the bytes past which held frames are written anyway.
const MAX_HELD: u32 = 16;
const HOLD_BYTES: usize = 8 * 1024;

/// A WebSocket upgrade with buffers sized for an idle chat, not for bulk transfer: the read
/// buffer (allocated per connection up front; tungstenite's default is 128 KiB) holds a
/// typical command frame in one read and grows for a longer one. The write buffer is not
/// allocated up front; frames are written when sent, unless held (`Socket::hold`).
pub fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_TRANSPORT_BYTES)
        .max_frame_size(MAX_TRANSPORT_BYTES)
        .read_buffer_size(512)
        .write_buffer_size(HOLD_BYTES)
}

pub struct Socket {
    sink: SplitSink<WebSocket, Message>,
    pub stream: SplitStream<WebSocket>,
    pub last_heard: Instant,
    tokens: f64,
    refill_at: Instant,
    strikes: u32,
    /// Frames sent wait for `write_held` (up to `MAX_HELD` of them).
    holding: bool,
    held: u32,
}

/// What came in from the client.
pub enum Incoming {
    /// A text frame, parsed as JSON with its `type` (already checked to be known).
    Frame(serde_json::Value),
    /// Answered already (an error frame was sent); keep going.
    Handled,
    /// The client closed, or the socket broke.
    Closed,
}

impl Socket {
    pub fn new(ws: WebSocket) -> Self {
        let (sink, stream) = ws.split();
        Socket {
            sink,
            stream,
            last_heard: Instant::now(),
            tokens: RATE_BURST,
            refill_at: Instant::now(),
            strikes: 0,
            holding: false,
            held: 0,
        }
    }

    /// Sends a frame: at once, or, while the connection holds, with the frames after it.
    /// (A `String` or a shared [`crate::hub::Frame`] goes out without a copy; a `&str` is
    /// copied.)
    pub async fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> bool {
        let frame = Message::Text(text.into());
        if self.holding && self.held < MAX_HELD {
            self.held += 1;
            self.sink.feed(frame).await.is_ok()
        } else {
            self.send_now(frame).await
        }
    }

    /// Writes a message now, after what was held (in order).
    async fn send_now(&mut self, message: Message) -> bool {
        self.held = 0;
        self.sink.send(message).await.is_ok()
    }

    /// From now on, frames sent wait for `write_held` (at most `MAX_HELD` of them, and
    /// `HOLD_BYTES`). A connection's loop holds, and writes what it holds whenever nothing
    /// more is queued for it, so that what goes out together — the ack of a message and the
    /// echo of that message, the events of one commit — is one write (one `send` system
    /// call, one wake-up of the client) instead of one a frame.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Writes the frames held.
    pub async fn write_held(&mut self) -> bool {
        if self.held == 0 {
            return true;
        }
        self.held = 0;
        self.sink.flush().await.is_ok()
    }

    pub async fn send(&mut self, frame: &ServerFrame) -> bool {
        self.send_text(frame.to_json()).await
    }

    pub async fn send_error(
        &mut self,
        id: Option<String>,
        code: &str,
        message: impl Into<String>,
    ) -> bool {
        // Written out first: no `ServerFrame` is kept in the future across the send.
        let text = ServerFrame::error(id, code, message).to_json();
        self.send_text(text).await
    }

    pub async fn ping(&mut self) -> bool {
        self.send_now(Message::Ping(Default::default())).await
    }

    pub async fn close(&mut self, code: u16, reason: &str) {
        self.send_now(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
        let _ = self.sink.close().await;
    }

    /// Reads and drops what the client has sent until its Close answers ours (bounded by
    /// `CLOSE_DRAIN`). Dropping a socket with frames still unread resets the connection,
    /// and the client then loses our Close frame and its reason.
    async fn drain(&mut self) {
        let _ = tokio::time::timeout(CLOSE_DRAIN, async {
            while let Some(Ok(m)) = self.stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// Turns one received message into a frame to act on, answering what is wrong with it.
    /// `known` lists the frame types this socket accepts.
    pub async fn accept(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        known: &[&str],
    ) -> Incoming {
        let text = match message {
            None => return Incoming::Closed,
            Some(Err(e)) => {
                // Over the transport's limit the read fails; say why before closing.
                let why = e.to_string();
                if why.contains("limit") || why.contains("too long") || why.contains("too big") {
                    self.close(CLOSE_TOO_BIG, "message too big").await;
                }
                return Incoming::Closed;
            }
            Some(Ok(Message::Close(_))) => return Incoming::Closed,
            Some(Ok(Message::Ping(_))) | Some(Ok(Message::Pong(_))) => {
                self.last_heard = Instant::now();
                return Incoming::Handled;
            }
            Some(Ok(Message::Binary(_))) => {
                self.last_heard = Instant::now();
                if let Some(outcome) = self.charge(None).await {
                    return outcome;
                }
                self.send_error(None, "binary_not_supported", "frames are JSON text")
                    .await;
                return Incoming::Handled;
            }
            Some(Ok(Message::Text(t))) => t,
        };
        self.last_heard = Instant::now();
        // Every frame costs a token, whatever it holds, so junk cannot flood either.
        let parsed = (text.len() <= MAX_FRAME_BYTES)
            .then(|| serde_json::from_str::<serde_json::Value>(text.as_str()));
        let id = match &parsed {
            Some(Ok(v)) => v.get("id").and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        };
        if let Some(outcome) = self.charge(id.clone()).await {
            return outcome;
        }
        let value = match parsed {
            None => {
                self.send_error(
                    None,
                    "frame_too_large",
                    format!("a frame may have at most {MAX_FRAME_BYTES} bytes"),
                )
                .await;
                return Incoming::Handled;
            }
            Some(Err(e)) => {
                self.send_error(None, "malformed", format!("not JSON: {e}"))
                    .await;
                return Incoming::Handled;
            }
            Some(Ok(v)) => v,
        };
        match value.get("type").and_then(|t| t.as_str()) {
            Some(t) if known.contains(&t) => {}
            Some(t) => {
                let t = t.chars().take(40).collect::<String>();
                self.send_error(id, "unknown_type", format!("unknown frame type {t:?}"))
                    .await;
                return Incoming::Handled;
            }
            None => {
                self.send_error(
                    id,
                    "malformed",
                    "a frame is a JSON object with a string \"type\"",
                )
                .await;
                return Incoming::Handled;
            }
        }
        if let Some(id) = &id {
            if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
                self.send_error(
                    None,
                    "invalid_id",
                    format!("\"id\" must be 1 to {MAX_ID_CHARS} characters"),
                )
                .await;
                return Incoming::Handled;
            }
        }
        Incoming::Frame(value)
    }

    /// Takes a token for a frame; when none is left the frame is refused (`rate_limited`),
    /// and after too many refusals in a row the connection is closed.
    async fn charge(&mut self, id: Option<String>) -> Option<Incoming> {
        if self.take_token() {
            self.strikes = 0;
            return None;
        }
        self.strikes += 1;
        if self.strikes >= RATE_STRIKES {
            self.close(CLOSE_POLICY, "too many commands").await;
            self.drain().await;
            return Some(Incoming::Closed);
        }
        self.send_error(
            id,
            "rate_limited",
            format!("at most {RATE_PER_SEC} commands a second; this one was not run: send it again later"),
        )
        .await;
        Some(Incoming::Handled)
    }

    fn take_token(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refill_at).as_secs_f64();
        self.refill_at = now;
        self.tokens = (self.tokens + elapsed * RATE_PER_SEC).min(RATE_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sends the answer to a command: its ack (first or replayed) or its error.
    pub async fn answer(&mut self, id: &str, result: Result<Outcome, EngineError>) -> bool {
        match result {
            Ok(Outcome::Done { seq }) => {
                self.send(&ServerFrame::Ack {
                    id: id.to_string(),
                    seq,
                })
                .await
            }
            Ok(Outcome::Replayed(response)) => self.send_text(response).await,
            Err(e) => {
                let (code, message) = engine_error_code(&e);
                self.send_error(Some(id.to_string()), code, message).await
            }
        }
    }
}

/// Parses a frame already known by type into its command struct. From a borrowed value: the
/// caller keeps the frame (its fingerprint, its id for an error) without a copy of it.
pub fn parse_frame<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| e.to_string())
}

/// The command's id, scoped to its sender, and a fingerprint of what it asks: the hash of the
/// frame's JSON without its `id`, written the way `serde_json` writes the parsed frame (keys
/// sorted), so key order and whitespace do not count. Fingerprints are stored with the
/// command: this text must not change, or a retry across an upgrade would be `id_reused`.
pub fn client_id(scope: String, id: &str, frame: &serde_json::Value) -> ClientId {
    let fingerprint = match frame {
        serde_json::Value::Object(fields) => crate::auth::sha256_hex_of_json(&WithoutId(fields)),
        other => crate::auth::sha256_hex_of_json(other),
    };
    ClientId {
        scope,
        id: id.to_string(),
        fingerprint,
    }
}

/// A frame's fields but `id`, serialised as the frame's own map would be (hashed without
/// copying the frame).
struct WithoutId<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl serde::Serialize for WithoutId<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(key, _)| key.as_str() != "id"))
    }
}

/// The store could not be reached while opening: the client should retry as it is.
pub async fn store_unavailable(socket: &mut Socket) {
    socket
        .send_error(
            None,
            "store_unavailable",
            "the store could not be reached; retry",
        )
        .await;
    socket.close(CLOSE_TRY_AGAIN, "try again").await;
}

/// Waits for the `hello` frame and parses it as this socket's frame type; a `hello` that does
/// not parse is answered and the socket closed.
pub async fn read_hello<T: DeserializeOwned>(socket: &mut Socket, known: &[&str]) -> Option<T> {
    let hello = wait_hello(socket, known).await?;
    match parse_frame::<T>(&hello) {
        Ok(frame) => Some(frame),
        Err(e) => {
            socket.send_error(None, "invalid_command", e).await;
            socket.close(CLOSE_HELLO, "bad hello").await;
            None
        }
    }
}

async fn wait_hello(socket: &mut Socket, known: &[&str]) -> Option<serde_json::Value> {
    // One deadline for the whole wait: pings do not keep an unauthenticated socket open.
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.stream.next()).await;
        let Ok(message) = next else {
            socket.close(CLOSE_HELLO, "no hello").await;
            return None;
        };
        match socket.accept(message, known).await {
            Incoming::Frame(v) if v["type"] == "hello" => return Some(v),
            Incoming::Frame(v) if v["type"] == "ping" => {
                socket.send(&ServerFrame::Pong).await;
            }
            Incoming::Frame(v) => {
                // A command of this socket, but too early: the connection stays open.
                let id = v.get("id").and_then(|i| i.as_str()).map(str::to_string);
                socket
                    .send_error(id, "hello_required", "send hello (with your token) first")
                    .await;
            }
            Incoming::Handled => {}
            Incoming::Closed => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// How fingerprints were made before they were hashed as written: stored fingerprints
    /// must still match.
    fn copied_fingerprint(frame: &serde_json::Value) -> String {
        let mut without_id = frame.clone();
        if let Some(o) = without_id.as_object_mut() {
            o.remove("id");
        }
        crate::auth::sha256_hex(without_id.to_string().as_bytes())
    }

    #[test]
    fn a_fingerprint_is_the_hash_of_the_frame_without_its_id() {
        let frames = [
            json!({"type": "send", "id": "c-1", "text": "Hello \"there\" ☎ \u{1}"}),
            json!({"id": "a-9", "type": "transfer", "conversation_id": "x", "note": null,
                   "to": {"queue": "q", "skills": [1, 2.5, true]}}),
            json!({"id": "only"}),
            json!({}),
            json!(["not", "an", "object"]),
        ];
        for frame in &frames {
            let made = client_id("s".into(), "id", frame).fingerprint;
            assert_eq!(made, copied_fingerprint(frame), "{frame}");
        }
        // Key order does not count; a field sent as null differs from one left out.
        let a = client_id("s".into(), "1", &json!({"id": "1", "a": 1, "b": 2})).fingerprint;
        let b = client_id("s".into(), "2", &json!({"b": 2, "a": 1, "id": "2"})).fingerprint;
        let c = client_id(
            "s".into(),
            "3",
            &json!({"id": "3", "a": 1, "b": 2, "c": null}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c.fingerprint);
    }
}
