//! What a run does, from the command line (or built in code by tests).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Baselines, idle, burst, reconnect-storm and steady (each rate of --rates), in that
    /// order, the idle connections held throughout.
    All,
    /// Open-loop chats at each rate of --rates, one step per rate (with the --idle
    /// connections held, as in every scenario: the budget's 10,000 connections).
    Steady,
    /// --base-rate, with --burst-factor times that rate for --burst-secs.
    Burst,
    /// --base-rate; half way through, --storm-fraction of the clients drop
    /// their sockets at once and resume (lost and doubled messages must be zero).
    ReconnectStorm,
    /// --idle customer connections held open; the server's memory per connection.
    Idle,
}

#[derive(Clone, Debug, Parser, serde::Serialize)]
#[command(
    name = "switchboard-bench",
    about = "Load generator for Switchboard: customers and agents over the public protocol"
)]
pub struct Options {
    #[arg(long, value_enum, default_value = "all")]
    pub scenario: Scenario,
    /// Plant one dropped and one duplicated message and check that both are reported.
    #[arg(long)]
    pub self_test: bool,
    /// A running server (http://host:port) instead of starting one.
    #[arg(long)]
    pub url: Option<String>,
    /// The server's pid when --url is given, to read its memory from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server binary started (as `serve --demo`) when no --url is given.
    #[arg(long, default_value = "target/release/switchboard")]
    pub server_bin: PathBuf,
    #[arg(long, default_value = "admin@demo.switchboard.test")]
    pub admin_email: String,
    #[arg(long, default_value = "switchboard-admin")]
    pub admin_password: String,
    /// Agents signed in and Available for the whole run.
    #[arg(long, default_value_t = 1000)]
    pub agents: usize,
    /// Chats each agent may hold at once.
    #[arg(long, default_value_t = 5)]
    pub capacity: u32,
    /// New chats per second, one steady step per value.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,40")]
    pub rates: Vec<f64>,
    /// Seconds of arrivals per step.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds a step waits after its last arrival for its chats to finish.
    #[arg(long, default_value_t = 40)]
    pub drain: u64,
    /// Messages a customer writes per chat (the agent greets and answers each: 2n+1 in all).
    #[arg(long, default_value_t = 5)]
    pub messages: u32,
    /// Mean think time before each message, both sides (uniform in 0.5..1.5 of it).
    #[arg(long, default_value_t = 1000)]
    pub think_ms: u64,
    /// A customer who hears nothing back this long writes on anyway (counted).
    #[arg(long, default_value_t = 20)]
    pub reply_timeout: u64,
    /// Idle customer connections opened before the steps and held open through them, in
    /// every scenario (the server's memory per connection is measured as they open); 0 for
    /// none.
    #[arg(long, default_value_t = 5000)]
    pub idle: usize,
    /// New chats per second in `burst` (before and after the burst) and `reconnect-storm`.
    #[arg(long, default_value_t = 20.0)]
    pub base_rate: f64,
    #[arg(long, default_value_t = 5.0)]
    pub burst_factor: f64,
    #[arg(long, default_value_t = 5)]
    pub burst_secs: u64,
    #[arg(long, default_value_t = 0.5)]
    pub storm_fraction: f64,
    /// Most connections the bench holds at once. Each holds a socket in the bench and one in
    /// the server, and each process may open 20,000 files on these machines (`ulimit -n`,
    /// per process): 12,000 leaves room for both and is past the budget's 10,000.
    #[arg(long, default_value_t = 12000)]
    pub max_connections: usize,
    /// Seconds each baseline runs (0: no baselines).
    #[arg(long, default_value_t = 5)]
    pub baseline_secs: u64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency chart (SVG) here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Threads that run the bench's clients. One by default: the bench shares the machine
    /// with the server it measures, and one thread spends the least CPU a message (no
    /// hand-offs between threads; at ~18,000 messages a second it used under 60 % of a core).
    /// Give more where the bench has cores of its own. The echo baseline runs on a runtime of
    /// its own with a thread per core, as the server does.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// Print progress to stderr.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub progress: bool,
}

impl Options {
    /// Messages in one chat: the greeting, and each customer message with its answer.
    pub fn messages_per_chat(&self) -> f64 {
        2.0 * self.messages as f64 + 1.0
    }
}
