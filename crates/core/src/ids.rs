//! Typed identifiers. Every id is a UUID (v7, time-ordered, for new rows) behind a newtype so
//! an agent id can never be passed where a conversation id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
        #[serde(transparent)]
        pub struct $name(#[ts(type = "string")] Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// An agent (also supervisors and administrators: they are agents with another role).
    AgentId
);
typed_id!(
    /// A conversation (a chat), from its start to its end.
    ConversationId
);
typed_id!(
    /// A queue where chats wait.
    QueueId
);
typed_id!(
    /// An asset: one chat entry point (one widget configuration for one website).
    AssetId
);
typed_id!(
    /// An idle code (a reason for being Idle).
    IdleCodeId
);
typed_id!(
    /// A wrap-up reason.
    WrapUpReasonId
);
typed_id!(
    /// A message template.
    TemplateId
);
