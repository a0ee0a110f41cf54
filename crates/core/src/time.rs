//! Time as the domain sees it: milliseconds since the Unix epoch, passed in by the caller.
//! The core never reads a clock, so every rule with a deadline is testable without waiting.

use serde::{Deserialize, Serialize};
use std::ops::{Add, Sub};

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    ts_rs::TS,
)]
#[serde(transparent)]
pub struct Timestamp(#[ts(type = "number")] pub i64);

/// A span of time in milliseconds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub const fn seconds(s: i64) -> Self {
        Millis(s * 1000)
    }
    pub const fn minutes(m: i64) -> Self {
        Millis(m * 60_000)
    }
}

impl Add<Millis> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Millis) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Millis;
    fn sub(self, rhs: Timestamp) -> Millis {
        Millis(self.0.saturating_sub(rhs.0))
    }
}
