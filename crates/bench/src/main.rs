//! `switchboard-bench`: see `--help` and docs/benchmarks.md.

use clap::Parser;
use switchboard_bench::{chart, run, Options};

fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
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
