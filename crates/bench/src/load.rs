//! One step of load: open-loop arrivals (a Poisson process at the profile's rate: a chat
//! arrives whether or not earlier ones were answered), each a customer task; then the drain,
//! and the step's report.

use crate::ctx::Ctx;
use crate::report::StepReport;
use crate::step::StepStats;
use crate::threads::Snapshot;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Chats per second.
    pub rate: f64,
    /// From `at` seconds for `secs` seconds, `rate` chats per second instead.
    pub burst: Option<(f64, f64, f64)>,
}

impl Profile {
    pub fn steady(rate: f64) -> Self {
        Profile { rate, burst: None }
    }

    fn rate_at(&self, t: f64) -> f64 {
        match self.burst {
            Some((at, secs, rate)) if t >= at && t < at + secs => rate,
            _ => self.rate,
        }
    }

    fn mean_rate(&self, secs: f64) -> f64 {
        match self.burst {
            Some((_, b, rate)) => (self.rate * (secs - b) + rate * b) / secs,
            None => self.rate,
        }
    }
}

pub struct StepPlan<'a> {
    pub name: &'a str,
    pub scenario: &'a str,
    pub profile: Profile,
    /// Seconds into the step when a reconnect storm hits.
    pub storm_at: Option<f64>,
    pub idle_connections: u64,
    pub server_pid: Option<u32>,
}

pub async fn run_step(ctx: &Arc<Ctx>, plan: StepPlan<'_>) -> StepReport {
    let opts = &ctx.opts;
    let arrivals = Duration::from_secs(opts.duration);
    let step = Arc::new(StepStats::new(
        plan.name,
        arrivals,
        Duration::from_secs(opts.drain),
    ));
    ctx.set_step(step.clone());
    ctx.conns.take_max();
    if opts.progress {
        eprintln!(
            "[bench] {}: {:.1} chats/s for {} s",
            plan.name,
            plan.profile.mean_rate(arrivals.as_secs_f64()),
            opts.duration
        );
    }
    if let Some(at) = plan.storm_at {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(at)).await;
            ctx.storm.send_modify(|e| *e += 1);
        });
    }
    let server_cpu0 = plan
        .server_pid
        .and_then(|p| crate::server::cpu_secs(&p.to_string()));
    let bench_cpu0 = crate::server::cpu_secs("self");
    let server_threads0 = plan.server_pid.map(|p| Snapshot::of(&p.to_string()));
    let mut customers = JoinSet::new();
    let start = step.started;
    let mut t = 0.0f64;
    loop {
        let rate = plan.profile.rate_at(t).max(0.001);
        let u: f64 = rand::random::<f64>().max(1e-12);
        t += -u.ln() / rate;
        if t >= arrivals.as_secs_f64() {
            break;
        }
        tokio::time::sleep_until((start + Duration::from_secs_f64(t)).into()).await;
        match ctx.conns.reserve() {
            Some(slot) => {
                customers.spawn(crate::customer::run(ctx.clone(), step.clone(), slot));
            }
            None => step.skipped_at_cap.add(),
        }
    }
    let arrivals_wall = step.started.elapsed().as_secs_f64();
    let server_cpu1 = plan
        .server_pid
        .and_then(|p| crate::server::cpu_secs(&p.to_string()));
    let bench_cpu1 = crate::server::cpu_secs("self");
    let server_threads = match (plan.server_pid, server_threads0) {
        (Some(p), Some(before)) => Snapshot::of(&p.to_string()).since(&before),
        _ => Vec::new(),
    };
    while customers.join_next().await.is_some() {}
    // The agents' last wrap-ups follow the customers' goodbyes by a command or two.
    let until = Instant::now() + Duration::from_secs(5);
    while step.chats_wrapped.get() < step.chats_finished.get() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = step.started.elapsed().as_secs_f64();
    // CPU over the arrivals only (the drain idles).
    let percent = |before: Option<f64>, now: Option<f64>| match (before, now) {
        (Some(a), Some(b)) => Some((b - a) / arrivals_wall * 100.0),
        _ => None,
    };
    let server_cpu_percent = percent(server_cpu0, server_cpu1);
    let bench_cpu_percent = percent(bench_cpu0, bench_cpu1);
    // The server's CPU over the arrivals, shared out over the messages that came in meanwhile
    // (all its work counted: chats' other commands, acks, deliveries). Steadier than the
    // message rate between runs on a shared machine, so A/Bs can compare it.
    let messages_in_during_arrivals = step.msgs_in.mean(0, opts.duration) * opts.duration as f64;
    let server_cpu_us_per_message_in = match (server_cpu0, server_cpu1) {
        (Some(a), Some(b)) if messages_in_during_arrivals > 0.0 => {
            Some((b - a) * 1e6 / messages_in_during_arrivals)
        }
        _ => None,
    };
    let half = opts.duration / 2;
    let three_quarters = (half + opts.duration) / 2;
    let errors = step.errors();
    StepReport {
        name: plan.name.to_string(),
        scenario: plan.scenario.to_string(),
        offered_chats_per_s: plan.profile.mean_rate(arrivals.as_secs_f64()),
        offered_messages_per_s: plan.profile.mean_rate(arrivals.as_secs_f64())
            * opts.messages_per_chat(),
        arrival_secs: opts.duration,
        agents: opts.agents,
        idle_connections: plan.idle_connections,
        chats_started: step.chats_started.get(),
        chats_finished: step.chats_finished.get(),
        chats_wrapped_up: step.chats_wrapped.get(),
        skipped_at_connection_cap: step.skipped_at_cap.get(),
        reply_timeouts: step.reply_timeouts.get(),
        reconnects: step.reconnects.get(),
        messages_in_per_s: step.msgs_in.mean(half, opts.duration),
        messages_in_per_s_quarters: [
            step.msgs_in.mean(half, three_quarters),
            step.msgs_in.mean(three_quarters, opts.duration),
        ],
        messages_out_per_s: step.msgs_out.mean(half, opts.duration),
        messages_in_peak_per_s: step.msgs_in.peak(),
        customer_to_agent: step.customer_to_agent.summary(),
        agent_to_customer: step.agent_to_customer.summary(),
        arrival_to_offer_with_room: step.offer_with_room.summary(),
        arrival_to_offer_queued: step.offer_queued.summary(),
        ack_message: step.ack_message.summary(),
        ack_other: step.ack_other.summary(),
        reconnect: step.reconnect.summary(),
        ledger: step.ledger.tally(),
        error_total: errors.values().sum(),
        errors,
        connections_max: ctx.conns.take_max(),
        server_rss_kib: plan.server_pid.and_then(crate::server::rss_kib),
        server_cpu_percent,
        server_cpu_us_per_message_in,
        messages_in_during_arrivals,
        server_threads,
        bench_cpu_percent,
        wall_secs: wall,
    }
}
