//! A bare WebSocket echo on the loopback (tokio-tungstenite both ends, in this process):
//! the floor under any message's latency. Measured twice: open loop at a fixed rate spread
//! over many connections (latency of a round trip), and closed loop (the most round trips a
//! second this machine does).

use crate::clock::{now_us, since_us};
use crate::conn;
use crate::stats::{Samples, Summary};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

pub const OPEN_LOOP_RATE: f64 = 1000.0;
const OPEN_LOOP_CONNS: usize = 100;
const CLOSED_LOOP_CONNS: usize = 32;

#[derive(Clone, Debug, Serialize)]
pub struct EchoBaseline {
    /// Round trips at `open_loop_rate` a second over `open_loop_connections`.
    pub open_loop_rate: f64,
    pub open_loop_connections: usize,
    pub round_trip: Summary,
    /// Round trips a second, each connection with one in flight.
    pub closed_loop_per_s: f64,
    pub closed_loop_connections: usize,
}

async fn serve(listener: TcpListener) {
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut tx, mut rx) = ws.split();
            while let Some(Ok(m)) = rx.next().await {
                if m.is_text() && tx.send(m).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// A frame of the size of a chat event, carrying its send time.
fn frame(t: u64) -> String {
    format!(
        r#"{{"type":"event","t":{t},"event":{{"type":"message","text":"{}"}}}}"#,
        "z".repeat(160)
    )
}

fn sent_at(text: &str) -> Option<u64> {
    let rest = text.split("\"t\":").nth(1)?;
    rest.split(',').next()?.parse().ok()
}

/// Measures on a runtime of its own with a worker per core (as the server's), on a thread of
/// its own: the figure is the machine's, not the bench's `--threads`.
pub async fn run(secs: Duration) -> anyhow::Result<EchoBaseline> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(measure(secs))
    })
    .await?
}

async fn measure(secs: Duration) -> anyhow::Result<EchoBaseline> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = tokio::spawn(serve(listener));

    // Open loop: each connection sends on its own schedule, whatever the answers do.
    let samples = Arc::new(Samples::default());
    let mut tasks = Vec::new();
    let gap = Duration::from_secs_f64(OPEN_LOOP_CONNS as f64 / OPEN_LOOP_RATE);
    for i in 0..OPEN_LOOP_CONNS {
        let ws = conn::connect(&url).await?;
        let samples = samples.clone();
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let reader = tokio::spawn(async move {
                while let Some(Ok(Message::Text(t))) = rx.next().await {
                    if let Some(t0) = sent_at(&t) {
                        samples.record_us(since_us(t0));
                    }
                }
            });
            let offset = gap.mul_f64(i as f64 / OPEN_LOOP_CONNS as f64);
            let start = Instant::now() + offset;
            let mut k = 0u32;
            loop {
                let at = start + gap * k;
                if at.duration_since(start) >= secs {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                if tx
                    .send(Message::Text(frame(now_us()).into()))
                    .await
                    .is_err()
                {
                    break;
                }
                k += 1;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tx.close().await;
            reader.abort();
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let round_trip = samples.summary();

    // Closed loop: one in flight per connection, as fast as it goes.
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..CLOSED_LOOP_CONNS {
        let mut ws = conn::connect(&url).await?;
        let count = count.clone();
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < secs {
                if !conn::send(&mut ws, frame(now_us())).await {
                    break;
                }
                if conn::next_text(&mut ws).await.is_none() {
                    break;
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
            let _ = ws.close(None).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let closed_loop_per_s = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    server.abort();
    Ok(EchoBaseline {
        open_loop_rate: OPEN_LOOP_RATE,
        open_loop_connections: OPEN_LOOP_CONNS,
        round_trip,
        closed_loop_per_s,
        closed_loop_connections: CLOSED_LOOP_CONNS,
    })
}
