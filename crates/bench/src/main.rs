//! `switchboard-bench`: see `--help` and docs/benchmarks.md.

use clap::Parser;
use switchboard_bench::{chart, run, Options};

/// mimalloc, as the server has: the bench's own allocations (frames parsed, ids, the ledger)
/// cost CPU on the cores the server is measured on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let runtime = match opts.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.into())
            .enable_all()
            .build()?,
    };
    let report = runtime.block_on(run(opts.clone()))?;
    print!("{}", report.table());
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("[bench] wrote {}", path.display());
    }
    if let Some(path) = &opts.svg {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, chart::svg(&report))?;
        eprintln!("[bench] wrote {}", path.display());
    }
    if let Some(t) = &report.self_test {
        if !t.passed {
            anyhow::bail!("self-test failed: the planted loss and duplicate were not both seen");
        }
    } else if report.lost() + report.doubled() + report.unknown() > 0 {
        anyhow::bail!(
            "messages lost {}, doubled {}, unknown {}",
            report.lost(),
            report.doubled(),
            report.unknown()
        );
    }
    Ok(())
}
