//! WebSocket connections as the bench's clients open them, and the count of those held.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Small buffers: the bench holds thousands of sockets.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

pub async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

pub async fn send(ws: &mut Ws, text: String) -> bool {
    ws.send(Message::Text(text.into())).await.is_ok()
}

/// The next text frame (pings are answered by the library), or None once the socket is gone.
pub async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// How many connections the bench holds, and a cap on them.
pub struct Conns {
    cap: usize,
    reserved: AtomicUsize,
    open: AtomicI64,
    max_open: AtomicI64,
}

impl Conns {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Conns {
            cap,
            reserved: AtomicUsize::new(0),
            open: AtomicI64::new(0),
            max_open: AtomicI64::new(0),
        })
    }

    /// A slot for one more client, unless the cap is reached.
    pub fn reserve(self: &Arc<Self>) -> Option<Slot> {
        let mut cur = self.reserved.load(Ordering::Relaxed);
        loop {
            if cur >= self.cap {
                return None;
            }
            match self.reserved.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Slot {
                        conns: self.clone(),
                        open: false,
                    })
                }
                Err(c) => cur = c,
            }
        }
    }

    pub fn open(&self) -> i64 {
        self.open.load(Ordering::Relaxed)
    }

    /// The most held at once since the last reset.
    pub fn take_max(&self) -> i64 {
        self.max_open.swap(self.open(), Ordering::Relaxed)
    }
}

/// A client's place under the cap; counts its socket while one is open.
pub struct Slot {
    conns: Arc<Conns>,
    open: bool,
}

impl Slot {
    pub fn opened(&mut self) {
        if !self.open {
            self.open = true;
            let n = self.conns.open.fetch_add(1, Ordering::Relaxed) + 1;
            self.conns.max_open.fetch_max(n, Ordering::Relaxed);
        }
    }

    pub fn closed(&mut self) {
        if self.open {
            self.open = false;
            self.conns.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.closed();
        self.conns.reserved.fetch_sub(1, Ordering::AcqRel);
    }
}
