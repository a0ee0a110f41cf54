//! Administration: every configured thing round-trips through the API, is validated, takes
//! effect at once, and the OpenAPI document lists every route.

use crate::helpers::*;
use serde_json::{json, Value};

/// Create → read → list → update (fields not sent keep their value) → delete → gone.
/// Returns the entry as last updated.
async fn round_trip(app: &TestApp, admin: &str, seg: &str, create: Value, update: Value) -> Value {
    let base = format!("/api/v1/admin/{seg}");
    let (status, created) = app.post(&base, Some(admin), create.clone()).await;
    assert_eq!(status, 201, "create {seg}: {created}");
    let id = created["id"]
        .as_str()
        .expect("an id is assigned")
        .to_string();
    for (k, v) in create.as_object().unwrap() {
        assert_eq!(&created[k], v, "{seg}.{k}");
    }
    let (status, read) = app.get(&format!("{base}/{id}"), Some(admin)).await;
    assert_eq!(status, 200);
    assert_eq!(read, created);
    let (_, list) = app.get(&base, Some(admin)).await;
    assert!(list.as_array().unwrap().contains(&created), "{seg} list");

    let (status, updated) = app
        .put(&format!("{base}/{id}"), admin, update.clone())
        .await;
    assert_eq!(status, 200, "update {seg}: {updated}");
    assert_eq!(updated["id"], id.as_str(), "the id does not change");
    for (k, v) in created.as_object().unwrap() {
        let expected = update.get(k).unwrap_or(v);
        assert_eq!(&updated[k], expected, "{seg}.{k} after update");
    }
    let (_, read) = app.get(&format!("{base}/{id}"), Some(admin)).await;
    assert_eq!(read, updated);

    let (status, _) = app.delete(&format!("{base}/{id}"), admin).await;
    assert_eq!(status, 204);
    let (status, body) = app.get(&format!("{base}/{id}"), Some(admin)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    let (_, list) = app.get(&base, Some(admin)).await;
    assert!(!list
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == id.as_str()));
    let (status, _) = app.delete(&format!("{base}/{id}"), admin).await;
    assert_eq!(status, 404, "deleting twice");
    let (status, _) = app.put(&format!("{base}/{id}"), admin, update).await;
    assert_eq!(status, 404, "updating a deleted {seg}");
    updated
}

/// An answer is a 400 `invalid_request` naming what is wrong.
fn assert_invalid(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_request", "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains(field),
        "the message names {field}: {body}"
    );
}

#[tokio::test]
async fn queues_round_trip_and_are_validated() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let ana = app.agent(ANA).await;
    round_trip(
        &app,
        &admin,
        "queues",
        json!({"name": "Billing", "offer_timeout_secs": 45, "priority": 2, "agent_ids": [ana.id]}),
        json!({"offer_timeout_secs": 60, "agent_ids": []}),
    )
    .await;
    // Defaults for what is not sent.
    let (status, q) = app
        .post(
            "/api/v1/admin/queues",
            Some(&admin),
            json!({"name": "Returns"}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(q["offer_timeout_secs"], 30);
    assert_eq!(q["priority"], 0);
    let id = q["id"].as_str().unwrap();

    for (body, field) in [
        (
            json!({"name": "T", "offer_timeout_secs": 4}),
            "offer_timeout_secs",
        ),
        (
            json!({"name": "T", "offer_timeout_secs": 1801}),
            "offer_timeout_secs",
        ),
        (json!({"name": "T", "priority": 101}), "priority"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "T", "agent_ids": [uuid::Uuid::now_v7()]}),
            "agent_ids",
        ),
    ] {
        let (status, answer) = app
            .post("/api/v1/admin/queues", Some(&admin), body.clone())
            .await;
        assert_invalid(status, &answer, field);
    }
    let (status, answer) = app
        .put(
            &format!("/api/v1/admin/queues/{id}"),
            &admin,
            json!({"offer_timeout_secs": 4}),
        )
        .await;
    assert_invalid(status, &answer, "offer_timeout_secs");
    let (_, q) = app
        .get(&format!("/api/v1/admin/queues/{id}"), Some(&admin))
        .await;
    assert_eq!(
        q["offer_timeout_secs"], 30,
        "a refused update changes nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queues_offer_timeout_is_used_for_its_offers() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let support = app.id_of(&admin, "queues", "Support").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/admin/queues/{support}"),
            &admin,
            json!({"offer_timeout_secs": 120}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    let offer = ana.expect_offer().await;
    assert_eq!(
        offer["deadline"].as_i64().unwrap() - offer["offered_at"].as_i64().unwrap(),
        120_000
    );
    // Past the default 30 s it is still open.
    app.advance(60);
    assert_eq!(ana.accept(&cid).await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn assets_round_trip_and_a_deleted_asset_takes_no_new_chats() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let sales = app.id_of(&admin, "queues", "Sales").await;
    let support = app.id_of(&admin, "queues", "Support").await;
    round_trip(
        &app,
        &admin,
        "assets",
        json!({"name": "Shop", "queue_id": sales, "title": "Talk to sales", "greeting": "Hi!",
               "allowed_origins": ["https://shop.example"], "inactivity_timeout_secs": 600,
               "prechat_fields": [{"key": "order", "label": "Order number", "required": true}]}),
        json!({"queue_id": support, "title": "Talk to us"}),
    )
    .await;

    let (status, shop) = app
        .post(
            "/api/v1/admin/assets",
            Some(&admin),
            json!({"name": "Shop 2", "queue_id": sales,
                   "prechat_fields": [{"key": "order", "label": "Order number", "required": true}]}),
        )
        .await;
    assert_eq!(status, 201, "{shop}");
    let id = shop["id"].as_str().unwrap().to_string();
    assert!(
        shop["secret"].as_str().unwrap().len() >= 16,
        "a secret is made when none is given"
    );
    // The widget shows it; a required pre-chat field is required.
    let (status, widget) = app.get(&format!("/api/v1/assets/{id}/widget"), None).await;
    assert_eq!(status, 200);
    assert_eq!(widget["prechat_fields"][0]["key"], "order");
    assert!(
        widget.get("secret").is_none(),
        "the widget never shows the secret"
    );
    let start = format!("/api/v1/assets/{id}/conversations");
    let (status, body) = app.post(&start, None, json!({})).await;
    assert_invalid(status, &body, "order");
    let (cid, _) = app
        .start_chat_on(&id, json!({"fields": {"order": "A-1"}}))
        .await;
    let log = app
        .log_until(&admin, &cid, "queued", |l| l.len() >= 2)
        .await;
    assert_eq!(log[1]["event"]["queue_name"], "Sales");

    // Deleted: no new chat, no widget.
    let (status, _) = app
        .delete(&format!("/api/v1/admin/assets/{id}"), &admin)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .post(&start, None, json!({"fields": {"order": "A-2"}}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    let (status, _) = app.get(&format!("/api/v1/assets/{id}/widget"), None).await;
    assert_eq!(status, 404);

    for (body, field) in [
        (
            json!({"name": "X", "queue_id": uuid::Uuid::now_v7()}),
            "queue_id",
        ),
        (
            json!({"name": "X", "queue_id": sales, "secret": "short"}),
            "secret",
        ),
        (
            json!({"name": "X", "queue_id": sales, "inactivity_timeout_secs": 10}),
            "inactivity_timeout_secs",
        ),
        (json!({"name": "", "queue_id": sales}), "name"),
    ] {
        let (status, answer) = app.post("/api/v1/admin/assets", Some(&admin), body).await;
        assert_invalid(status, &answer, field);
    }
    app.stop().await;
}

#[tokio::test]
async fn idle_codes_round_trip_and_take_effect_at_once() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    round_trip(
        &app,
        &admin,
        "idle-codes",
        json!({"name": "Coaching"}),
        json!({"name": "Coaching session"}),
    )
    .await;
    let mut ana = app.agent(ANA).await;
    let (_, code) = app
        .post(
            "/api/v1/admin/idle-codes",
            Some(&admin),
            json!({"name": "Admin work"}),
        )
        .await;
    let id = code["id"].as_str().unwrap().to_string();
    // The desktop's list has it, and it can be chosen at once.
    let (_, list) = app.get("/api/v1/idle-codes", Some(&ana.token)).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "Admin work"));
    assert_eq!(ana.idle(&id).await["type"], "ack");
    // Deleted: no longer chosen.
    app.delete(&format!("/api/v1/admin/idle-codes/{id}"), &admin)
        .await;
    assert_eq!(ana.idle(&id).await["code"], "unknown_idle_code");
    let (_, list) = app.get("/api/v1/idle-codes", Some(&ana.token)).await;
    assert!(!list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "Admin work"));
    let (status, answer) = app
        .post(
            "/api/v1/admin/idle-codes",
            Some(&admin),
            json!({"name": " "}),
        )
        .await;
    assert_invalid(status, &answer, "name");
    app.stop().await;
}

#[tokio::test]
async fn wrapup_reasons_round_trip_and_take_effect_at_once() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    round_trip(
        &app,
        &admin,
        "wrapup-reasons",
        json!({"name": "Escalated"}),
        json!({"name": "Escalated to tier 2"}),
    )
    .await;
    let (_, reason) = app
        .post(
            "/api/v1/admin/wrapup-reasons",
            Some(&admin),
            json!({"name": "Refund"}),
        )
        .await;
    let id = reason["id"].as_str().unwrap().to_string();
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&first).await;
    ana.end(&first).await;
    assert_eq!(ana.wrap_up(&first, &id).await["type"], "ack");
    let w = ana.ws.event(&first, "wrapped_up").await;
    assert_eq!(w["event"]["reason_name"], "Refund");
    // Deleted: refused.
    app.delete(&format!("/api/v1/admin/wrapup-reasons/{id}"), &admin)
        .await;
    let (second, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&second).await;
    ana.end(&second).await;
    assert_eq!(
        ana.wrap_up(&second, &id).await["code"],
        "unknown_wrapup_reason"
    );
    app.stop().await;
}

#[tokio::test]
async fn templates_round_trip_and_take_effect_at_once() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    round_trip(
        &app,
        &admin,
        "templates",
        json!({"name": "Hold", "body": "One moment please, <customer_name>."}),
        json!({"body": "One moment please.\nI am checking."}),
    )
    .await;
    let (status, t) = app
        .post(
            "/api/v1/admin/templates",
            Some(&admin),
            json!({"name": "Bye", "body": "Goodbye <customer_name>,\nfrom <agent_name> at <queue_name>."}),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_string();
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    let send = json!({"type": "send_template", "conversation_id": cid, "template": "Bye"});
    assert_eq!(ana.ws.command(send.clone()).await["type"], "ack");
    let m = jo.ws.event(&cid, "message").await;
    assert_eq!(m["event"]["text"], "Goodbye Jo,\nfrom Ana Lima at Support.");
    // Renamed: the old name is gone, the new one works.
    let (status, _) = app
        .put(
            &format!("/api/v1/admin/templates/{id}"),
            &admin,
            json!({"name": "Farewell"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ana.ws.command(send).await["code"], "unknown_template");
    let r = ana
        .ws
        .command(json!({"type": "send_template", "conversation_id": cid, "template": "Farewell"}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    for (body, field) in [
        (json!({"name": "Empty", "body": ""}), "body"),
        (json!({"name": "Long", "body": "x".repeat(2001)}), "body"),
        (json!({"name": "", "body": "x"}), "name"),
    ] {
        let (status, answer) = app
            .post("/api/v1/admin/templates", Some(&admin), body)
            .await;
        assert_invalid(status, &answer, field);
    }
    app.stop().await;
}

#[tokio::test]
async fn agents_round_trip_and_are_validated() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (status, eve) = app
        .post(
            "/api/v1/admin/agents",
            Some(&admin),
            json!({"email": "Eve@Example.com", "name": "Eve Stone", "password": "eve-password-1"}),
        )
        .await;
    assert_eq!(status, 201, "{eve}");
    assert_eq!(eve["email"], "eve@example.com");
    assert_eq!(eve["role"], "agent", "agent by default");
    assert_eq!(eve["capacity"], 3, "the profile's default capacity");
    assert!(eve.get("password").is_none() && eve.get("password_hash").is_none());
    let id = eve["id"].as_str().unwrap().to_string();
    let (_, read) = app
        .get(&format!("/api/v1/admin/agents/{id}"), Some(&admin))
        .await;
    assert_eq!(read, eve);
    let (_, list) = app.get("/api/v1/admin/agents", Some(&admin)).await;
    assert_eq!(list.as_array().unwrap().len(), 6);
    assert!(list.as_array().unwrap().contains(&eve));

    // She signs in with her password.
    let (status, session) = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"email": "eve@example.com", "password": "eve-password-1"}),
        )
        .await;
    assert_eq!(status, 201, "{session}");

    let (status, updated) = app
        .put(
            &format!("/api/v1/admin/agents/{id}"),
            &admin,
            json!({"role": "supervisor", "capacity": 5, "password": "eve-password-2"}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["role"], "supervisor");
    assert_eq!(updated["capacity"], 5);
    assert_eq!(updated["name"], "Eve Stone");
    let (_, read) = app
        .get(&format!("/api/v1/admin/agents/{id}"), Some(&admin))
        .await;
    assert_eq!(read, updated);
    let (status, _) = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"email": "eve@example.com", "password": "eve-password-1"}),
        )
        .await;
    assert_eq!(status, 401, "the old password no longer works");
    let token = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"email": "eve@example.com", "password": "eve-password-2"}),
        )
        .await
        .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A supervisor reads any conversation's log; an agent does not.
    let (cid, _) = app.start_chat(json!({})).await;
    let (status, _) = app
        .get(&format!("/api/v1/conversations/{cid}/events"), Some(&token))
        .await;
    assert_eq!(status, 200);
    let (_, me) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me["agent"]["capacity"], 5);

    for (body, field) in [
        (json!({"capacity": 21}), "capacity"),
        (json!({"capacity": 0}), "capacity"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"name": ""}), "name"),
        (json!({"password": "short"}), "password"),
    ] {
        let (status, answer) = app
            .put(&format!("/api/v1/admin/agents/{id}"), &admin, body.clone())
            .await;
        assert_invalid(status, &answer, field);
    }
    let (_, read) = app
        .get(&format!("/api/v1/admin/agents/{id}"), Some(&admin))
        .await;
    assert_eq!(read, updated, "refused updates change nothing");
    for (body, field) in [
        (
            json!({"email": "x@example.com", "name": "X", "password": "long-enough", "capacity": 21}),
            "capacity",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "nope", "name": "X", "password": "long-enough"}),
            "email",
        ),
    ] {
        let (status, answer) = app.post("/api/v1/admin/agents", Some(&admin), body).await;
        assert_invalid(status, &answer, field);
    }
    let (status, answer) = app
        .post(
            "/api/v1/admin/agents",
            Some(&admin),
            json!({"email": "ANA@demo.switchboard.test", "name": "Another Ana", "password": "long-enough"}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "already_exists");
    let (status, answer) = app
        .put(
            &format!("/api/v1/admin/agents/{id}"),
            &admin,
            json!({"email": ANA}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "already_exists");
    let (status, _) = app
        .get(
            &format!("/api/v1/admin/agents/{}", uuid::Uuid::now_v7()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_renamed_agent_is_shown_to_customers_by_the_new_name() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut ana = app.agent(ANA).await;
    let (status, body) = app
        .put(
            &format!("/api/v1/admin/agents/{}", ana.id),
            &admin,
            json!({"name": "Ana Souza"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    ana.available().await;
    let (cid, token) = app.start_chat(json!({})).await;
    let mut jo = app.customer(&token, 0).await;
    assert_eq!(ana.expect_offer().await["agent_name"], "Ana Souza");
    ana.accept(&cid).await;
    let joined = jo.ws.event(&cid, "accepted").await;
    assert_eq!(joined["event"]["agent_name"], "Ana Souza");
    ana.say(&cid, "Hello").await;
    let m = jo.ws.event(&cid, "message").await;
    assert_eq!(m["event"]["sender"]["name"], "Ana Souza");
    app.stop().await;
}

#[tokio::test]
async fn the_desktop_profile_round_trips_and_is_validated() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (status, profile) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert_eq!(status, 200);
    let resolved = app.id_of(&admin, "wrapup-reasons", "Resolved").await;
    assert_eq!(profile["default_wrapup_reason_id"], resolved.as_str());
    assert_eq!(profile["default_capacity"], 3);
    assert_eq!(profile["signout_grace_secs"], 120);
    assert_eq!(profile["customer_grace_secs"], 120);
    assert_eq!(profile["mask_sensitive_data"], false);
    assert!(profile["auto_wrapup_secs"].is_null());

    let sale = app.id_of(&admin, "wrapup-reasons", "Sale").await;
    let new = json!({
        "mask_sensitive_data": true,
        "redact_payment_at_rest": true,
        "auto_wrapup_secs": 60,
        "default_wrapup_reason_id": sale,
        "default_capacity": 5,
        "signout_grace_secs": 300,
        "customer_grace_secs": 30
    });
    let (status, saved) = app
        .put("/api/v1/admin/desktop-profile", &admin, new.clone())
        .await;
    assert_eq!(status, 200, "{saved}");
    for (k, v) in new.as_object().unwrap() {
        assert_eq!(&saved[k], v, "{k}");
    }
    let (_, read) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert_eq!(read, saved);
    // The default capacity applies to agents created from now on.
    let (_, zoe) = app
        .post(
            "/api/v1/admin/agents",
            Some(&admin),
            json!({"email": "zoe@example.com", "name": "Zoe", "password": "long-enough"}),
        )
        .await;
    assert_eq!(zoe["capacity"], 5);

    for (change, field) in [
        (json!({"default_capacity": 0}), "default_capacity"),
        (json!({"default_capacity": 21}), "default_capacity"),
        (json!({"auto_wrapup_secs": 2}), "auto_wrapup_secs"),
        (json!({"signout_grace_secs": 5}), "signout_grace_secs"),
        (json!({"customer_grace_secs": 4000}), "customer_grace_secs"),
        (
            json!({"default_wrapup_reason_id": uuid::Uuid::now_v7()}),
            "default_wrapup_reason_id",
        ),
    ] {
        let mut body = new.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = app.put("/api/v1/admin/desktop-profile", &admin, body).await;
        assert_invalid(status, &answer, field);
    }
    let (_, read) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert_eq!(read, saved, "refused changes change nothing");
    app.stop().await;
}

#[tokio::test]
async fn duplicate_names_are_refused_and_a_deleted_name_is_free_again() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let support = app.id_of(&admin, "queues", "Support").await;
    for (seg, body) in [
        ("queues", json!({"name": "Support"})),
        ("assets", json!({"name": "Website", "queue_id": support})),
        ("idle-codes", json!({"name": "Lunch"})),
        ("wrapup-reasons", json!({"name": "Sale"})),
        ("templates", json!({"name": "Greeting", "body": "Hi"})),
    ] {
        let (status, answer) = app
            .post(&format!("/api/v1/admin/{seg}"), Some(&admin), body)
            .await;
        assert_eq!(status, 409, "{seg}: {answer}");
        assert_eq!(answer["code"], "already_exists", "{seg}: {answer}");
    }
    // Renaming onto a taken name.
    let break_id = app.id_of(&admin, "idle-codes", "Break").await;
    let (status, answer) = app
        .put(
            &format!("/api/v1/admin/idle-codes/{break_id}"),
            &admin,
            json!({"name": "Lunch"}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "already_exists");
    // A deleted entry's name can be used again.
    app.delete(&format!("/api/v1/admin/idle-codes/{break_id}"), &admin)
        .await;
    let (status, answer) = app
        .post(
            "/api/v1/admin/idle-codes",
            Some(&admin),
            json!({"name": "Break"}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    app.stop().await;
}

/// Every route the server serves (crates/server/src/http/mod.rs and admin.rs). Keep in step
/// with the router: the test below fails when the document and this list disagree, and when
/// a route here is not served.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/openapi.json"),
    ("post", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/idle-codes"),
    ("get", "/api/v1/wrapup-reasons"),
    ("get", "/api/v1/templates"),
    ("get", "/api/v1/queues"),
    ("get", "/api/v1/directory/queues"),
    ("get", "/api/v1/directory/agents"),
    ("get", "/api/v1/conversations/{id}/events"),
    ("get", "/api/v1/conversations/{id}/customer-history"),
    ("get", "/api/v1/assets/{id}/widget"),
    ("post", "/api/v1/assets/{id}/conversations"),
    ("get", "/api/v1/ws/agent"),
    ("get", "/api/v1/ws/customer"),
    ("get", "/api/v1/admin/assets"),
    ("post", "/api/v1/admin/assets"),
    ("get", "/api/v1/admin/assets/{id}"),
    ("put", "/api/v1/admin/assets/{id}"),
    ("delete", "/api/v1/admin/assets/{id}"),
    ("get", "/api/v1/admin/queues"),
    ("post", "/api/v1/admin/queues"),
    ("get", "/api/v1/admin/queues/{id}"),
    ("put", "/api/v1/admin/queues/{id}"),
    ("delete", "/api/v1/admin/queues/{id}"),
    ("get", "/api/v1/admin/idle-codes"),
    ("post", "/api/v1/admin/idle-codes"),
    ("get", "/api/v1/admin/idle-codes/{id}"),
    ("put", "/api/v1/admin/idle-codes/{id}"),
    ("delete", "/api/v1/admin/idle-codes/{id}"),
    ("get", "/api/v1/admin/wrapup-reasons"),
    ("post", "/api/v1/admin/wrapup-reasons"),
    ("get", "/api/v1/admin/wrapup-reasons/{id}"),
    ("put", "/api/v1/admin/wrapup-reasons/{id}"),
    ("delete", "/api/v1/admin/wrapup-reasons/{id}"),
    ("get", "/api/v1/admin/templates"),
    ("post", "/api/v1/admin/templates"),
    ("get", "/api/v1/admin/templates/{id}"),
    ("put", "/api/v1/admin/templates/{id}"),
    ("delete", "/api/v1/admin/templates/{id}"),
    ("get", "/api/v1/admin/agents"),
    ("post", "/api/v1/admin/agents"),
    ("get", "/api/v1/admin/agents/{id}"),
    ("put", "/api/v1/admin/agents/{id}"),
    ("get", "/api/v1/admin/desktop-profile"),
    ("put", "/api/v1/admin/desktop-profile"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let mut app = spawn_app().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let routes: std::collections::BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        extra.is_empty(),
        "documented but not in the list: {extra:?}"
    );
    // Every operation says what it answers, and every reference resolves.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
            }
        }
    }
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "unresolved schema {name}"
        );
    }

    // And the list is what the server serves: no route here is unknown to it (an unknown
    // path or method gets 404 or 405 before any handler runs).
    let (status, unknown) = app.get("/api/v1/no-such-route", None).await;
    assert_eq!(status, 404);
    assert_eq!(unknown["code"], "not_found");
    let id = uuid::Uuid::now_v7();
    for (method, path) in ROUTES {
        if path.starts_with("/api/v1/ws/") {
            continue; // upgrades; opened by the other tests
        }
        let path = path.replace("{id}", &id.to_string());
        let resp = app
            .http
            .request(
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                format!("{}{path}", app.base),
            )
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_ne!(status, 405, "{method} {path}");
        if status == 404 {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_ne!(body, unknown, "{method} {path} is not served");
        }
    }
    app.stop().await;
}
