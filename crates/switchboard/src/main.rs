//! The `switchboard` binary: `serve` (optionally seeding the demo set), `migrate`.

mod settings;

use anyhow::Context;
use clap::{Parser, Subcommand};
use settings::{Overrides, Settings};
use std::sync::Arc;
use switchboard_server::bus::Bus;
use switchboard_server::clock::SystemClock;
use switchboard_server::engine::Engine;
use switchboard_store::Store;

#[derive(Parser)]
#[command(name = "switchboard", version, about = "A live-chat contact center")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: HTTP + WebSocket, the engine and its timers.
    Serve {
        #[command(flatten)]
        overrides: Overrides,
        /// Seed the demo set the first time (an asset, queues, agents, reasons, templates).
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database's schema up to date and exit.
    Migrate {
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Read text on standard input and print it as an agent sees it with masking on.
    Mask {
        /// The region (ISO 3166 alpha-2, e.g. US, DE) whose national phone numbers are masked.
        #[arg(long)]
        region: Option<String>,
        /// Mask only payment data (cards, IBANs, SSNs), as "redact payment data at rest" does.
        #[arg(long)]
        payment_only: bool,
    },
}

/// mimalloc rather than glibc's malloc: allocation was the largest user-space cost under load
/// (malloc/free ~17 % of the server's samples at 150 chats/s), and glibc keeps per-thread
/// arenas of freed memory. See docs/benchmarks.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Mask {
        region,
        payment_only,
    } = &cli.command
    {
        return mask(region.clone(), *payment_only);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(not_preempting_on_wake_up)
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { overrides, demo } => serve(Settings::load(&overrides)?, demo).await,
            Command::Mask { .. } => unreachable!("handled before the runtime starts"),
            Command::Migrate { overrides } => {
                let settings = Settings::load(&overrides)?;
                settings.init_logging();
                let store = open_store(&settings).await?;
                store.close().await;
                tracing::info!("schema up to date");
                Ok(())
            }
        }
    })
}

/// The runtime's threads run as `SCHED_BATCH` (Linux; no privilege needed): a worker woken by
/// a socket or a commit's answer no longer preempts the thread on its core, most often the
/// SQLite writer in the middle of a commit, but runs when that thread sleeps or its slice
/// ends. The writer was preempted ~1,000 times a second at ~4,800 messages/s, ~20 with this;
/// the server's CPU a message fell and the latencies with it (docs/benchmarks.md, "The
/// workers stop preempting the writer"). A thread where this fails keeps the default.
fn not_preempting_on_wake_up() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; SCHED_BATCH takes priority 0, and `param`
        // outlives the call.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
        }
    }
}

/// `switchboard mask`: standard input to standard output, line by line (a number is never
/// split across lines in chat messages either).
fn mask(region: Option<String>, payment_only: bool) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let masker = switchboard_mask::Masker::new(&switchboard_mask::MaskConfig {
        default_region: region,
    })?;
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        let masked = if payment_only {
            masker.redact_payment(&line)
        } else {
            masker.mask(&line)
        };
        writeln!(out, "{masked}")?;
    }
    out.flush()?;
    Ok(())
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url()?;
    Store::open(&url)
        .await
        .with_context(|| format!("cannot open the store at {}", settings::redact(&url)))
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    settings.init_logging();
    let store = open_store(&settings).await?;
    let engine = Engine::new(store.clone(), Arc::new(SystemClock));
    if let Some(url) = &settings.nats_url {
        let bus = Bus::connect(url, &settings.nats_prefix, &engine.node_id)
            .await
            .map_err(anyhow::Error::msg)?;
        engine.attach_bus(bus).await.map_err(anyhow::Error::msg)?;
        tracing::info!(nats = %url, prefix = %settings.nats_prefix, "joined the cluster bus");
    }
    let listener = listen(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    tracing::info!(%address, backend = ?store.backend(), "listening");
    if demo {
        let seeded = switchboard_server::demo::seed(&engine)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo set failed: {}", e.message))?;
        print_demo(&base, &seeded);
    }
    switchboard_server::serve(listener, engine, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Connections the kernel may keep waiting to be accepted (it caps this at
/// `net.core.somaxconn`). `TcpListener::bind` asks for 128: when a network blip dropped a few
/// hundred customers at once, their reconnects overflowed it, and each one whose connection
/// request was dropped tried again only after the kernel's one-second retransmission
/// (docs/benchmarks.md: `TcpExtListenOverflows` in a reconnect storm).
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on the first of `address`'s addresses that can be bound, with `LISTEN_BACKLOG`.
async fn listen(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut failed = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server may listen again at once.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => failed = Some(e),
        }
    }
    Err(failed.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address names no host",
        )
    }))
}

fn print_demo(base: &str, demo: &switchboard_server::demo::Demo) {
    use switchboard_server::demo::*;
    let mut out = String::new();
    out.push_str(&format!(
        "\nSwitchboard is running{}.\n\n",
        if demo.seeded {
            " with the demo set (seeded now)"
        } else {
            " (demo set already present)"
        }
    ));
    out.push_str(&format!("  Home page:        {base}/\n"));
    out.push_str(&format!("  REST API (OpenAPI): {base}/api/openapi.json\n"));
    out.push_str(&format!(
        "  Agent socket:     ws://{}/api/v1/ws/agent\n",
        base.trim_start_matches("http://")
    ));
    out.push_str(&format!(
        "  Customer socket:  ws://{}/api/v1/ws/customer\n",
        base.trim_start_matches("http://")
    ));
    out.push_str(&format!(
        "  Start a chat:     curl -X POST {base}/api/v1/assets/{}/conversations -H 'content-type: application/json' -d '{{\"name\":\"Jo\"}}'\n\n",
        demo.asset_id
    ));
    out.push_str("  Demo accounts (sign in: POST /api/v1/sessions):\n");
    for (name, email) in DEMO_AGENTS {
        out.push_str(&format!(
            "    agent          {email:<32} {DEMO_PASSWORD}   ({name})\n"
        ));
    }
    out.push_str(&format!(
        "    administrator  {:<32} {DEMO_ADMIN_PASSWORD}\n",
        DEMO_ADMIN.1
    ));
    out.push_str(
        "\n  docs/protocol.md walks through a whole chat with curl and a WebSocket client.\n",
    );
    println!("{out}");
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
