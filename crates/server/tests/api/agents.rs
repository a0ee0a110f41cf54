//! Agents: sign-in and sessions, roles, presence (Available, Idle with a code, RONA, Logged
//! out), signing out, and what happens when a desktop disappears.

use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_in_with_a_wrong_password_or_an_unknown_email_is_refused() {
    let mut app = spawn_app().await;
    for (email, password) in [
        (ANA, "not-the-password"),
        ("nobody@demo.switchboard.test", "switchboard-demo"),
        (ANA, ""),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 401, "{email}: {body}");
        assert_eq!(body["code"], "bad_credentials", "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The email is not case-sensitive; the session opens the desktop.
    let (status, body) = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"email": "Ana@Demo.Switchboard.test", "password": "switchboard-demo"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["account"]["email"], ANA);
    assert_eq!(body["account"]["role"], "agent");
    let token = body["token"].as_str().unwrap();
    let (status, me) = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["account"]["name"], "Ana Lima");
    assert_eq!(me["agent"]["presence"]["state"], "idle");
    app.stop().await;
}

#[tokio::test]
async fn every_authenticated_endpoint_refuses_a_missing_or_unknown_token() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    // Real ids, so that only the token can be what is wrong.
    let (cid, _) = app.start_chat(json!({})).await;
    let (_, agents) = app.get("/api/v1/admin/agents", Some(&admin)).await;
    let agent_id = agents[0]["id"].as_str().unwrap().to_string();
    let queue_id = app.id_of(&admin, "queues", "Support").await;
    let idle_id = app.id_of(&admin, "idle-codes", "Lunch").await;
    let reason_id = app.id_of(&admin, "wrapup-reasons", "Sale").await;
    let template_id = app.id_of(&admin, "templates", "Greeting").await;
    let asset_id = app.asset_id.clone();
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("DELETE", "/api/v1/sessions/current".into(), None),
        ("GET", "/api/v1/me".into(), None),
        ("GET", "/api/v1/idle-codes".into(), None),
        ("GET", "/api/v1/wrapup-reasons".into(), None),
        ("GET", "/api/v1/templates".into(), None),
        ("GET", "/api/v1/queues".into(), None),
        ("GET", "/api/v1/directory/queues".into(), None),
        ("GET", "/api/v1/directory/agents".into(), None),
        (
            "GET",
            format!("/api/v1/conversations/{cid}/customer-history"),
            None,
        ),
        ("GET", format!("/api/v1/conversations/{cid}/events"), None),
        ("GET", "/api/v1/admin/assets".into(), None),
        (
            "POST",
            "/api/v1/admin/assets".into(),
            Some(json!({"name": "X", "queue_id": queue_id})),
        ),
        ("GET", format!("/api/v1/admin/assets/{asset_id}"), None),
        (
            "PUT",
            format!("/api/v1/admin/assets/{asset_id}"),
            Some(json!({"title": "X"})),
        ),
        ("DELETE", format!("/api/v1/admin/assets/{asset_id}"), None),
        ("GET", "/api/v1/admin/queues".into(), None),
        (
            "POST",
            "/api/v1/admin/queues".into(),
            Some(json!({"name": "X"})),
        ),
        ("GET", format!("/api/v1/admin/queues/{queue_id}"), None),
        (
            "PUT",
            format!("/api/v1/admin/queues/{queue_id}"),
            Some(json!({"priority": 1})),
        ),
        ("DELETE", format!("/api/v1/admin/queues/{queue_id}"), None),
        ("GET", "/api/v1/admin/idle-codes".into(), None),
        (
            "POST",
            "/api/v1/admin/idle-codes".into(),
            Some(json!({"name": "X"})),
        ),
        ("GET", format!("/api/v1/admin/idle-codes/{idle_id}"), None),
        (
            "PUT",
            format!("/api/v1/admin/idle-codes/{idle_id}"),
            Some(json!({"name": "X"})),
        ),
        (
            "DELETE",
            format!("/api/v1/admin/idle-codes/{idle_id}"),
            None,
        ),
        ("GET", "/api/v1/admin/wrapup-reasons".into(), None),
        (
            "POST",
            "/api/v1/admin/wrapup-reasons".into(),
            Some(json!({"name": "X"})),
        ),
        (
            "GET",
            format!("/api/v1/admin/wrapup-reasons/{reason_id}"),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/admin/wrapup-reasons/{reason_id}"),
            Some(json!({"name": "X"})),
        ),
        (
            "DELETE",
            format!("/api/v1/admin/wrapup-reasons/{reason_id}"),
            None,
        ),
        ("GET", "/api/v1/admin/templates".into(), None),
        (
            "POST",
            "/api/v1/admin/templates".into(),
            Some(json!({"name": "X", "body": "x"})),
        ),
        (
            "GET",
            format!("/api/v1/admin/templates/{template_id}"),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/admin/templates/{template_id}"),
            Some(json!({"body": "y"})),
        ),
        (
            "DELETE",
            format!("/api/v1/admin/templates/{template_id}"),
            None,
        ),
        ("GET", "/api/v1/admin/agents".into(), None),
        (
            "POST",
            "/api/v1/admin/agents".into(),
            Some(json!({"email": "x@example.com", "name": "X", "password": "long-enough"})),
        ),
        ("GET", format!("/api/v1/admin/agents/{agent_id}"), None),
        (
            "PUT",
            format!("/api/v1/admin/agents/{agent_id}"),
            Some(json!({"capacity": 2})),
        ),
        ("GET", "/api/v1/admin/desktop-profile".into(), None),
        (
            "PUT",
            "/api/v1/admin/desktop-profile".into(),
            Some(json!({"mask_sensitive_data": true})),
        ),
    ];
    for (method, path, body) in &calls {
        for token in [
            None,
            Some("sbs_not-a-real-session-token"),
            Some("garbage"),
            Some(""),
        ] {
            let (status, answer) = app.call(method, path, token, body.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {answer}");
            assert_eq!(answer["code"], "unauthorized", "{method} {path}: {answer}");
        }
    }
    // Nothing was changed by any of them.
    let (status, _) = app
        .get(&format!("/api/v1/admin/assets/{asset_id}"), Some(&admin))
        .await;
    assert_eq!(status, 200);
    let (_, profile) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert_eq!(profile["mask_sensitive_data"], false);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_session_is_refused_over_rest_and_websocket() {
    let mut app = spawn_app().await;
    // Connected, so that the agent is not logged out for being away meanwhile.
    let ana = app.agent(ANA).await;
    let (status, _) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(status, 200);
    app.advance(7 * 24 * 3600 + 1);
    let body = app.get_until("/api/v1/me", &ana.token, 401).await;
    assert_eq!(body["code"], "unauthorized");
    let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    ws.send(json!({"type": "hello", "token": ana.token})).await;
    let err = ws.expect_type("error").await;
    assert_eq!(err["code"], "unauthorized");
    assert_eq!(ws.closed().await.0, 4401);
    app.stop().await;
}

#[tokio::test]
async fn agents_may_not_use_the_administrators_endpoints() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let ana = app.sign_in(ANA).await;
    let (_, me) = app.get("/api/v1/me", Some(&ana)).await;
    let ana_id = me["account"]["id"].as_str().unwrap().to_string();
    let queue_id = app.id_of(&admin, "queues", "Support").await;
    let asset_id = app.asset_id.clone();
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/admin/assets".into(), None),
        ("GET", format!("/api/v1/admin/assets/{asset_id}"), None),
        ("DELETE", format!("/api/v1/admin/assets/{asset_id}"), None),
        (
            "POST",
            "/api/v1/admin/queues".into(),
            Some(json!({"name": "Mine"})),
        ),
        (
            "PUT",
            format!("/api/v1/admin/queues/{queue_id}"),
            Some(json!({"agent_ids": []})),
        ),
        ("DELETE", format!("/api/v1/admin/queues/{queue_id}"), None),
        ("GET", "/api/v1/admin/idle-codes".into(), None),
        ("GET", "/api/v1/admin/wrapup-reasons".into(), None),
        ("GET", "/api/v1/admin/templates".into(), None),
        ("GET", "/api/v1/admin/agents".into(), None),
        (
            "POST",
            "/api/v1/admin/agents".into(),
            Some(
                json!({"email": "x@example.com", "name": "X", "password": "long-enough", "role": "administrator"}),
            ),
        ),
        ("GET", format!("/api/v1/admin/agents/{ana_id}"), None),
        (
            "PUT",
            format!("/api/v1/admin/agents/{ana_id}"),
            Some(json!({"role": "administrator", "capacity": 20})),
        ),
        ("GET", "/api/v1/admin/desktop-profile".into(), None),
        (
            "PUT",
            "/api/v1/admin/desktop-profile".into(),
            Some(json!({"mask_sensitive_data": true})),
        ),
    ];
    for (method, path, body) in &calls {
        let (status, answer) = app.call(method, path, Some(&ana), body.clone()).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "forbidden", "{method} {path}: {answer}");
    }
    // Nothing changed: the agent is still an agent, the asset and queue still work.
    let (_, account) = app
        .get(&format!("/api/v1/admin/agents/{ana_id}"), Some(&admin))
        .await;
    assert_eq!(account["role"], "agent");
    assert_eq!(account["capacity"], 3);
    let (_, queue) = app
        .get(&format!("/api/v1/admin/queues/{queue_id}"), Some(&admin))
        .await;
    assert_eq!(queue["agent_ids"].as_array().unwrap().len(), 4);
    app.start_chat(json!({})).await;
    // The desktop's own lists are open to agents.
    for list in ["idle-codes", "wrapup-reasons", "templates", "queues"] {
        let (status, body) = app.get(&format!("/api/v1/{list}"), Some(&ana)).await;
        assert_eq!(status, 200, "{list}: {body}");
        assert!(!body.as_array().unwrap().is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn presence_changes_are_told_to_the_desktop_with_their_idle_code() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "idle");
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;

    ana.available().await;
    let p = ana.presence("available").await;
    assert_eq!(p["agent"]["agent_id"], ana.id.as_str());

    let ack = ana.idle(&lunch).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let p = ana
        .ws
        .wait_for("idle with Lunch", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["code_name"] == "Lunch"
        })
        .await;
    assert_eq!(p["agent"]["presence"]["state"], "idle");
    assert_eq!(p["agent"]["presence"]["code_id"], lunch.as_str());
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["presence"]["code_name"], "Lunch");

    // Going Idle needs a code, and one that exists.
    let r = ana
        .ws
        .command(json!({"type": "set_presence", "presence": "idle"}))
        .await;
    assert_eq!(r["code"], "idle_code_required", "{r}");
    let r = ana.idle(&uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(r["code"], "unknown_idle_code", "{r}");
    // RONA and Logged out are not chosen this way.
    for presence in ["rona", "logged_out", "busy"] {
        let r = ana
            .ws
            .command(json!({"type": "set_presence", "presence": presence}))
            .await;
        assert_eq!(r["type"], "error", "{presence}: {r}");
        assert_eq!(r["code"], "invalid_command", "{presence}: {r}");
    }
    // None of the refusals changed anything.
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "idle");
    assert_eq!(me["agent"]["presence"]["code_name"], "Lunch");

    let meeting = app.id_of(&ana.token, "idle-codes", "Meeting").await;
    assert_eq!(ana.idle(&meeting).await["type"], "ack");
    ana.ws
        .wait_for("idle with Meeting", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["code_name"] == "Meeting"
        })
        .await;
    app.stop().await;
}

#[tokio::test]
async fn rona_is_left_only_by_the_agents_own_change() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({"name": "First"})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    app.advance(31);
    assert_eq!(
        ana.ws.expect_type("offer_ended").await["reason"],
        "timed_out"
    );
    ana.presence("rona").await;

    // Reconnecting the desktop does not leave RONA.
    let token = ana.token.clone();
    drop(ana);
    let mut ana = app.reconnect(&token).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "rona");
    assert!(ana.snapshot["offer"].is_null());

    // Chats wait, and another agent gets them, while Ana stays in RONA with nothing offered.
    let (second, _) = app.start_chat(json!({"name": "Second"})).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(
        offer["conversation_id"],
        first.as_str(),
        "the first chat went back to the front"
    );
    ana.ws.round_trip().await;
    assert!(!ana.has_offer_buffered(), "nothing is offered in RONA");
    let (_, me) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "rona");

    // Her own change to Available: the waiting chat comes at once.
    ana.available().await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], second.as_str());
    app.stop().await;
}

#[tokio::test]
async fn signing_out_is_refused_while_a_chat_is_open() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    // A pending offer counts too.
    let (status, body) = app.delete("/api/v1/sessions/current", &ana.token).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "chats_open");
    ana.accept(&cid).await;

    let (status, body) = app.delete("/api/v1/sessions/current", &ana.token).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "chats_open");
    let r = ana.ws.command(json!({"type": "sign_out"})).await;
    assert_eq!(r["code"], "chats_open", "{r}");
    // Still signed in, still in the chat.
    let (status, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["agent"]["engaged"], true);
    assert_eq!(ana.say(&cid, "still here").await["type"], "ack");

    // Ended but not wrapped up: still refused.
    assert_eq!(ana.end(&cid).await["type"], "ack");
    let r = ana.ws.command(json!({"type": "sign_out"})).await;
    assert_eq!(r["code"], "chats_open", "{r}");
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(ana.wrap_up(&cid, &resolved).await["type"], "ack");

    // Now the socket command signs out and closes the desktop.
    let r = ana.ws.command(json!({"type": "sign_out"})).await;
    assert_eq!(r["type"], "ack", "{r}");
    ana.ws.closed().await;
    let (status, body) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(status, 401, "{body}");

    // And over REST: the session ends and the desktop is closed.
    let mut ben = app.agent(BEN).await;
    let (status, body) = app.delete("/api/v1/sessions/current", &ben.token).await;
    assert_eq!(status, 204, "{body}");
    ben.ws.closed().await;
    let (status, _) = app.get("/api/v1/me", Some(&ben.token)).await;
    assert_eq!(status, 401);
    // Signing in again starts Idle.
    let ben = app.agent(BEN).await;
    assert_eq!(ben.snapshot["agent"]["presence"]["state"], "idle");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_gone_past_the_grace_is_logged_out_and_no_customer_is_stranded() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    // Ben is signed in but Idle: he takes nothing yet.
    let mut ben = app.agent(BEN).await;
    ana.available().await;

    // A: open, with its customer there.
    let (a, a_token) = app.start_chat(json!({"name": "Alice"})).await;
    let mut alice = app.customer(&a_token, 0).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], a.as_str());
    assert_eq!(ana.accept(&a).await["type"], "ack");
    alice.ws.event(&a, "accepted").await;
    assert_eq!(alice.say("my parcel").await["type"], "ack");
    // B: ended, wrap-up pending.
    let (b, _) = app.start_chat(json!({"name": "Bob"})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], b.as_str());
    ana.accept(&b).await;
    assert_eq!(ana.end(&b).await["type"], "ack");
    // Idle keeps her chats; C arrives after A and waits.
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;
    assert_eq!(ana.idle(&lunch).await["type"], "ack");
    let (c, c_token) = app.start_chat(json!({"name": "Carol"})).await;
    let _carol = app.customer(&c_token, 0).await;

    // Ana's desktop disappears for longer than the sign-out grace.
    let (ana_id, ana_token) = (ana.id.clone(), ana.token.clone());
    drop(ana);
    app.wait_agent_disconnected(&ana_id).await;
    app.advance(121);

    // Logged out (her session stays valid: a desktop that comes back signs her in, Idle).
    app.wait_presence(&ana_token, "logged_out").await;
    let admin = app.sign_in(ADMIN).await;
    // A went back to its queue (at its original place) and her part in it was wrapped up
    // with the default reason; so was B.
    let log_a = app
        .log_until(&admin, &a, "A returned and wrapped up", |l| {
            l.iter().any(|e| e["event"]["type"] == "wrapped_up")
        })
        .await;
    let left = log_a
        .iter()
        .find(|e| e["event"]["type"] == "agent_left")
        .expect("agent_left");
    assert_eq!(left["event"]["agent_id"], ana_id.as_str());
    assert_eq!(left["event"]["by_system"], true);
    let queued: Vec<&Value> = log_a
        .iter()
        .filter(|e| e["event"]["type"] == "queued")
        .collect();
    assert_eq!(queued.len(), 2, "{log_a:?}");
    assert_eq!(queued[1]["event"]["reason"], "agent_logged_out");
    assert_eq!(
        queued[1]["event"]["front_at"], queued[0]["event"]["front_at"],
        "back at the front: its original place in line"
    );
    let w = log_a
        .iter()
        .find(|e| e["event"]["type"] == "wrapped_up")
        .unwrap();
    assert_eq!(w["event"]["agent_id"], ana_id.as_str());
    assert_eq!(w["event"]["auto"], true);
    assert_eq!(w["event"]["reason_name"], "Resolved");
    let log_b = app
        .log_until(&admin, &b, "B wrapped up", |l| {
            l.iter().any(|e| e["event"]["type"] == "wrapped_up")
        })
        .await;
    let w = log_b
        .iter()
        .find(|e| e["event"]["type"] == "wrapped_up")
        .unwrap();
    assert_eq!(w["event"]["auto"], true);
    assert_eq!(w["event"]["reason_name"], "Resolved");
    // The customer is told, and waits again.
    alice.ws.event(&a, "agent_left").await;
    alice.ws.event(&a, "queued").await;

    // Ben goes Available: he gets A before C, which arrived later.
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], a.as_str());
    assert_eq!(offer["customer_name"], "Alice");
    assert_eq!(offer["messages"][0]["text"], "my parcel");
    assert_eq!(ben.accept(&a).await["type"], "ack");
    let joined = alice.ws.event(&a, "accepted").await;
    assert_eq!(joined["event"]["agent_name"], "Ben Okafor");
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], c.as_str());

    // Ana signs in again with nothing left over.
    let ana = app.agent(ANA).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "idle");
    assert_eq!(ana.snapshot["agent"]["load"], 0);
    assert_eq!(ana.snapshot["chats"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_back_within_the_grace_keeps_its_chats() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let _jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    let (ana_id, ana_token) = (ana.id.clone(), ana.token.clone());
    drop(ana);
    app.wait_agent_disconnected(&ana_id).await;
    app.advance(100);
    let mut ana = app.reconnect(&ana_token).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "available");
    assert_eq!(ana.snapshot["chats"][0]["conversation_id"], cid.as_str());
    assert_eq!(ana.snapshot["chats"][0]["status"], "active");
    // The grace that had started no longer runs: much later she is still in.
    app.advance(600);
    assert_eq!(ana.say(&cid, "still here").await["type"], "ack");
    let (status, _) = app.get("/api/v1/me", Some(&ana_token)).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_offer_is_withdrawn_without_rona_when_the_agents_desktop_is_gone() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({"name": "Jo"})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], cid.as_str());
    let mut ben = app.agent(BEN).await;
    ben.available().await;

    let (ana_id, ana_token) = (ana.id.clone(), ana.token.clone());
    drop(ana);
    app.wait_agent_disconnected(&ana_id).await;
    app.advance(11);
    // Offered again, to someone else.
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.as_str());
    let log = app
        .log_until(&admin, &cid, "the withdrawal", |l| {
            l.iter().any(|e| e["event"]["type"] == "offer_withdrawn")
        })
        .await;
    let w = log
        .iter()
        .find(|e| e["event"]["type"] == "offer_withdrawn")
        .unwrap();
    assert_eq!(w["event"]["agent_id"], ana_id.as_str());
    assert_eq!(w["event"]["reason"], "agent_disconnected");
    assert!(!kinds(&log).contains(&"offer_timed_out".to_string()));

    // Ana was not put in RONA, and her offer is gone.
    let ana = app.reconnect(&ana_token).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "available");
    assert!(ana.snapshot["offer"].is_null());
    assert_eq!(ana.snapshot["agent"]["load"], 0);
    app.stop().await;
}
