//! The REST side of the gateway: sign-in, lists for the desktop, a conversation's history,
//! starting a chat, administration, health.

pub mod admin;
pub mod auth;
pub mod error;

use crate::engine::{SharedEngine, StartRequest, Started};
use crate::wire::AgentView;
use auth::Authed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use error::{ApiError, ApiJson, ApiPath, ApiQuery};
use serde::{Deserialize, Serialize};
use switchboard_core::config::*;
use switchboard_core::decide::AgentCommand;
use switchboard_core::*;
use switchboard_store::CatalogKind;

/// Sessions last this long.
const SESSION_DAYS: i64 = 7;

pub fn routes() -> Router<SharedEngine> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(crate::openapi::document))
        .route("/api/v1/sessions", post(sign_in))
        .route("/api/v1/sessions/current", delete(sign_out))
        .route("/api/v1/me", get(me))
        .route("/api/v1/idle-codes", get(idle_codes))
        .route("/api/v1/wrapup-reasons", get(wrapup_reasons))
        .route("/api/v1/templates", get(templates))
        .route("/api/v1/queues", get(queues))
        .route("/api/v1/directory/queues", get(directory_queues))
        .route("/api/v1/directory/agents", get(directory_agents))
        .route("/api/v1/conversations/{id}/events", get(history))
        .route(
            "/api/v1/conversations/{id}/customer-history",
            get(customer_history),
        )
        .route("/api/v1/assets/{id}/widget", get(widget))
        .route("/api/v1/assets/{id}/conversations", post(start))
        .route("/api/v1/ws/agent", get(crate::ws::agent::upgrade))
        .route("/api/v1/ws/customer", get(crate::ws::customer::upgrade))
        .nest("/api/v1/admin", admin::routes())
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method (see /api/openapi.json)",
            )
        })
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint (see /api/openapi.json)",
            )
        })
}

async fn readyz(State(engine): State<SharedEngine>) -> impl IntoResponse {
    if !engine.is_accepting() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match engine.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unreachable"),
    }
}

#[derive(Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ts_rs::TS)]
pub struct SessionCreated {
    pub token: String,
    pub expires_at: String,
    pub account: Account,
}

async fn sign_in(
    State(engine): State<SharedEngine>,
    ApiJson(req): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "the email or the password is wrong",
        )
    };
    let found = engine.store.credentials(&req.email).await?;
    let (account, hash) = match found {
        Some(f) => f,
        None => return Err(refused()),
    };
    let password = req.password;
    let ok = crate::auth::verify_password_async(password, hash).await;
    if !ok {
        return Err(refused());
    }
    engine
        .agent_command(account.id, None, AgentCommand::SignIn)
        .await?;
    let token = crate::auth::new_token("sbs_");
    let now = engine.now();
    let expires = now + Millis(SESSION_DAYS * 24 * 3600 * 1000);
    engine
        .store
        .create_session(&crate::auth::token_hash(&token), account.id, now, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            token,
            expires_at: crate::rfc3339(expires),
            account,
        }),
    ))
}

/// Signs out: refused while the agent has chats open or wrap-ups pending.
async fn sign_out(State(engine): State<SharedEngine>, who: Authed) -> Result<StatusCode, ApiError> {
    engine
        .agent_command(who.account.id, None, AgentCommand::SignOut)
        .await?;
    // Signed out means every session of the account ends, on every device.
    engine.store.delete_sessions_of(who.account.id).await?;
    engine.close_agent(who.account.id, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ts_rs::TS)]
pub struct Me {
    pub account: Account,
    pub agent: AgentView,
}

async fn me(State(engine): State<SharedEngine>, who: Authed) -> Result<Json<Me>, ApiError> {
    let row = engine
        .store
        .agent(who.account.id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(Json(Me {
        account: who.account,
        agent: AgentView::of(&row.state),
    }))
}

async fn idle_codes(
    State(engine): State<SharedEngine>,
    _who: Authed,
) -> Result<Json<Vec<IdleCode>>, ApiError> {
    Ok(Json(engine.store.entries(CatalogKind::IdleCode).await?))
}

async fn wrapup_reasons(
    State(engine): State<SharedEngine>,
    _who: Authed,
) -> Result<Json<Vec<WrapUpReason>>, ApiError> {
    Ok(Json(engine.store.entries(CatalogKind::WrapUpReason).await?))
}

async fn templates(
    State(engine): State<SharedEngine>,
    _who: Authed,
) -> Result<Json<Vec<Template>>, ApiError> {
    Ok(Json(engine.store.entries(CatalogKind::Template).await?))
}

#[derive(Serialize, ts_rs::TS)]
pub struct QueueSummary {
    pub id: QueueId,
    pub name: String,
}

async fn queues(
    State(engine): State<SharedEngine>,
    _who: Authed,
) -> Result<Json<Vec<QueueSummary>>, ApiError> {
    let queues: Vec<Queue> = engine.store.entries(CatalogKind::Queue).await?;
    Ok(Json(
        queues
            .into_iter()
            .map(|q| QueueSummary {
                id: q.id,
                name: q.name,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct Search {
    /// Keeps the entries whose name contains this, ignoring case.
    #[serde(default)]
    pub search: Option<String>,
    /// For agents: leaves out those this conversation cannot go to (in it, owing its
    /// wrap-up, or who transferred it away).
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
}

fn matches(name: &str, search: &Option<String>) -> bool {
    match search.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(s) => name.to_lowercase().contains(&s.to_lowercase()),
    }
}

/// The queues a chat can be transferred to, filtered on the server (the desktop's Reload
/// fetches it again).
async fn directory_queues(
    State(engine): State<SharedEngine>,
    _who: Authed,
    ApiQuery(q): ApiQuery<Search>,
) -> Result<Json<Vec<QueueSummary>>, ApiError> {
    let queues: Vec<Queue> = engine.store.entries(CatalogKind::Queue).await?;
    Ok(Json(
        queues
            .into_iter()
            .filter(|queue| matches(&queue.name, &q.search))
            .map(|queue| QueueSummary {
                id: queue.id,
                name: queue.name,
            })
            .collect(),
    ))
}

/// An agent a chat can be transferred to, or invited into.
#[derive(Serialize, ts_rs::TS)]
pub struct AvailableAgent {
    pub id: AgentId,
    pub name: String,
    pub load: u32,
    pub capacity: u32,
}

/// The agents a chat can go to now: Available, connected, with room and no offer pending,
/// not the one asking.
async fn directory_agents(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiQuery(q): ApiQuery<Search>,
) -> Result<Json<Vec<AvailableAgent>>, ApiError> {
    let agents = engine.store.available_agents().await?;
    let excluded: std::collections::BTreeSet<AgentId> = match q.conversation_id {
        Some(cid) => match engine.store.conversation(cid).await? {
            Some(c) => c
                .agents
                .iter()
                .chain(c.wrapups.keys())
                .chain(c.transferred_by.iter())
                .copied()
                .collect(),
            None => Default::default(),
        },
        None => Default::default(),
    };
    Ok(Json(
        agents
            .into_iter()
            .filter(|(id, name, ..)| {
                *id != who.account.id && !excluded.contains(id) && matches(name, &q.search)
            })
            .map(|(id, name, load, capacity)| AvailableAgent {
                id,
                name,
                load: load as u32,
                capacity: capacity as u32,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ts_rs::TS)]
pub struct HistoryEvent {
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub at: i64,
    pub event: ConversationEvent,
}

/// A conversation's log, for an agent who has been in it, or a supervisor.
async fn history(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<HistoryEvent>>, ApiError> {
    readable_conversation(&engine, &who, id).await?;
    let limit = q.limit.unwrap_or(500).clamp(1, 1000);
    let events = engine.store.events_after(id, q.after, limit).await?;
    let config = engine.config.get().await?;
    let masker = config.agent_masker();
    Ok(Json(
        events
            .into_iter()
            .map(|e| HistoryEvent {
                seq: e.seq,
                at: e.at.0,
                event: match masker {
                    Some(m) => crate::masking::event(m, &e.event),
                    None => e.event,
                },
            })
            .collect(),
    ))
}

/// One earlier conversation of a verified customer, with its transcript.
#[derive(Serialize, ts_rs::TS)]
pub struct PastConversation {
    pub conversation_id: ConversationId,
    #[ts(type = "number")]
    pub arrived_at: i64,
    pub status: String,
    pub queue_name: String,
    pub asset_name: String,
    pub messages: Vec<crate::wire::MessageView>,
}

/// The verified customer's earlier conversations (newest first, at most 20), for an agent in
/// this conversation or a supervisor. Empty when the customer is not verified.
async fn customer_history(
    State(engine): State<SharedEngine>,
    who: Authed,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Vec<PastConversation>>, ApiError> {
    let c = readable_conversation(&engine, &who, id).await?;
    let Some(identity) = &c.customer.identity else {
        return Ok(Json(vec![]));
    };
    let config = engine.config.get().await?;
    let masker = config.agent_masker();
    let mut out = Vec::new();
    for past in engine
        .store
        .conversations_of_identity(identity, id, 20)
        .await?
    {
        let messages = engine
            .store
            .events_after(past.id, 0, 1000)
            .await?
            .into_iter()
            .filter_map(|e| match e.event {
                ConversationEvent::Message { sender, text, .. } => Some(crate::wire::MessageView {
                    seq: e.seq,
                    at: e.at.0,
                    sender,
                    text: match masker {
                        Some(m) => crate::masking::text(m, &text),
                        None => text,
                    },
                }),
                _ => None,
            })
            .collect();
        out.push(PastConversation {
            conversation_id: past.id,
            arrived_at: past.arrived_at.0,
            status: past.status.name().to_string(),
            queue_name: past.queue_name.clone(),
            asset_name: past.asset_name.clone(),
            messages,
        });
    }
    Ok(Json(out))
}

/// A conversation the caller may read: an agent who has been in it, or a supervisor. Others
/// are told it does not exist.
async fn readable_conversation(
    engine: &SharedEngine,
    who: &Authed,
    id: ConversationId,
) -> Result<Conversation, ApiError> {
    let c = engine
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let allowed = c.ever_agents.contains(&who.account.id)
        || c.loaded_agents().contains(&who.account.id)
        || who.require(Role::Supervisor).is_ok();
    if allowed {
        Ok(c)
    } else {
        Err(ApiError::not_found("conversation"))
    }
}

#[derive(Serialize, ts_rs::TS)]
pub struct WidgetConfig {
    pub asset_id: AssetId,
    pub name: String,
    pub title: String,
    pub greeting: String,
    pub prechat_fields: Vec<PrechatField>,
}

async fn widget(
    State(engine): State<SharedEngine>,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<Json<WidgetConfig>, ApiError> {
    let config = engine.config.get().await?;
    let a = config
        .assets
        .get(&id)
        .ok_or_else(|| ApiError::not_found("asset"))?;
    Ok(Json(WidgetConfig {
        asset_id: a.id,
        name: a.name.clone(),
        title: a.title.clone(),
        greeting: a.greeting.clone(),
        prechat_fields: a.prechat_fields.clone(),
    }))
}

async fn start(
    State(engine): State<SharedEngine>,
    ApiPath(id): ApiPath<AssetId>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<StartRequest>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    // A browser says which page it runs on; an asset with allowed origins takes chats only
    // from those. (Requests without an Origin, from servers and tools, are not browsers.)
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let config = engine.config.get().await?;
        if let Some(asset) = config.assets.get(&id) {
            let allowed = &asset.allowed_origins;
            if !allowed.is_empty() && !allowed.iter().any(|o| o.trim_end_matches('/') == origin) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "origin_not_allowed",
                    "this website may not start chats on this asset",
                ));
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(engine.start_conversation(id, req).await?),
    ))
}

/// The root page: where things are (the desktop app comes with its own issue).
pub async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("index.html"))
}
