//! The report: one record per step, the idle measurement, the baselines and our figures as
//! ratios of them; printed as a table and written as JSON.

use crate::baseline::Baselines;
use crate::ledger::Tally;
use crate::machine::Machine;
use crate::options::Options;
use crate::stats::Summary;
use crate::threads::ThreadGroup;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub name: String,
    pub scenario: String,
    pub offered_chats_per_s: f64,
    pub offered_messages_per_s: f64,
    pub arrival_secs: u64,
    pub agents: usize,
    pub idle_connections: u64,
    pub chats_started: u64,
    pub chats_finished: u64,
    pub chats_wrapped_up: u64,
    pub skipped_at_connection_cap: u64,
    pub reply_timeouts: u64,
    pub reconnects: u64,
    /// Mean over the second half of the arrivals (steady state).
    pub messages_in_per_s: f64,
    /// The same mean over each half of that second half: a rate still rising between them is
    /// the load filling up, not a steady state ([`StepReport::rate_still_rising`]).
    pub messages_in_per_s_quarters: [f64; 2],
    pub messages_out_per_s: f64,
    pub messages_in_peak_per_s: u64,
    pub customer_to_agent: Summary,
    pub agent_to_customer: Summary,
    pub arrival_to_offer_with_room: Summary,
    pub arrival_to_offer_queued: Summary,
    pub ack_message: Summary,
    pub ack_other: Summary,
    pub reconnect: Summary,
    pub ledger: Tally,
    pub errors: BTreeMap<String, u64>,
    pub error_total: u64,
    pub connections_max: i64,
    pub server_rss_kib: Option<u64>,
    /// CPU used during the arrivals, in percent of one core (200 = both cores of this machine).
    pub server_cpu_percent: Option<f64>,
    /// The server's CPU time over the arrivals divided by the messages that came in then (µs).
    pub server_cpu_us_per_message_in: Option<f64>,
    /// Messages that came in during the arrivals (what the CPU figures are shared out over).
    pub messages_in_during_arrivals: f64,
    /// The server's threads over the arrivals, by kind, busiest first (empty without
    /// `/proc/<pid>/task/*/schedstat`).
    pub server_threads: Vec<ThreadGroup>,
    pub bench_cpu_percent: Option<f64>,
    pub wall_secs: f64,
}

impl StepReport {
    /// Whether the rate in was still rising through the measured half: its second quarter
    /// over 10 % (and 20 messages/s) above its first. A steady step's chats pace themselves
    /// (each message waits for the answer to the one before), so chats that last longer than
    /// half the arrivals are still adding up when the measured half begins; the rate in is
    /// then that ramp, below what the server could take, and says nothing of its limit.
    pub fn rate_still_rising(&self) -> bool {
        rising(self.messages_in_per_s_quarters)
    }
}

/// Whether a rate measured over two consecutive spans, `[first, second]`, rose by more than
/// 10 % and more than 20 a second (below that, a Poisson load's own swing).
fn rising([first, second]: [f64; 2]) -> bool {
    second > first * 1.1 && second - first > 20.0
}

#[derive(Clone, Debug, Serialize)]
pub struct IdleReport {
    pub requested: usize,
    pub opened: u64,
    pub failed: u64,
    pub held_at_end: u64,
    pub held_secs: u64,
    pub server_rss_before_kib: Option<u64>,
    pub server_rss_after_kib: Option<u64>,
    pub server_kib_per_connection: Option<f64>,
    /// RSS when the first half was open.
    pub server_rss_half_kib: Option<u64>,
    /// The second half's growth per connection: the cost of one more idle connection.
    pub server_kib_per_connection_second_half: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SetupReport {
    pub agents: usize,
    /// Creating (or updating) the agents, signing them in and making them Available.
    pub secs: f64,
    pub server_rss_at_start_kib: Option<u64>,
    pub server_rss_after_agents_kib: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SelfTest {
    pub passed: bool,
    pub planted_drop: String,
    pub planted_duplicate: String,
    pub lost_ids: Vec<String>,
    pub doubled_ids: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub what: String,
    pub ours: f64,
    pub baseline: f64,
    pub ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub options: Options,
    pub server: String,
    pub baselines: Option<Baselines>,
    pub setup: Option<SetupReport>,
    pub idle: Option<IdleReport>,
    pub steps: Vec<StepReport>,
    pub ratios: Vec<Ratio>,
    pub self_test: Option<SelfTest>,
}

impl Report {
    /// Lost, doubled and unknown messages and errors over all steps.
    pub fn lost(&self) -> u64 {
        self.steps.iter().map(|s| s.ledger.lost).sum()
    }
    pub fn doubled(&self) -> u64 {
        self.steps.iter().map(|s| s.ledger.doubled).sum()
    }
    pub fn unknown(&self) -> u64 {
        self.steps.iter().map(|s| s.ledger.unknown).sum()
    }
    pub fn errors(&self) -> u64 {
        self.steps.iter().map(|s| s.error_total).sum()
    }

    pub fn compute_ratios(&mut self) {
        let Some(b) = &self.baselines else { return };
        let mut out = Vec::new();
        let mut ratio = |what: String, ours: f64, baseline: f64| {
            if baseline > 0.0 && ours > 0.0 {
                out.push(Ratio {
                    what,
                    ours,
                    baseline,
                    ratio: ours / baseline,
                });
            }
        };
        for s in &self.steps {
            ratio(
                format!("{}: customer→agent p50 ÷ echo round trip p50", s.name),
                s.customer_to_agent.p50_ms,
                b.echo.round_trip.p50_ms,
            );
            ratio(
                format!("{}: customer→agent p99 ÷ echo round trip p99", s.name),
                s.customer_to_agent.p99_ms,
                b.echo.round_trip.p99_ms,
            );
            ratio(
                format!("{}: ack p50 ÷ raw SQLite commit p50", s.name),
                s.ack_message.p50_ms,
                b.sqlite.commit_latency.p50_ms,
            );
        }
        let best = self
            .steps
            .iter()
            .map(|s| s.messages_in_per_s)
            .fold(0.0, f64::max);
        ratio(
            "most durable messages/s in ÷ raw SQLite commits/s (one fsync each)".into(),
            best,
            b.sqlite.commits_per_s,
        );
        ratio(
            format!(
                "most durable messages/s in ÷ raw SQLite messages/s ({} per commit)",
                b.sqlite.group_size
            ),
            best,
            b.sqlite.grouped_messages_per_s,
        );
        ratio(
            "most messages/s out ÷ echo round trips/s (closed loop)".into(),
            self.steps
                .iter()
                .map(|s| s.messages_out_per_s)
                .fold(0.0, f64::max),
            b.echo.closed_loop_per_s,
        );
        self.ratios = out;
    }

    pub fn table(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(
            o,
            "machine: {} cpus ({}), {} MiB, kernel {}, open files {}, load average at start {}; \
             server: {}",
            m.cpus,
            m.cpu_model,
            m.memory_mib,
            m.kernel,
            m.open_files_limit,
            m.load_average_at_start,
            self.server
        );
        if let Some(b) = &self.baselines {
            let s = &b.sqlite;
            let _ = writeln!(
                o,
                "baseline sqlite (WAL, synchronous=FULL): {:.0} commits/s one message each \
                 (p50 {:.2} ms, p99 {:.2} ms); {:.0} messages/s at {} per commit",
                s.commits_per_s,
                s.commit_latency.p50_ms,
                s.commit_latency.p99_ms,
                s.grouped_messages_per_s,
                s.group_size
            );
            let e = &b.echo;
            let _ = writeln!(
                o,
                "baseline websocket echo: round trip at {:.0}/s over {} connections p50 {:.3} ms \
                 p99 {:.3} ms p99.9 {:.3} ms max {:.3} ms; closed loop {:.0} round trips/s",
                e.open_loop_rate,
                e.open_loop_connections,
                e.round_trip.p50_ms,
                e.round_trip.p99_ms,
                e.round_trip.p999_ms,
                e.round_trip.max_ms,
                e.closed_loop_per_s
            );
        }
        if let Some(s) = &self.setup {
            let _ = writeln!(
                o,
                "setup: {} agents signed in and Available in {:.1} s; server RSS {:?} KiB at \
                 start, {:?} KiB after the agents",
                s.agents, s.secs, s.server_rss_at_start_kib, s.server_rss_after_agents_kib
            );
        }
        if let Some(i) = &self.idle {
            let _ = writeln!(
                o,
                "idle: {} of {} connections opened ({} failed), {} held after {} s; server RSS \
                 {:?} → {:?} → {:?} KiB: {} KiB per connection over all, {} KiB per connection \
                 over the second half",
                i.opened,
                i.requested,
                i.failed,
                i.held_at_end,
                i.held_secs,
                i.server_rss_before_kib,
                i.server_rss_half_kib,
                i.server_rss_after_kib,
                kib(i.server_kib_per_connection),
                kib(i.server_kib_per_connection_second_half),
            );
        }
        for s in &self.steps {
            let _ = writeln!(
                o,
                "\n== {} ({}: {:.1} chats/s, {:.0} messages/s offered, {} s; {} agents, {} idle \
                 connections) ==",
                s.name,
                s.scenario,
                s.offered_chats_per_s,
                s.offered_messages_per_s,
                s.arrival_secs,
                s.agents,
                s.idle_connections
            );
            let _ = writeln!(
                o,
                "{:<28} {:>8} {:>10} {:>10} {:>10} {:>10}",
                "latency (ms)", "count", "p50", "p99", "p99.9", "max"
            );
            for (label, x) in [
                ("customer → agent", &s.customer_to_agent),
                ("agent → customer", &s.agent_to_customer),
                ("arrival → offer (room)", &s.arrival_to_offer_with_room),
                ("arrival → offer (queued)", &s.arrival_to_offer_queued),
                ("ack of a message", &s.ack_message),
                ("ack of other commands", &s.ack_other),
                ("reconnect → resumed", &s.reconnect),
            ] {
                if x.count > 0 {
                    let _ = writeln!(
                        o,
                        "{:<28} {:>8} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
                        label, x.count, x.p50_ms, x.p99_ms, x.p999_ms, x.max_ms
                    );
                }
            }
            let _ = writeln!(
                o,
                "messages/s in {:.0} ({:.0} then {:.0}; peak {}), out {:.0}; chats started {}, \
                 finished {}, wrapped up {}, skipped at cap {}; reply timeouts {}; reconnects {}",
                s.messages_in_per_s,
                s.messages_in_per_s_quarters[0],
                s.messages_in_per_s_quarters[1],
                s.messages_in_peak_per_s,
                s.messages_out_per_s,
                s.chats_started,
                s.chats_finished,
                s.chats_wrapped_up,
                s.skipped_at_connection_cap,
                s.reply_timeouts,
                s.reconnects
            );
            if s.rate_still_rising() {
                let _ = writeln!(
                    o,
                    "  the rate in was still rising through the measured half (the chats were \
                     still adding up): it is the load's ramp, not the server's limit; a longer \
                     --duration, or chats shorter than half of it, measure a steady state"
                );
            }
            let l = &s.ledger;
            let _ = writeln!(
                o,
                "messages sent {}, acked {}, lost {}, doubled {}, unknown {}, in flight at cutoff \
                 {}; errors {} {:?}; connections max {}; server RSS {:?} KiB; CPU % of a core: \
                 server {}, bench {}; server CPU per message in {} µs",
                l.sent,
                l.acked,
                l.lost,
                l.doubled,
                l.unknown,
                l.in_flight_at_cutoff,
                s.error_total,
                s.errors,
                s.connections_max,
                s.server_rss_kib,
                s.server_cpu_percent
                    .map(|c| format!("{c:.0}"))
                    .unwrap_or_else(|| "?".into()),
                s.bench_cpu_percent
                    .map(|c| format!("{c:.0}"))
                    .unwrap_or_else(|| "?".into()),
                s.server_cpu_us_per_message_in
                    .map(|c| format!("{c:.0}"))
                    .unwrap_or_else(|| "?".into())
            );
            if !s.server_threads.is_empty() {
                let _ = writeln!(
                    o,
                    "server threads over the arrivals (CPU per message in; ms waiting for a core \
                     per ms running):"
                );
                for g in &s.server_threads {
                    let per_message = if s.messages_in_during_arrivals > 0.0 {
                        format!("{:.0}", g.running_ms * 1e3 / s.messages_in_during_arrivals)
                    } else {
                        "?".into()
                    };
                    let _ = writeln!(
                        o,
                        "  {:<18} ×{:<3} {:>6} µs; {:>8.0} / {:.0}",
                        g.name, g.threads, per_message, g.waiting_ms, g.running_ms
                    );
                }
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(o, "\nratios to the baselines:");
            for r in &self.ratios {
                let _ = writeln!(
                    o,
                    "  {:<78} {:>10.3} / {:>10.3} = {:>8.2}",
                    r.what, r.ours, r.baseline, r.ratio
                );
            }
        }
        if let Some(t) = &self.self_test {
            let _ = writeln!(
                o,
                "\nself-test: {} (planted drop {}, duplicate {}; found lost {:?}, doubled {:?})",
                if t.passed { "PASSED" } else { "FAILED" },
                t.planted_drop,
                t.planted_duplicate,
                t.lost_ids,
                t.doubled_ids
            );
        }
        o
    }
}

fn kib(v: Option<f64>) -> String {
    v.map(|k| format!("{k:.1}")).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::rising;

    #[test]
    fn a_rate_rises_only_past_its_own_swing() {
        // A load still filling up.
        assert!(rising([11_500.0, 17_000.0]));
        // Steady, within a few per cent either way.
        assert!(!rising([9_500.0, 9_800.0]));
        assert!(!rising([12_300.0, 11_900.0]));
        // Falling (past saturation) is not rising.
        assert!(!rising([9_000.0, 7_000.0]));
        // A slow step: 10 % of little is within the swing.
        assert!(!rising([40.0, 55.0]));
        assert!(rising([40.0, 70.0]));
    }
}
