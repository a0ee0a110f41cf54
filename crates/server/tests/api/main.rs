//! Black-box tests: real HTTP and WebSocket clients against servers on port 0, with the
//! timers driven by a manual clock.

mod admin;
mod agents;
mod bad_input;
mod chat;
mod customers;
mod edges;
mod helpers;
mod masking;
mod routing;
mod transfer;

pub use helpers::*;
