//! The server's CPU by thread, from `/proc/<pid>/task/*/schedstat`: how long each kind of
//! thread ran and how long it was ready but waited for a core. Which thread spends a message's
//! CPU (the runtime's workers, the SQLite writer, the checkpoint thread) says where to work on
//! it; a thread that waits for a core about as long as it runs says the tail latency is the
//! machine's scheduling, not the work.

use serde::Serialize;
use std::collections::BTreeMap;

/// One thread's counters at a moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    run_ns: u64,
    wait_ns: u64,
}

/// Every thread of a process at a moment, by thread id, with its group's name.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    threads: BTreeMap<u32, (String, Counters)>,
}

/// What one kind of thread did between two snapshots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadGroup {
    /// The threads' name without its number (`sqlite-reader-2` → `sqlite-reader`).
    pub name: String,
    pub threads: usize,
    /// CPU time the group used, in milliseconds.
    pub running_ms: f64,
    /// Time its threads were ready to run but waited for a core, in milliseconds.
    pub waiting_ms: f64,
}

impl Snapshot {
    /// Reads every thread of `pid` (`"self"` for this process). Threads that end while it
    /// reads, or a kernel without schedstat, leave their counters out.
    pub fn of(pid: &str) -> Snapshot {
        let mut threads = BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Snapshot { threads };
        };
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let path = entry.path();
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("schedstat")),
            ) else {
                continue;
            };
            if let Some(counters) = parse_schedstat(&stat) {
                threads.insert(tid, (group_name(comm.trim()).to_string(), counters));
            }
        }
        Snapshot { threads }
    }

    /// What each kind of thread did since `before`, busiest first. A thread started meanwhile
    /// counts from its start; one that ended meanwhile is missing (its time is lost).
    pub fn since(&self, before: &Snapshot) -> Vec<ThreadGroup> {
        let mut groups: BTreeMap<&str, ThreadGroup> = BTreeMap::new();
        for (tid, (name, now)) in &self.threads {
            let was = before.threads.get(tid).map(|(_, c)| *c).unwrap_or_default();
            let g = groups.entry(name).or_insert_with(|| ThreadGroup {
                name: name.clone(),
                threads: 0,
                running_ms: 0.0,
                waiting_ms: 0.0,
            });
            g.threads += 1;
            g.running_ms += now.run_ns.saturating_sub(was.run_ns) as f64 / 1e6;
            g.waiting_ms += now.wait_ns.saturating_sub(was.wait_ns) as f64 / 1e6;
        }
        let mut groups: Vec<ThreadGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| b.running_ms.total_cmp(&a.running_ms));
        groups
    }
}

/// `schedstat` holds three numbers: time on a CPU (ns), time waiting on a run queue (ns),
/// and the number of times it ran.
fn parse_schedstat(text: &str) -> Option<Counters> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some(Counters {
        run_ns: fields.next()??,
        wait_ns: fields.next()??,
    })
}

/// A thread's name without the number that tells its like apart (`argon2-1`, `sqlite-reader-3`).
fn group_name(comm: &str) -> &str {
    let stem = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() < comm.len() {
        stem.trim_end_matches(['-', '_', ' ', '#'])
    } else {
        comm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_threads_share_a_group() {
        assert_eq!(group_name("sqlite-reader-3"), "sqlite-reader");
        assert_eq!(group_name("argon2-1"), "argon2");
        assert_eq!(group_name("tokio-rt-worker"), "tokio-rt-worker");
        assert_eq!(group_name("sqlite-checkpoi"), "sqlite-checkpoi");
        assert_eq!(group_name("1234"), "");
    }

    #[test]
    fn schedstat_is_run_time_wait_time_and_slices() {
        assert_eq!(
            parse_schedstat("2975000000 1511000000 43946\n"),
            Some(Counters {
                run_ns: 2_975_000_000,
                wait_ns: 1_511_000_000
            })
        );
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("12 x 3"), None);
    }

    /// Read from this process's own /proc: a named thread that spins shows up in its group
    /// with the CPU it used.
    #[test]
    fn a_busy_thread_is_counted_in_its_group() {
        if !std::path::Path::new("/proc/self/task").exists() {
            return;
        }
        let (ready, go) = std::sync::mpsc::channel::<()>();
        let (spun, done) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("spinner-7".into())
            .spawn(move || {
                go.recv().unwrap();
                let until = std::time::Instant::now() + std::time::Duration::from_millis(50);
                let mut x = 0u64;
                while std::time::Instant::now() < until {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                spun.send(()).unwrap();
                // Stay alive until the second snapshot has read this thread.
                let _ = go.recv();
            })
            .unwrap();
        let before = Snapshot::of("self");
        ready.send(()).unwrap();
        done.recv().unwrap();
        let after = Snapshot::of("self");
        drop(ready);
        worker.join().unwrap();
        let groups = after.since(&before);
        let spinner = groups
            .iter()
            .find(|g| g.name == "spinner")
            .unwrap_or_else(|| panic!("no spinner in {groups:?}"));
        assert_eq!(spinner.threads, 1);
        // It spun for 50 ms of wall time; on a loaded machine it may have had less of a core.
        assert!(spinner.running_ms > 1.0, "{spinner:?}");
    }
}
