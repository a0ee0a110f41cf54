//! Idle connections: customers waiting in queues that have no agents, their sockets open and
//! silent (the library answers the server's pings). What they cost the server is what the
//! `idle` scenario measures.

use crate::conn::{self, Slot};
use crate::ctx::Ctx;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub struct IdleSet {
    pub opened: u64,
    pub failed: u64,
    /// Connections the server closed while they were held.
    pub dropped: Arc<AtomicU64>,
    release: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl IdleSet {
    /// Connections still open.
    pub fn held(&self) -> u64 {
        self.opened - self.dropped.load(Ordering::Relaxed)
    }

    pub async fn close(mut self) {
        let _ = self.release.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl IdleSet {
    pub fn new() -> IdleSet {
        let (release, _) = watch::channel(false);
        IdleSet {
            opened: 0,
            failed: 0,
            dropped: Arc::new(AtomicU64::new(0)),
            release,
            tasks: JoinSet::new(),
        }
    }

    /// Opens `n` more idle connections (fewer if the connection cap is reached); `first`
    /// numbers them, which spreads them over the idle queues.
    pub async fn open_more(&mut self, ctx: &Arc<Ctx>, first: usize, n: usize) {
        let gate = Arc::new(Semaphore::new(32));
        let mut starting = JoinSet::new();
        for i in first..first + n {
            let Some(slot) = ctx.conns.reserve() else {
                break;
            };
            let asset = ctx.fixture.idle_asset_ids[i % ctx.fixture.idle_asset_ids.len()].clone();
            let permit = gate.clone().acquire_owned().await.expect("gate open");
            let ctx = ctx.clone();
            starting.spawn(async move {
                let r = connect(&ctx, &asset, slot).await;
                drop(permit);
                r
            });
        }
        while let Some(r) = starting.join_next().await {
            match r {
                Ok(Some((ws, slot))) => {
                    self.opened += 1;
                    let mut rx = self.release.subscribe();
                    let dropped = self.dropped.clone();
                    self.tasks.spawn(hold(ws, slot, dropped, async move {
                        let _ = rx.wait_for(|v| *v).await;
                    }));
                }
                _ => self.failed += 1,
            }
        }
    }
}

impl Default for IdleSet {
    fn default() -> Self {
        IdleSet::new()
    }
}

async fn connect(ctx: &Ctx, asset: &str, mut slot: Slot) -> Option<(conn::Ws, Slot)> {
    let (_, token) = crate::setup::start_chat(&ctx.http, &ctx.base, asset, "Idle customer")
        .await
        .ok()?;
    let mut ws = conn::connect(&format!("{}/api/v1/ws/customer", ctx.ws_base))
        .await
        .ok()?;
    slot.opened();
    let hello = json!({"type": "hello", "token": token, "last_seq": 0});
    if !conn::send(&mut ws, hello.to_string()).await {
        return None;
    }
    match conn::next_text(&mut ws).await {
        Some(t) if t.contains("\"welcome\"") => Some((ws, slot)),
        _ => None,
    }
}

async fn hold(
    mut ws: conn::Ws,
    mut slot: Slot,
    dropped: Arc<AtomicU64>,
    release: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(release);
    loop {
        tokio::select! {
            frame = conn::next_text(&mut ws) => {
                if frame.is_none() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            _ = &mut release => {
                let _ = ws.close(None).await;
                break;
            }
        }
    }
    slot.closed();
}
