//! Administrators' endpoints: assets, queues (with their agents), agents, idle codes,
//! wrap-up reasons, templates and the desktop profile.

use super::auth::Authed;
use super::error::{ApiError, ApiJson, ApiPath};
use crate::auth::new_token;
use crate::engine::SharedEngine;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::config::*;
use switchboard_core::decide::AgentCommand;
use switchboard_core::*;
use switchboard_store::CatalogKind;

/// A catalog entry as administrators edit it.
pub trait Entry: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: CatalogKind;
    const WHAT: &'static str;
    fn id(&self) -> String;
    fn name(&self) -> &str;
    fn check(&self) -> Result<(), ConfigError>;
}

macro_rules! entry {
    ($t:ty, $kind:expr, $what:literal, $check:expr) => {
        impl Entry for $t {
            const KIND: CatalogKind = $kind;
            const WHAT: &'static str = $what;
            fn id(&self) -> String {
                self.id.to_string()
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn check(&self) -> Result<(), ConfigError> {
                let f: fn(&Self) -> Result<(), ConfigError> = $check;
                f(self)
            }
        }
    };
}

fn check_plain_name(name: &str) -> Result<(), ConfigError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) {
        return Err(ConfigError {
            field: "name",
            rule: "must be 1 to 100 characters, without control characters".into(),
        });
    }
    Ok(())
}

entry!(Asset, CatalogKind::Asset, "asset", Asset::validate);
entry!(Queue, CatalogKind::Queue, "queue", Queue::validate);
entry!(IdleCode, CatalogKind::IdleCode, "idle code", |c| {
    check_plain_name(&c.name)
});
entry!(
    WrapUpReason,
    CatalogKind::WrapUpReason,
    "wrap-up reason",
    |r| check_plain_name(&r.name)
);
entry!(
    Template,
    CatalogKind::Template,
    "template",
    Template::validate
);

pub fn routes() -> Router<SharedEngine> {
    let router = Router::new();
    let router = catalog::<Asset>(router, "/assets");
    let router = catalog::<Queue>(router, "/queues");
    let router = catalog::<IdleCode>(router, "/idle-codes");
    let router = catalog::<WrapUpReason>(router, "/wrapup-reasons");
    let router = catalog::<Template>(router, "/templates");
    router
        .route("/agents", get(list_agents).post(create_agent))
        .route("/agents/{id}", get(read_agent).put(update_agent))
        .route("/desktop-profile", get(read_profile).put(write_profile))
}

/// The collection and item routes of one kind of catalog entry.
fn catalog<T: Entry>(router: Router<SharedEngine>, path: &str) -> Router<SharedEngine> {
    router.route(path, get(list::<T>).post(create::<T>)).route(
        &format!("{path}/{{id}}"),
        get(read::<T>).put(replace::<T>).delete(remove::<T>),
    )
}

/// Works the stored deadlines out again under the new rules, after the answer.
fn refresh_deadlines_later(engine: &SharedEngine) {
    let engine = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = engine.refresh_deadlines().await {
            tracing::warn!(error = %e, "refreshing deadlines failed");
        }
    });
}

/// `current` with the fields of `body` (a JSON object) put over it: a PUT replaces what it
/// sends and keeps the rest.
fn merge(mut current: Value, body: &Value) -> Result<Value, ApiError> {
    match (current.as_object_mut(), body.as_object()) {
        (Some(m), Some(b)) => {
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
            Ok(current)
        }
        _ => Err(ApiError::invalid("the body must be a JSON object")),
    }
}

async fn list<T: Entry>(
    State(engine): State<SharedEngine>,
    who: Authed,
) -> Result<Json<Vec<T>>, ApiError> {
    who.require(Role::Administrator)?;
    Ok(Json(engine.store.entries::<T>(T::KIND).await?))
}

async fn read<T: Entry>(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<T>, ApiError> {
    who.require(Role::Administrator)?;
    engine
        .store
        .entry::<T>(T::KIND, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(T::WHAT))
}

/// Parses an entry from a request body, with the id given (a new one on create) and the
/// defaults an administrator need not send.
fn parse_entry<T: Entry>(mut body: Value, id: String) -> Result<T, ApiError> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("the body must be a JSON object"))?;
    obj.insert("id".into(), Value::String(id));
    if T::KIND == CatalogKind::Asset && !obj.contains_key("secret") {
        obj.insert("secret".into(), Value::String(new_token("sba_")));
    }
    let entry: T = serde_json::from_value(body).map_err(|e| ApiError::invalid(e.to_string()))?;
    entry.check()?;
    Ok(entry)
}

async fn save<T: Entry>(engine: &SharedEngine, entry: &T) -> Result<(), ApiError> {
    let value = serde_json::to_value(entry).map_err(|e| ApiError::invalid(e.to_string()))?;
    match T::KIND {
        CatalogKind::Queue => {
            let queue: Queue =
                serde_json::from_value(value).map_err(|e| ApiError::invalid(e.to_string()))?;
            for agent in &queue.agent_ids {
                if engine.store.account(*agent).await?.is_none() {
                    return Err(ApiError::invalid(format!("agent_ids: no agent {agent}")));
                }
            }
            engine.store.put_queue(&queue).await?;
        }
        CatalogKind::Asset => {
            let asset: Asset =
                serde_json::from_value(value).map_err(|e| ApiError::invalid(e.to_string()))?;
            if engine
                .store
                .entry::<Queue>(CatalogKind::Queue, &asset.queue_id.to_string())
                .await?
                .is_none()
            {
                return Err(ApiError::invalid("queue_id: no such queue"));
            }
            engine
                .store
                .put_entry(T::KIND, &entry.id(), entry.name(), entry)
                .await?;
        }
        _ => {
            engine
                .store
                .put_entry(T::KIND, &entry.id(), entry.name(), entry)
                .await?
        }
    }
    engine.config.reload().await?;
    if T::KIND == CatalogKind::Asset {
        // Its inactivity timeout may have changed.
        refresh_deadlines_later(engine);
    }
    Ok(())
}

async fn create<T: Entry>(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<T>), ApiError> {
    who.require(Role::Administrator)?;
    let entry: T = parse_entry(body, uuid::Uuid::now_v7().to_string())?;
    save(&engine, &entry).await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

async fn replace<T: Entry>(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<T>, ApiError> {
    who.require(Role::Administrator)?;
    let existing: Value = engine
        .store
        .entry::<Value>(T::KIND, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(T::WHAT))?;
    // Fields not sent keep their value (an asset's secret, say).
    let entry: T = parse_entry(merge(existing, &body)?, id)?;
    save(&engine, &entry).await?;
    Ok(Json(entry))
}

async fn remove<T: Entry>(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Administrator)?;
    let now = engine.now();
    let deleted = if T::KIND == CatalogKind::Queue {
        let qid: QueueId = id.parse().map_err(|_| ApiError::not_found(T::WHAT))?;
        // A queue that an asset feeds or where chats wait would strand them.
        let assets: Vec<Asset> = engine.store.entries(CatalogKind::Asset).await?;
        if let Some(a) = assets.iter().find(|a| a.queue_id == qid) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "queue_in_use",
                format!(
                    "the asset {:?} sends its chats to this queue: point it elsewhere first",
                    a.name
                ),
            ));
        }
        // Answered chats count too: one may come back to its queue (its agent logged out).
        if engine.store.open_chats_of_queue(qid).await? > 0 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "queue_in_use",
                "chats of this queue are not over yet (waiting or answered): try again once they have ended",
            ));
        }
        engine.store.delete_queue(qid, now).await?
    } else {
        engine.store.delete_entry(T::KIND, &id, now).await?
    };
    if !deleted {
        return Err(ApiError::not_found(T::WHAT));
    }
    engine.config.reload().await?;
    if T::KIND == CatalogKind::Asset {
        // Its live chats are interrupted; its history stays for reports.
        let asset: AssetId = id.parse().map_err(|_| ApiError::not_found(T::WHAT))?;
        engine.interrupt_asset(asset).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    #[ts(optional)]
    pub role: Option<Role>,
    #[serde(default)]
    #[ts(optional)]
    pub capacity: Option<u32>,
}

#[derive(Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    #[serde(default)]
    #[ts(optional)]
    pub email: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub password: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub role: Option<Role>,
    #[serde(default)]
    #[ts(optional)]
    pub capacity: Option<u32>,
}

fn check_account(a: &Account) -> Result<(), ApiError> {
    check_plain_name(&a.name)?;
    let email = a.email.trim();
    if email.len() > 200 || !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(ApiError::invalid("email: must be an email address"));
    }
    if !(1..=20).contains(&a.capacity) {
        return Err(ApiError::invalid("capacity: must be between 1 and 20"));
    }
    Ok(())
}

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < 8 || p.len() > 200 {
        return Err(ApiError::invalid("password: must be 8 to 200 characters"));
    }
    Ok(())
}

/// Creates an account (also used by the demo seed).
pub async fn create_account(engine: &SharedEngine, new: NewAgent) -> Result<Account, ApiError> {
    let profile = engine.store.desktop_profile().await?;
    let account = Account {
        id: AgentId::new(),
        email: new.email.trim().to_lowercase(),
        name: new.name.trim().to_string(),
        role: new.role.unwrap_or(Role::Agent),
        capacity: new.capacity.unwrap_or(profile.default_capacity),
    };
    check_account(&account)?;
    check_password(&new.password)?;
    let hash = crate::auth::hash_password_async(new.password).await;
    engine
        .store
        .create_account(&account, &hash, engine.now())
        .await?;
    Ok(account)
}

async fn list_agents(
    State(engine): State<SharedEngine>,
    who: Authed,
) -> Result<Json<Vec<Account>>, ApiError> {
    who.require(Role::Administrator)?;
    Ok(Json(engine.store.accounts().await?))
}

async fn read_agent(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<AgentId>,
) -> Result<Json<Account>, ApiError> {
    who.require(Role::Administrator)?;
    engine
        .store
        .account(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agent"))
}

async fn create_agent(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiJson(new): ApiJson<NewAgent>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(create_account(&engine, new).await?),
    ))
}

async fn update_agent(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(update): ApiJson<AgentUpdate>,
) -> Result<Json<Account>, ApiError> {
    who.require(Role::Administrator)?;
    let mut account = engine
        .store
        .account(id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if let Some(e) = update.email {
        account.email = e.trim().to_lowercase();
    }
    if let Some(n) = update.name {
        account.name = n.trim().to_string();
    }
    if let Some(r) = update.role {
        account.role = r;
    }
    if let Some(c) = update.capacity {
        account.capacity = c;
    }
    check_account(&account)?;
    if let Some(p) = &update.password {
        check_password(p)?;
    }
    engine.store.update_account(&account).await?;
    engine.rename_agent(id, &account.name).await?;
    if let Some(c) = update.capacity {
        engine
            .agent_command(id, None, AgentCommand::SetCapacity(c))
            .await?;
    }
    if let Some(p) = update.password {
        let hash = crate::auth::hash_password_async(p).await;
        engine.store.set_password_hash(id, &hash).await?;
    }
    Ok(Json(account))
}

async fn read_profile(
    State(engine): State<SharedEngine>,
    who: Authed,
) -> Result<Json<DesktopProfile>, ApiError> {
    who.require(Role::Administrator)?;
    Ok(Json(engine.store.desktop_profile().await?))
}

/// Replaces the fields sent; the others keep their value (as the other admin PUTs do).
async fn write_profile(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<DesktopProfile>, ApiError> {
    who.require(Role::Administrator)?;
    let current = engine.store.desktop_profile().await?;
    let current = serde_json::to_value(&current).map_err(|e| ApiError::invalid(e.to_string()))?;
    let profile: DesktopProfile = serde_json::from_value(merge(current, &body)?)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    profile.validate()?;
    if let Some(region) = &profile.phone_region {
        let config = switchboard_mask::MaskConfig {
            default_region: Some(region.clone()),
        };
        switchboard_mask::Masker::new(&config)
            .map_err(|e| ApiError::invalid(format!("phone_region: {e}")))?;
    }
    if let Some(r) = profile.default_wrapup_reason_id {
        if engine
            .store
            .entry::<WrapUpReason>(CatalogKind::WrapUpReason, &r.to_string())
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "default_wrapup_reason_id: no such wrap-up reason",
            ));
        }
    }
    engine.store.put_desktop_profile(&profile).await?;
    engine.config.reload().await?;
    refresh_deadlines_later(&engine);
    Ok(Json(profile))
}
