//! Switchboard's domain: agents and their states, conversations and where they are, offers,
//! wrap-ups, messages and their rules. Pure and synchronous: no IO, no clock, no async.
//!
//! The heart is the decider ([`decide::decide`], [`decide::decide_agent`]): state + command +
//! time → events or a [`DomainError`]; and the folds ([`Conversation::apply`],
//! [`Agent::apply`], [`Agent::apply_conversation`]) that turn events into state.

pub mod agent;
pub mod config;
pub mod conversation;
pub mod decide;
pub mod error;
pub mod event;
pub mod ids;
pub mod policy;
pub mod routing;
pub mod text;
pub mod time;
pub mod variables;

pub use agent::{Agent, PendingOffer};
pub use conversation::{Conversation, Status};
pub use error::DomainError;
pub use event::*;
pub use ids::*;
pub use policy::Policy;
pub use time::{Millis, Timestamp};
pub use variables::Variables;
