//! A higher scheduling priority for the SQLite writer, when the process may raise one.
//!
//! Every commit goes through the one writer thread, so its time waiting for a core is added to
//! every acknowledgement. On two busy cores it waited ~0.65 ms per ms it ran, behind the
//! runtime's workers and the readers; at nice -10 it waited 60 % less, and the p99 of a
//! message at 200 chats/s fell 15-20 % (docs/benchmarks.md, "A chat offered as it arrives").
//! Raising a priority needs root or `CAP_SYS_NICE`: without it the writer simply runs at the
//! process's own priority, as before.

/// The writer's nice value when allowed (the range is -20..19; lower runs first).
const WRITER_NICE: i32 = -10;

/// Raises the calling thread's priority, if the process may. Whether it did.
pub(crate) fn raise_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        // On Linux a nice value belongs to a thread: `PRIO_PROCESS` with a thread id sets
        // that thread's alone.
        // SAFETY: plain system calls on this thread's own id, with no pointers.
        let done = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, WRITER_NICE)
        };
        done == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_thread_runs_at_the_writers_nice_when_raised() {
        // On a thread of its own: the test harness's threads keep their priority.
        let (raised, nice) = std::thread::spawn(|| {
            let raised = raise_this_thread();
            // SAFETY: as above.
            let nice = unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            };
            (raised, nice)
        })
        .join()
        .unwrap();
        if raised {
            assert_eq!(nice, WRITER_NICE);
        } else {
            // Not allowed here: the thread kept the process's priority.
            assert_eq!(nice, unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) });
        }
    }
}
