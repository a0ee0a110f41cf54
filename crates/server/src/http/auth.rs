//! Who is calling: the bearer token of an agent's session.

use super::error::ApiError;
use crate::auth::token_hash;
use crate::engine::SharedEngine;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use switchboard_core::config::{Account, Role};

/// A signed-in account (any role).
pub struct Authed {
    pub account: Account,
}

impl Authed {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        let ok = match role {
            Role::Agent => true,
            Role::Supervisor => matches!(self.account.role, Role::Supervisor | Role::Administrator),
            Role::Administrator => self.account.role == Role::Administrator,
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The account a session token opens, if it is valid now.
pub async fn account_for_token(
    engine: &SharedEngine,
    token: &str,
) -> Result<Option<Account>, ApiError> {
    if !token.starts_with("sbs_") {
        return Ok(None);
    }
    let hash = token_hash(token);
    let Some(agent) = engine.store.session_agent(&hash, engine.now()).await? else {
        return Ok(None);
    };
    Ok(engine.store.account(agent).await?)
}

impl FromRequestParts<SharedEngine> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &SharedEngine,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let account = account_for_token(engine, token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Authed { account })
    }
}
