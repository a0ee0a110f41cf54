//! The timeouts and defaults the rules depend on, gathered from the desktop profile, the asset
//! and the queue by the engine and passed in with each decision.

use crate::ids::WrapUpReasonId;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

pub const DEFAULT_OFFER_TIMEOUT: Millis = Millis::seconds(30);
pub const MIN_OFFER_TIMEOUT: Millis = Millis::seconds(5);
pub const MAX_OFFER_TIMEOUT: Millis = Millis::minutes(30);

/// A wrap-up reason as the system submits it (auto wrap-up, logged-out agent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapUpChoice {
    pub id: WrapUpReasonId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// How long an offer waits for Accept (the queue's setting).
    pub offer_timeout: Millis,
    /// How long a waiting customer who disconnected keeps their place.
    pub customer_grace: Millis,
    /// How long an answered customer may stay away before the chat is closed (the asset's).
    pub inactivity_timeout: Millis,
    /// How long an agent's desktop may be gone before the agent is logged out.
    pub signout_grace: Millis,
    /// How long an agent's desktop may be gone before its pending offer is withdrawn.
    pub offer_disconnect_grace: Millis,
    /// Auto wrap-up after this long, if on.
    pub auto_wrapup_after: Option<Millis>,
    /// The reason the system submits.
    pub default_wrapup: WrapUpChoice,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            offer_timeout: DEFAULT_OFFER_TIMEOUT,
            customer_grace: Millis::minutes(2),
            inactivity_timeout: Millis::minutes(15),
            signout_grace: Millis::minutes(2),
            offer_disconnect_grace: Millis::seconds(10),
            auto_wrapup_after: None,
            default_wrapup: WrapUpChoice {
                id: WrapUpReasonId::from_uuid(uuid::Uuid::nil()),
                name: "Auto".into(),
            },
        }
    }
}
