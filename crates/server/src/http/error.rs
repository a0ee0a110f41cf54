//! The one place errors become HTTP statuses and wire codes. Internals (SQL, paths) are
//! logged, never sent.

use crate::engine::EngineError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_core::config::ConfigError;
use switchboard_core::DomainError;
use switchboard_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid session token is required (Authorization: Bearer …)",
        )
    }
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(Body {
                code: self.code,
                message: &self.message,
            }),
        )
            .into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e {
            DomainError::ConversationNotFound => StatusCode::NOT_FOUND,
            DomainError::NotInConversation | DomainError::NotOwner => StatusCode::FORBIDDEN,
            DomainError::MessageEmpty
            | DomainError::MessageTooLong { .. }
            | DomainError::MessageControlCharacter
            | DomainError::MessageReservedCharacter
            | DomainError::TemplateInvalid
            | DomainError::IdleCodeRequired
            | DomainError::InvalidCapacity => StatusCode::BAD_REQUEST,
            _ => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken(what) => ApiError::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!("that {what} is already taken"),
            ),
            StoreError::NotFound => ApiError::not_found("it was"),
            StoreError::Conflict => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy; retry",
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store could not be reached; retry",
                )
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Domain(d) => d.into(),
            EngineError::IdReused => {
                ApiError::new(StatusCode::CONFLICT, "id_reused", e.to_string())
            }
            EngineError::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, "not_found", what),
            EngineError::Invalid(m) => ApiError::invalid(m),
            EngineError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            EngineError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                e.to_string(),
            ),
            EngineError::Store(s) => s.into(),
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

/// The wire code of an engine error (for WebSocket `error` frames).
pub fn engine_error_code(e: &EngineError) -> (&'static str, String) {
    let api: ApiError = match e {
        EngineError::Domain(d) => d.clone().into(),
        EngineError::IdReused => return ("id_reused", e.to_string()),
        EngineError::NotFound(w) => return ("not_found", w.to_string()),
        EngineError::Invalid(m) => return ("invalid_request", m.clone()),
        EngineError::Busy => return ("busy", e.to_string()),
        EngineError::ShuttingDown => return ("shutting_down", e.to_string()),
        EngineError::Store(StoreError::Conflict) => return ("busy", "retry".into()),
        EngineError::Store(other) => {
            tracing::error!(error = %other, "store failure");
            return (
                "store_unavailable",
                "the store could not be reached; retry".into(),
            );
        }
    };
    (api.code, api.message)
}

/// A JSON request body whose refusal is an `ApiError` (`invalid_request`, with serde's
/// message), like every other error, rather than axum's plain-text rejection.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        // Every body is a JSON object: serde would also build a struct from an array.
        if !value.is_object() {
            return Err(ApiError::invalid("the body must be a JSON object"));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::invalid(e.to_string()))
    }
}

/// A path parameter whose refusal (say, an id that is not a UUID) is an `ApiError`.
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::invalid(e.body_text())),
        }
    }
}

/// A query string whose refusal is an `ApiError`.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::invalid(e.body_text())),
        }
    }
}
