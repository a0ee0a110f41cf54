//! The limits our figures are compared with, measured in the same run on the same machine:
//! durable SQLite commits of the rows a message writes, and a bare WebSocket echo.

pub mod echo;
pub mod sqlite;

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Baselines {
    pub sqlite: sqlite::SqliteBaseline,
    pub echo: echo::EchoBaseline,
}

pub async fn run(secs: u64) -> anyhow::Result<Baselines> {
    let secs = std::time::Duration::from_secs(secs);
    Ok(Baselines {
        sqlite: sqlite::run(secs).await?,
        echo: echo::run(secs).await?,
    })
}
