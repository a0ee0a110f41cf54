//! The OpenAPI document of the REST API, at `GET /api/openapi.json`.

use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn crud(tag: &str, schema: &str) -> (Value, Value) {
    let r = json!({"$ref": format!("#/components/schemas/{schema}")});
    let collection = json!({
        "get": {"tags": [tag], "summary": format!("List {tag}"), "security": [{"bearer": []}],
                "responses": {"200": ok("Every live entry", json!({"type": "array", "items": r})), "401": error_response("Not signed in"), "403": error_response("Not an administrator")}},
        "post": {"tags": [tag], "summary": format!("Create one of {tag} (the id is assigned)"), "security": [{"bearer": []}],
                 "requestBody": {"required": true, "content": {"application/json": {"schema": r}}},
                 "responses": {"201": ok("Created", r.clone()), "400": error_response("Invalid"), "409": error_response("Name taken")}}
    });
    let item = json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "get": {"tags": [tag], "security": [{"bearer": []}], "responses": {"200": ok("The entry", r.clone()), "404": error_response("Not found")}},
        "put": {"tags": [tag], "summary": "Replace the fields sent; others keep their value", "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": ok("Updated", r.clone()), "400": error_response("Invalid"), "404": error_response("Not found")}},
        "delete": {"tags": [tag], "security": [{"bearer": []}], "responses": {"204": {"description": "Deleted (history kept)"}, "404": error_response("Not found")}}
    });
    (collection, item)
}

/// The document itself (also checked by a test against the router's routes).
pub fn spec() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("/".into(), json!({"get": {"tags": ["ui"], "summary": "The web app's start page", "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}}));
    paths.insert("/api/openapi.json".into(), json!({"get": {"tags": ["meta"], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}}));
    paths.insert("/healthz".into(), json!({"get": {"tags": ["health"], "summary": "Alive", "responses": {"200": {"description": "ok"}}}}));
    paths.insert("/readyz".into(), json!({"get": {"tags": ["health"], "summary": "Ready: the store is reachable and the node is not stopping", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}}));
    paths.insert("/api/v1/sessions".into(), json!({"post": {"tags": ["sessions"], "summary": "Sign in",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignIn"}}}},
        "responses": {"201": ok("Session created", json!({"$ref": "#/components/schemas/Session"})), "401": error_response("bad_credentials")}}}));
    paths.insert("/api/v1/sessions/current".into(), json!({"delete": {"tags": ["sessions"], "summary": "Sign out (refused with chats open: chats_open)", "security": [{"bearer": []}],
        "responses": {"204": {"description": "Signed out"}, "409": error_response("chats_open")}}}));
    paths.insert("/api/v1/me".into(), json!({"get": {"tags": ["sessions"], "security": [{"bearer": []}], "responses": {"200": ok("The account and its live state", json!({"type": "object"})), "401": error_response("unauthorized")}}}));
    for (p, s) in [
        ("/api/v1/idle-codes", "IdleCode"),
        ("/api/v1/wrapup-reasons", "WrapUpReason"),
        ("/api/v1/templates", "Template"),
        ("/api/v1/queues", "QueueSummary"),
    ] {
        paths.insert(p.into(), json!({"get": {"tags": ["desktop"], "security": [{"bearer": []}], "responses": {"200": ok("The list", json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{s}")}})), "401": error_response("unauthorized")}}}));
    }
    for (p, s, summary) in [
        (
            "/api/v1/directory/queues",
            "QueueSummary",
            "Queues a chat can be transferred to",
        ),
        (
            "/api/v1/directory/agents",
            "AvailableAgent",
            "Agents a chat can go to now (Available, connected, with room), not the caller",
        ),
    ] {
        paths.insert(p.into(), json!({"get": {"tags": ["desktop"], "summary": summary, "security": [{"bearer": []}],
            "parameters": [{"name": "search", "in": "query", "schema": {"type": "string"}, "description": "Keep names containing this (case-insensitive)"},
                           {"name": "conversation_id", "in": "query", "schema": {"type": "string", "format": "uuid"}, "description": "Agents only: leave out those this conversation cannot go to (in it, owing its wrap-up, or who transferred it)"}],
            "responses": {"200": ok("The list", json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{s}")}})), "401": error_response("unauthorized")}}}));
    }
    paths.insert("/api/v1/conversations/{id}/events".into(), json!({"get": {"tags": ["desktop"], "summary": "A conversation's log, for an agent who has been in it or a supervisor", "security": [{"bearer": []}],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                       {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
        "responses": {"200": ok("Events in order", json!({"type": "array", "items": {"$ref": "#/components/schemas/LoggedEvent"}})), "404": error_response("not_found")}}}));
    paths.insert("/api/v1/conversations/{id}/customer-history".into(), json!({"get": {"tags": ["desktop"], "summary": "The verified customer's earlier conversations with their transcripts (empty for an unverified customer)", "security": [{"bearer": []}],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": ok("Newest first, at most 20", json!({"type": "array", "items": {"$ref": "#/components/schemas/PastConversation"}})), "404": error_response("not_found")}}}));
    paths.insert("/api/v1/assets/{id}/widget".into(), json!({"get": {"tags": ["widget"], "summary": "What the widget shows before a chat starts",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": ok("Widget configuration", json!({"type": "object"})), "404": error_response("not_found")}}}));
    paths.insert("/api/v1/assets/{id}/conversations".into(), json!({"post": {"tags": ["widget"], "summary": "Start a chat",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StartRequest"}}}},
        "responses": {"201": ok("Started: keep the token", json!({"$ref": "#/components/schemas/Started"})), "400": error_response("invalid_request"), "404": error_response("not_found")}}}));
    paths.insert("/api/v1/ws/agent".into(), json!({"get": {"tags": ["real-time"], "summary": "WebSocket for an agent desktop (see docs/protocol.md)", "responses": {"101": {"description": "Switching protocols"}}}}));
    paths.insert("/api/v1/ws/customer".into(), json!({"get": {"tags": ["real-time"], "summary": "WebSocket for a customer's widget (see docs/protocol.md)", "responses": {"101": {"description": "Switching protocols"}}}}));
    for (seg, tag, schema) in [
        ("assets", "assets", "Asset"),
        ("queues", "queues", "Queue"),
        ("idle-codes", "idle codes", "IdleCode"),
        ("wrapup-reasons", "wrap-up reasons", "WrapUpReason"),
        ("templates", "templates", "Template"),
        ("agents", "agents", "Account"),
    ] {
        let (collection, item) = crud(tag, schema);
        paths.insert(format!("/api/v1/admin/{seg}"), collection);
        let mut item = item;
        if seg == "agents" {
            item.as_object_mut().unwrap().remove("delete");
        }
        paths.insert(format!("/api/v1/admin/{seg}/{{id}}"), item);
    }
    paths.insert("/api/v1/admin/desktop-profile".into(), json!({
        "get": {"tags": ["desktop profile"], "security": [{"bearer": []}], "responses": {"200": ok("The profile", json!({"$ref": "#/components/schemas/DesktopProfile"}))}},
        "put": {"tags": ["desktop profile"], "security": [{"bearer": []}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DesktopProfile"}}}},
                "responses": {"200": ok("Saved", json!({"$ref": "#/components/schemas/DesktopProfile"})), "400": error_response("invalid_request")}}}));
    let id = json!({"type": "string", "format": "uuid"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Live-chat contact center. REST for resources; the real-time protocol (WebSocket) is described in docs/protocol.md."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A session token (sbs_…) from POST /api/v1/sessions"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
                "SignIn": {"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}},
                "Session": {"type": "object", "properties": {"token": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}, "account": {"$ref": "#/components/schemas/Account"}}},
                "Account": {"type": "object", "required": ["email", "name"], "properties": {"id": id, "email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["agent", "supervisor", "administrator"]}, "capacity": {"type": "integer", "minimum": 1, "maximum": 20}, "password": {"type": "string", "writeOnly": true, "minLength": 8}}},
                "Asset": {"type": "object", "required": ["name", "queue_id"], "properties": {"id": id, "name": {"type": "string"}, "queue_id": id, "secret": {"type": "string", "minLength": 16}, "allowed_origins": {"type": "array", "items": {"type": "string"}}, "prechat_fields": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "required": {"type": "boolean"}}}}, "inactivity_timeout_secs": {"type": "integer", "minimum": 60, "maximum": 86400}, "title": {"type": "string"}, "greeting": {"type": "string"}}},
                "Queue": {"type": "object", "required": ["name"], "properties": {"id": id, "name": {"type": "string"}, "offer_timeout_secs": {"type": "integer", "minimum": 5, "maximum": 1800}, "priority": {"type": "integer"}, "agent_ids": {"type": "array", "items": id}}},
                "QueueSummary": {"type": "object", "properties": {"id": id, "name": {"type": "string"}}},
                "AvailableAgent": {"type": "object", "properties": {"id": id, "name": {"type": "string"}, "load": {"type": "integer"}, "capacity": {"type": "integer"}}},
                "IdleCode": {"type": "object", "required": ["name"], "properties": {"id": id, "name": {"type": "string"}}},
                "WrapUpReason": {"type": "object", "required": ["name"], "properties": {"id": id, "name": {"type": "string"}}},
                "Template": {"type": "object", "required": ["name", "body"], "properties": {"id": id, "name": {"type": "string"}, "body": {"type": "string"}}},
                "DesktopProfile": {"type": "object", "properties": {"mask_sensitive_data": {"type": "boolean"}, "redact_payment_at_rest": {"type": "boolean"}, "auto_wrapup_secs": {"type": ["integer", "null"]}, "default_wrapup_reason_id": {"type": ["string", "null"]}, "default_capacity": {"type": "integer"}, "signout_grace_secs": {"type": "integer"}, "customer_grace_secs": {"type": "integer"}}},
                "StartRequest": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}, "fields": {"type": "object", "additionalProperties": {"type": "string"}}, "page_url": {"type": "string"}, "proactive": {"type": "boolean"}, "identity_token": {"type": "string"}}},
                "Started": {"type": "object", "properties": {"conversation_id": id, "token": {"type": "string"}}},
                "PastConversation": {"type": "object", "properties": {"conversation_id": id, "arrived_at": {"type": "integer"}, "status": {"type": "string"}, "queue_name": {"type": "string"}, "asset_name": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}}}},
                "LoggedEvent": {"type": "object", "properties": {"seq": {"type": "integer"}, "at": {"type": "integer", "description": "ms since the epoch"}, "event": {"type": "object", "description": "tagged by type; see docs/protocol.md"}}}
            }
        }
    })
}
