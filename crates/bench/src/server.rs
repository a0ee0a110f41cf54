//! The server under test: started as a child process on a fresh data folder, or one already
//! running at `--url`. Its memory comes from /proc/<pid>/status.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub struct ChildServer {
    pub base: String,
    pub pid: u32,
    pub data_dir: PathBuf,
    child: Child,
}

/// A free port on the loopback (bound, then released for the server to take).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl ChildServer {
    /// `<bin> serve --demo --data-dir <fresh> --listen 127.0.0.1:<port>`, ready when
    /// /readyz answers.
    pub async fn start(bin: &Path) -> anyhow::Result<ChildServer> {
        if !bin.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p switchboard`, or pass --url",
                bin.display()
            );
        }
        let data_dir =
            std::env::temp_dir().join(format!("sb-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir)?;
        let port = free_port()?;
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--demo")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().unwrap_or(0);
        let base = format!("http://127.0.0.1:{port}");
        let server = ChildServer {
            base,
            pid,
            data_dir,
            child,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the server did not become ready; see {}",
            self.data_dir.join("server.log").display()
        )
    }

    /// Stops the server (SIGKILL; the data folder is thrown away) and removes its folder.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Resident memory of a process, in KiB (`VmRSS` in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time a process has used (user + system), in seconds; `self` for this process.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
