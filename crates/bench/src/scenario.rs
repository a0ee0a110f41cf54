//! A whole run: baselines, the server, the fixture and agents, then the scenarios' steps in
//! order, and the report.

use crate::agent;
use crate::ctx::Ctx;
use crate::idle;
use crate::load::{run_step, Profile, StepPlan};
use crate::machine::Machine;
use crate::options::{Options, Scenario};
use crate::report::{IdleReport, Report, SelfTest, SetupReport};
use crate::server::{rss_kib, ChildServer};
use crate::setup;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

fn progress(opts: &Options, what: &str) {
    if opts.progress {
        eprintln!("[bench] {what}");
    }
}

/// The self-test's own small load: it checks the counting, not the server's speed.
fn self_test_options(mut o: Options) -> Options {
    o.scenario = Scenario::Steady;
    o.agents = o.agents.min(2);
    o.capacity = 2;
    // Arrivals are a Poisson process: at 1 chat/s a 4-second step had no arrival at all about
    // once in 55 runs (e^-4), and then no customer to plant the faults on. At 3 chats/s that is
    // e^-12, about once in 160,000.
    o.rates = vec![3.0];
    o.duration = 4;
    o.drain = 30;
    o.messages = 3;
    o.think_ms = 100;
    o.reply_timeout = 2;
    o.idle = 0;
    o.baseline_secs = 0;
    o
}

pub async fn run(opts: Options) -> anyhow::Result<Report> {
    let opts = if opts.self_test {
        self_test_options(opts)
    } else {
        opts
    };
    let machine = Machine::here();
    let baselines = if opts.baseline_secs > 0 && opts.scenario == Scenario::All {
        progress(&opts, "baselines: raw durable SQLite, raw WebSocket echo");
        Some(crate::baseline::run(opts.baseline_secs).await?)
    } else {
        None
    };

    let child = match &opts.url {
        Some(_) => None,
        None => {
            progress(&opts, &format!("starting {}", opts.server_bin.display()));
            Some(ChildServer::start(&opts.server_bin).await?)
        }
    };
    let base = match (&opts.url, &child) {
        (Some(u), _) => u.trim_end_matches('/').to_string(),
        (None, Some(c)) => c.base.clone(),
        (None, None) => unreachable!(),
    };
    let pid = child.as_ref().map(|c| c.pid).or(opts.server_pid);
    let server = match &child {
        Some(c) => format!(
            "child process {} (pid {}), fresh data folder",
            c.base, c.pid
        ),
        None => format!("{base} (already running)"),
    };
    let result = drive(&opts, base, pid).await;
    if let Some(c) = child {
        c.stop().await;
    }
    let (steps, setup, idle, self_test) = result?;
    let mut report = Report {
        machine,
        options: opts.clone(),
        server,
        baselines,
        setup: Some(setup),
        idle,
        steps,
        ratios: vec![],
        self_test,
    };
    report.compute_ratios();
    Ok(report)
}

type Driven = (
    Vec<crate::report::StepReport>,
    SetupReport,
    Option<IdleReport>,
    Option<SelfTest>,
);

async fn drive(opts: &Options, base: String, pid: Option<u32>) -> anyhow::Result<Driven> {
    let want = |s: Scenario| opts.scenario == Scenario::All || opts.scenario == s;
    let http = reqwest::Client::new();
    let setup_start = std::time::Instant::now();
    let rss_at_start = pid.and_then(rss_kib);
    progress(
        opts,
        &format!(
            "preparing {} agents (capacity {})",
            opts.agents, opts.capacity
        ),
    );
    let fixture = setup::prepare(
        &http,
        &base,
        (&opts.admin_email, &opts.admin_password),
        opts.agents,
        opts.capacity,
        opts.idle,
    )
    .await?;
    let ctx = Ctx::new(opts.clone(), base, fixture);

    // Agents sign in (argon2 on the server: a few at a time) and go Available.
    let gate = Arc::new(Semaphore::new(8));
    let mut signing = JoinSet::new();
    for email in ctx.fixture.agent_emails.clone() {
        let (ctx, gate) = (ctx.clone(), gate.clone());
        signing.spawn(async move {
            let _p = gate.acquire_owned().await?;
            agent::sign_in(ctx, &email).await
        });
    }
    let mut agents = JoinSet::new();
    while let Some(r) = signing.join_next().await {
        let a = r??;
        agents.spawn(a.run());
    }
    ctx.room
        .add_free((opts.agents as i64) * opts.capacity as i64);
    progress(opts, &format!("{} agents Available", opts.agents));
    let setup = SetupReport {
        agents: opts.agents,
        secs: setup_start.elapsed().as_secs_f64(),
        server_rss_at_start_kib: rss_at_start,
        server_rss_after_agents_kib: pid.and_then(rss_kib),
    };

    let mut steps = Vec::new();
    let mut idle_report = None;
    let mut idle_set = None;
    // Held through every step that follows, whatever the scenario: the budget's message
    // rate is stated with 10,000 connections open (`--scenario steady --idle N`).
    if opts.idle > 0 {
        progress(opts, &format!("opening {} idle connections", opts.idle));
        // In two halves: the second half's growth is the cost of one more connection, once
        // the one-time growth (the database's page caches filling, maps resizing) is paid.
        let before = pid.and_then(rss_kib);
        let mut set = idle::IdleSet::new();
        let half = opts.idle / 2;
        set.open_more(&ctx, 0, half).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let middle = pid.and_then(rss_kib);
        let opened_first = set.opened;
        set.open_more(&ctx, half, opts.idle - half).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = pid.and_then(rss_kib);
        let held_secs = if opts.scenario == Scenario::Idle {
            opts.duration
        } else {
            3
        };
        tokio::time::sleep(Duration::from_secs(held_secs.saturating_sub(3))).await;
        let per = match (before, after) {
            (Some(b), Some(a)) if set.opened > 0 => Some((a as f64 - b as f64) / set.opened as f64),
            _ => None,
        };
        let opened_second = set.opened - opened_first;
        let marginal = match (middle, after) {
            (Some(m), Some(a)) if opened_second > 0 => {
                Some((a as f64 - m as f64) / opened_second as f64)
            }
            _ => None,
        };
        idle_report = Some(IdleReport {
            requested: opts.idle,
            opened: set.opened,
            failed: set.failed,
            held_at_end: set.held(),
            held_secs,
            server_rss_before_kib: before,
            server_rss_after_kib: after,
            server_kib_per_connection: per,
            server_rss_half_kib: middle,
            server_kib_per_connection_second_half: marginal,
        });
        idle_set = Some(set);
    }
    let held = |s: &Option<idle::IdleSet>| s.as_ref().map(|s| s.held()).unwrap_or(0);

    let first = opts.base_rate;
    if want(Scenario::Burst) {
        let secs = opts.burst_secs as f64;
        let at = (opts.duration as f64 - secs).max(0.0) / 2.0;
        steps.push(
            run_step(
                &ctx,
                StepPlan {
                    name: &format!(
                        "burst {first} chats/s, {}× for {} s",
                        opts.burst_factor, opts.burst_secs
                    ),
                    scenario: "burst",
                    profile: Profile {
                        rate: first,
                        burst: Some((at, secs, first * opts.burst_factor)),
                    },
                    storm_at: None,
                    idle_connections: held(&idle_set),
                    server_pid: pid,
                },
            )
            .await,
        );
    }
    if want(Scenario::ReconnectStorm) {
        steps.push(
            run_step(
                &ctx,
                StepPlan {
                    name: &format!(
                        "reconnect storm {first} chats/s, {:.0}% drop at once",
                        opts.storm_fraction * 100.0
                    ),
                    scenario: "reconnect-storm",
                    profile: Profile::steady(first),
                    storm_at: Some(opts.duration as f64 / 2.0),
                    idle_connections: held(&idle_set),
                    server_pid: pid,
                },
            )
            .await,
        );
    }

    if want(Scenario::Steady) {
        for &rate in &opts.rates {
            let name = format!("steady {rate} chats/s");
            steps.push(
                run_step(
                    &ctx,
                    StepPlan {
                        name: &name,
                        scenario: "steady",
                        profile: Profile::steady(rate),
                        storm_at: None,
                        idle_connections: held(&idle_set),
                        server_pid: pid,
                    },
                )
                .await,
            );
        }
    }
    let _ = ctx.stop.send(true);
    while tokio::time::timeout(Duration::from_secs(10), agents.join_next())
        .await
        .ok()
        .flatten()
        .is_some()
    {}
    if let Some(set) = idle_set {
        if let Some(r) = idle_report.as_mut() {
            r.held_at_end = set.held();
        }
        set.close().await;
    }

    let self_test = opts.self_test.then(|| {
        let plant = &ctx.plant;
        let (lost, doubled) = steps
            .first()
            .map(|s| (s.ledger.lost_ids.clone(), s.ledger.doubled_ids.clone()))
            .unwrap_or_default();
        let drop = plant.drop_id.clone().unwrap_or_default();
        let dup = plant.duplicate_id.clone().unwrap_or_default();
        SelfTest {
            passed: lost == vec![drop.clone()] && doubled == vec![dup.clone()],
            planted_drop: drop,
            planted_duplicate: dup,
            lost_ids: lost,
            doubled_ids: doubled,
        }
    });
    Ok((steps, setup, idle_report, self_test))
}
