//! Switchboard's load generator: customers and agents over the public protocol (REST and
//! the two WebSockets), open-loop arrivals, latency percentiles, lost and doubled messages
//! counted by id, and the baselines our figures are compared with. `main.rs` is a thin
//! command line over [`run`]; tests call [`run`] with [`Options`] of their own.

pub mod agent;
pub mod baseline;
pub mod chart;
pub mod clock;
pub mod command_id;
pub mod conn;
pub mod ctx;
pub mod customer;
pub mod idle;
pub mod ledger;
pub mod load;
pub mod machine;
pub mod options;
pub mod report;
pub mod scenario;
pub mod server;
pub mod setup;
pub mod stamp;
pub mod stats;
pub mod step;
pub mod threads;

pub use options::{Options, Scenario};
pub use report::Report;

/// Runs what the options ask for (against `--url`, or a server it starts and stops).
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    scenario::run(opts).await
}
