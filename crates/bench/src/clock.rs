//! One clock for the whole bench: microseconds since the process started. Both ends of every
//! measured path (a customer and an agent, a client and its ack) live in this process, so
//! the timestamps written into messages compare directly.

use std::sync::OnceLock;
use std::time::Instant;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Microseconds since the bench started.
pub fn now_us() -> u64 {
    origin().elapsed().as_micros() as u64
}

/// Microseconds elapsed since `t` (a value of `now_us`).
pub fn since_us(t: u64) -> u64 {
    now_us().saturating_sub(t)
}
