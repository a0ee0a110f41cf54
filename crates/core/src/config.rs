//! What administrators configure: assets, queues, idle codes, wrap-up reasons, templates and
//! the desktop profile. Plain data with the rules each value obeys (`validate`).

use crate::ids::*;
use crate::policy::{MAX_OFFER_TIMEOUT, MIN_OFFER_TIMEOUT};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A configuration value that breaks a rule, with the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ConfigError {
    pub field: &'static str,
    pub rule: String,
}

fn err(field: &'static str, rule: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        rule: rule.into(),
    }
}

fn check_name(field: &'static str, name: &str, max: usize) -> Result<(), ConfigError> {
    let n = name.trim().chars().count();
    if n == 0 || n > max {
        return Err(err(field, format!("must be 1 to {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(err(field, "must not contain control characters"));
    }
    Ok(())
}

/// One field of an asset's pre-chat form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PrechatField {
    /// `name`, `email`, `phone`, or a free field's key.
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
}

/// A chat entry point: one widget configuration for one website.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Asset {
    pub id: AssetId,
    pub name: String,
    /// The queue its chats enter.
    pub queue_id: QueueId,
    /// Signs identity tokens (HMAC-SHA256). Never shown to agents.
    pub secret: String,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub prechat_fields: Vec<PrechatField>,
    /// How long an answered customer may stay away before the chat is closed.
    #[serde(default = "default_inactivity")]
    pub inactivity_timeout_secs: u32,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub greeting: String,
}

fn default_inactivity() -> u32 {
    15 * 60
}

impl Asset {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name("name", &self.name, 100)?;
        if self.secret.len() < 16 {
            return Err(err("secret", "must be at least 16 characters"));
        }
        if !(60..=24 * 3600).contains(&self.inactivity_timeout_secs) {
            return Err(err(
                "inactivity_timeout_secs",
                "must be between 60 and 86400",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Queue {
    pub id: QueueId,
    pub name: String,
    /// How long an offered agent has to accept (5 s to 30 min).
    #[serde(default = "default_offer_timeout")]
    pub offer_timeout_secs: u32,
    /// Higher first.
    #[serde(default)]
    pub priority: i32,
    /// The agents who serve it.
    #[serde(default)]
    pub agent_ids: Vec<AgentId>,
}

fn default_offer_timeout() -> u32 {
    30
}

impl Queue {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name("name", &self.name, 100)?;
        let t = Millis::seconds(self.offer_timeout_secs as i64);
        if t < MIN_OFFER_TIMEOUT || t > MAX_OFFER_TIMEOUT {
            return Err(err("offer_timeout_secs", "must be between 5 and 1800"));
        }
        if !(-100..=100).contains(&self.priority) {
            return Err(err("priority", "must be between -100 and 100"));
        }
        Ok(())
    }
    pub fn offer_timeout(&self) -> Millis {
        Millis::seconds(self.offer_timeout_secs as i64)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct IdleCode {
    pub id: IdleCodeId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WrapUpReason {
    pub id: WrapUpReasonId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Template {
    pub id: TemplateId,
    pub name: String,
    /// Text with `<parameter>` placeholders, filled when sent; may contain line breaks.
    pub body: String,
}

impl Template {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name("name", &self.name, 100)?;
        let n = self.body.chars().count();
        if n == 0 || n > 2000 {
            return Err(err("body", "must be 1 to 2000 characters"));
        }
        Ok(())
    }
}

/// The desktop profile: one per installation for now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DesktopProfile {
    /// Mask customer sensitive data on every agent-facing surface.
    #[serde(default)]
    pub mask_sensitive_data: bool,
    /// Mask card numbers, IBANs and SSNs before they are stored.
    #[serde(default)]
    pub redact_payment_at_rest: bool,
    /// Submit the default reason this long after an agent leaves a chat; off when absent.
    #[serde(default)]
    pub auto_wrapup_secs: Option<u32>,
    /// The reason the system submits (auto wrap-up, agent logged out).
    #[serde(default)]
    pub default_wrapup_reason_id: Option<WrapUpReasonId>,
    #[serde(default = "default_capacity")]
    pub default_capacity: u32,
    /// How long an agent's desktop may be gone before the agent is logged out.
    #[serde(default = "default_grace")]
    pub signout_grace_secs: u32,
    /// How long a waiting customer who disconnected keeps their place.
    #[serde(default = "default_grace")]
    pub customer_grace_secs: u32,
    /// The region (ISO 3166 alpha-2, such as `US` or `DE`) whose national phone numbers are
    /// masked too; numbers in international form (`+…`) are masked whatever it is.
    #[serde(default)]
    pub phone_region: Option<String>,
}

fn default_capacity() -> u32 {
    crate::agent::DEFAULT_CAPACITY
}
fn default_grace() -> u32 {
    120
}

impl Default for DesktopProfile {
    fn default() -> Self {
        DesktopProfile {
            mask_sensitive_data: false,
            redact_payment_at_rest: false,
            auto_wrapup_secs: None,
            default_wrapup_reason_id: None,
            default_capacity: default_capacity(),
            signout_grace_secs: default_grace(),
            customer_grace_secs: default_grace(),
            phone_region: None,
        }
    }
}

impl DesktopProfile {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=crate::agent::MAX_CAPACITY).contains(&self.default_capacity) {
            return Err(err("default_capacity", "must be between 1 and 20"));
        }
        if let Some(s) = self.auto_wrapup_secs {
            if !(5..=3600).contains(&s) {
                return Err(err("auto_wrapup_secs", "must be between 5 and 3600"));
            }
        }
        for (field, v) in [
            ("signout_grace_secs", self.signout_grace_secs),
            ("customer_grace_secs", self.customer_grace_secs),
        ] {
            if !(10..=3600).contains(&v) {
                return Err(err(field, "must be between 10 and 3600"));
            }
        }
        Ok(())
    }
}

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Administrator,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Administrator => "administrator",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            "administrator" => Some(Role::Administrator),
            _ => None,
        }
    }
}

/// An agent's account, as administrators see it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Account {
    pub id: AgentId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub capacity: u32,
}
