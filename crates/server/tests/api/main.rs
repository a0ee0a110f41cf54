//! Black-box tests: real HTTP and WebSocket clients against servers on port 0, with the
//! timers driven by a manual clock.

mod chat;
mod helpers;

pub use helpers::*;
