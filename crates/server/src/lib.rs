//! Switchboard's server: the engine (commands → core → store → connections), its timers, and
//! the gateway (REST and WebSocket). `serve` runs it on a listener until `shutdown` resolves,
//! so tests can bind port 0.

pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod demo;
pub mod engine;
pub mod http;
pub mod hub;
pub mod masking;
pub mod openapi;
pub mod typescript;
pub mod wire;
pub mod ws;

use engine::SharedEngine;
use std::future::Future;
use std::time::Duration;
use switchboard_core::Timestamp;
use tokio::net::TcpListener;

/// A time as RFC 3339 in UTC with exactly three decimals (`2026-11-25T10:44:24.360Z`), so
/// every such string has the same length.
pub fn rfc3339(t: Timestamp) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let nanos = (t.0 as i128) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|d| d.format(FORMAT).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_have_three_decimals() {
        let t = switchboard_core::Timestamp(1_795_603_464_360);
        assert_eq!(super::rfc3339(t), "2026-11-25T10:44:24.360Z");
        assert_eq!(
            super::rfc3339(switchboard_core::Timestamp(0)),
            "1970-01-01T00:00:00.000Z"
        );
    }
}

pub fn router(engine: SharedEngine) -> axum::Router {
    http::routes().with_state(engine)
}

/// Serves until `shutdown` resolves, then stops taking new work, closes every connection
/// with a reason, waits for requests in flight and returns. The caller closes the store.
pub async fn serve(
    listener: TcpListener,
    engine: SharedEngine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Alive before the first connection: others must not sweep this node's connections.
    if let Err(e) = engine.store.heartbeat(&engine.node_id, engine.now()).await {
        tracing::warn!(error = %e, "first heartbeat failed");
    }
    let heartbeat = tokio::spawn(engine.clone().run_heartbeat());
    let timers = tokio::spawn(engine.clone().run_timers());
    let app = router(engine.clone());
    let stopping = engine.clone();
    // Small frames are the whole traffic: send them at once (no Nagle delay).
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("stopping: no new work; closing connections");
            stopping.stop_accepting();
            stopping.hub.broadcast(hub::Item::Close("server stopping"));
        })
        .await;
    // Sessions close on their own after the Close item; give them a moment to do so.
    for _ in 0..50 {
        if engine.hub.connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    timers.abort();
    heartbeat.abort();
    result
}
