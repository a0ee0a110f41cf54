//! Bad input: each gets a clear error code and changes nothing; the connection stays usable
//! where that is safe and is closed with a reason where it is not.

use crate::helpers::*;
use serde_json::{json, Value};

/// Sends a raw text frame and returns the next error frame.
async fn raw_error(ws: &mut Ws, text: String) -> Value {
    ws.send_raw(text).await;
    ws.expect_type("error").await
}

#[tokio::test]
async fn malformed_or_unknown_frames_are_answered_and_the_desktop_stays_usable() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    let ws = &mut ana.ws;

    for text in [
        "{not json",
        "",
        "[1, 2]",
        r#"{"type": 5}"#,
        r#"{"id": "x"}"#,
    ] {
        let e = raw_error(ws, text.to_string()).await;
        assert_eq!(e["code"], "malformed", "{text}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        ws.round_trip().await;
    }
    let e = raw_error(ws, json!({"type": "dance", "id": "d-1"}).to_string()).await;
    assert_eq!(e["code"], "unknown_type");
    assert_eq!(e["id"], "d-1", "the error names the command it answers");
    ws.round_trip().await;

    // A known type with missing, mistyped or unknown fields.
    for frame in [
        json!({"type": "accept", "id": "a-1"}),
        json!({"type": "send", "id": "a-2", "conversation_id": "not-a-uuid", "text": "x"}),
        json!({"type": "set_presence", "id": "a-3", "presence": "available", "colour": "red"}),
        json!({"type": "wrap_up", "id": "a-4", "conversation_id": uuid::Uuid::now_v7(), "reason_id": 7}),
    ] {
        let e = raw_error(ws, frame.to_string()).await;
        assert_eq!(e["code"], "invalid_command", "{frame}: {e}");
        assert_eq!(e["id"], frame["id"], "{e}");
    }
    let e = raw_error(
        ws,
        json!({"type": "set_presence", "id": "x".repeat(101), "presence": "available"}).to_string(),
    )
    .await;
    assert_eq!(e["code"], "invalid_id");

    // A frame over 16 KiB.
    let big = json!({"type": "set_presence", "id": "big-1", "presence": "available", "pad": "x".repeat(17 * 1024)});
    let e = raw_error(ws, big.to_string()).await;
    assert_eq!(e["code"], "frame_too_large");
    ws.round_trip().await;

    // A second hello.
    let token = ana.token.clone();
    let e = raw_error(
        &mut ana.ws,
        json!({"type": "hello", "token": token}).to_string(),
    )
    .await;
    assert_eq!(e["code"], "already_said_hello");

    // None of it changed anything: still Idle, and the socket still runs commands.
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "idle");
    ana.available().await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_frames_from_a_customer_are_answered_and_the_widget_stays_usable() {
    let mut app = spawn_app().await;
    let (_, token) = app.start_chat(json!({})).await;
    let mut jo = app.customer(&token, 0).await;
    let ws = &mut jo.ws;
    assert_eq!(raw_error(ws, "nope".into()).await["code"], "malformed");
    assert_eq!(
        raw_error(ws, json!({"type": "accept", "id": "x-1"}).to_string()).await["code"],
        "unknown_type",
        "customers cannot use agents' commands"
    );
    assert_eq!(
        raw_error(ws, json!({"type": "send", "id": "x-2"}).to_string()).await["code"],
        "invalid_command"
    );
    let big = json!({"type": "send", "id": "x-3", "text": "y".repeat(17 * 1024)});
    assert_eq!(
        raw_error(ws, big.to_string()).await["code"],
        "frame_too_large"
    );
    ws.round_trip().await;
    assert_eq!(jo.say("still here").await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_commands_is_refused_beyond_the_rate_and_every_command_is_answered() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    let ids: Vec<String> = (0..200).map(|i| format!("flood-{i}")).collect();
    for id in &ids {
        ana.ws
            .send(json!({"type": "set_presence", "id": id, "presence": "available"}))
            .await;
    }
    // Each command is answered with its own id (an ack, or an error saying why not), until
    // the server, perhaps, closes the connection for too many refusals in a row.
    let mut answered = std::collections::BTreeSet::new();
    let mut limited = 0;
    while answered.len() < ids.len() {
        let Some(frame) = ana.ws.next_frame().await else {
            break;
        };
        if frame["type"] != "ack" && frame["type"] != "error" {
            continue;
        }
        let id = frame["id"].as_str().unwrap_or_else(|| {
            panic!("an answer that does not say which command it answers: {frame}")
        });
        assert!(ids.iter().any(|i| i == id), "{frame}");
        assert!(answered.insert(id.to_string()), "answered twice: {frame}");
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "rate_limited", "{frame}");
            limited += 1;
        }
    }
    assert!(limited > 0, "200 commands at once: none was refused");
    match ana.ws.closed.clone() {
        Some((code, _)) => assert_eq!(code, 1008, "closed with a policy reason"),
        None => {
            assert_eq!(answered.len(), ids.len());
            // Still usable once the rate allows again.
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                let r = ana
                    .ws
                    .command(json!({"type": "set_presence", "presence": "available"}))
                    .await;
                if r["type"] == "ack" {
                    break;
                }
                assert_eq!(r["code"], "rate_limited", "{r}");
                assert!(tokio::time::Instant::now() < deadline);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn commands_about_someone_elses_chat_are_refused_and_change_nothing() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    let mut ben = app.agent(BEN).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], cid.as_str());

    // The offer is Ana's.
    assert_eq!(ben.accept(&cid).await["code"], "no_such_offer");
    assert_eq!(ana.accept(&cid).await["type"], "ack");
    // The chat is Ana's.
    assert_eq!(ben.accept(&cid).await["code"], "no_such_offer");
    assert_eq!(ben.say(&cid, "hi").await["code"], "not_in_conversation");
    assert_eq!(ben.end(&cid).await["code"], "not_in_conversation");
    let resolved = app.id_of(&ben.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(
        ben.wrap_up(&cid, &resolved).await["code"],
        "no_wrap_up_pending"
    );
    let s = ben
        .ws
        .command(json!({"type": "sync", "conversation_id": cid, "after_seq": 0}))
        .await;
    assert_eq!(s["code"], "not_in_conversation");
    let (status, body) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ben.token),
        )
        .await;
    assert_eq!(
        status, 404,
        "an agent reads only chats it has been in: {body}"
    );
    // Still Ana's, still open.
    assert_eq!(ana.say(&cid, "hello").await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn a_wrap_up_with_an_unknown_reason_is_refused() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    ana.end(&cid).await;
    let r = ana.wrap_up(&cid, &uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(r["code"], "unknown_wrapup_reason", "{r}");
    // Still pending.
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 1);
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(ana.wrap_up(&cid, &resolved).await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn commands_on_a_conversation_that_does_not_exist_are_refused() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    let nowhere = uuid::Uuid::now_v7().to_string();
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    for frame in [
        json!({"type": "accept", "conversation_id": nowhere}),
        json!({"type": "send", "conversation_id": nowhere, "text": "hi"}),
        json!({"type": "send_template", "conversation_id": nowhere, "template": "Greeting"}),
        json!({"type": "end", "conversation_id": nowhere}),
        json!({"type": "wrap_up", "conversation_id": nowhere, "reason_id": resolved}),
    ] {
        let r = ana.ws.command(frame.clone()).await;
        assert_eq!(r["code"], "conversation_not_found", "{frame}: {r}");
    }
    let r = ana
        .ws
        .command(json!({"type": "sync", "conversation_id": nowhere, "after_seq": 0}))
        .await;
    assert_eq!(r["type"], "error", "{r}");
    let (status, body) = app
        .get(
            &format!("/api/v1/conversations/{nowhere}/events"),
            Some(&ana.token),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn a_hello_with_a_bad_token_is_refused_and_the_socket_closed() {
    let mut app = spawn_app().await;
    let ana = app.sign_in(ANA).await;
    let (_, customer_token) = app.start_chat(json!({})).await;
    // Agents' socket: unknown, malformed, or a customer's token.
    for token in [
        "sbs_unknown".to_string(),
        "garbage".to_string(),
        customer_token.clone(),
    ] {
        let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
        ws.send(json!({"type": "hello", "token": token})).await;
        let e = ws.expect_type("error").await;
        assert_eq!(e["code"], "unauthorized", "{token}: {e}");
        assert_eq!(ws.closed().await.0, 4401, "{token}");
    }
    // Customers' socket: unknown, or an agent's token.
    for token in ["sbc_unknown".to_string(), ana.clone()] {
        let mut ws = Ws::connect(&format!("{}/api/v1/ws/customer", app.ws)).await;
        ws.send(json!({"type": "hello", "token": token, "last_seq": 0}))
            .await;
        let e = ws.expect_type("error").await;
        assert_eq!(e["code"], "unauthorized", "{token}: {e}");
        assert_eq!(ws.closed().await.0, 4401, "{token}");
    }
    // A hello that is not one.
    let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    ws.send(json!({"type": "hello"})).await;
    assert_eq!(ws.expect_type("error").await["code"], "invalid_command");
    assert_eq!(ws.closed().await.0, 4400);
    // Commands before hello are refused; the hello that follows still opens the desktop.
    let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    ws.send(json!({"type": "set_presence", "id": "early", "presence": "available"}))
        .await;
    let e = ws.expect_type("error").await;
    assert_eq!(e["id"], "early", "{e}");
    ws.send(json!({"type": "hello", "token": ana})).await;
    let snapshot = ws.expect_type("snapshot").await;
    assert_eq!(snapshot["agent"]["presence"]["state"], "idle");
    app.stop().await;
}

#[tokio::test]
async fn starting_a_chat_with_bad_input_is_refused_with_a_json_error() {
    let mut app = spawn_app().await;
    let unknown_asset = uuid::Uuid::now_v7();
    let (status, body) = app
        .post(
            &format!("/api/v1/assets/{unknown_asset}/conversations"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    let (status, body) = app
        .get(&format!("/api/v1/assets/{unknown_asset}/widget"), None)
        .await;
    assert_eq!(status, 404, "{body}");

    let path = format!("/api/v1/assets/{}/conversations", app.asset_id);
    let (status, body) = app
        .post(
            &path,
            None,
            json!({"name": "Jo", "favourite_colour": "blue"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_request");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    for bad in [json!([]), json!({"name": 5}), json!({"fields": "x"})] {
        let (status, body) = app.post(&path, None, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_request", "{bad}: {body}");
    }
    // Not JSON at all.
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["code"], "invalid_request");
    app.stop().await;
}

#[tokio::test]
async fn every_rest_error_has_a_json_body_with_a_code() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let send = |method: &str, path: &str, token: Option<&str>, body: Option<&str>| {
        let mut req = app.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        req.send()
    };
    let cases: Vec<(&str, String, Option<&str>, Option<&str>)> = vec![
        // Sign-in with a body that is not JSON, or has fields it does not know.
        ("POST", "/api/v1/sessions".into(), None, Some("{nope")),
        (
            "POST",
            "/api/v1/sessions".into(),
            None,
            Some(r#"{"email": "a@b.c", "password": "x", "remember": true}"#),
        ),
        ("POST", "/api/v1/sessions".into(), None, Some("{}")),
        // An id that is not one.
        (
            "GET",
            "/api/v1/conversations/not-an-id/events".into(),
            Some(admin.as_str()),
            None,
        ),
        (
            "POST",
            "/api/v1/assets/not-an-id/conversations".into(),
            None,
            Some("{}"),
        ),
        (
            "GET",
            "/api/v1/admin/agents/not-an-id".into(),
            Some(admin.as_str()),
            None,
        ),
        // A bad query.
        (
            "GET",
            format!(
                "/api/v1/conversations/{}/events?after=-1",
                uuid::Uuid::now_v7()
            ),
            Some(admin.as_str()),
            None,
        ),
        // Admin bodies that are not JSON.
        (
            "POST",
            "/api/v1/admin/queues".into(),
            Some(admin.as_str()),
            Some("{nope"),
        ),
        (
            "PUT",
            "/api/v1/admin/desktop-profile".into(),
            Some(admin.as_str()),
            Some(r#"{"default_capacity": "three"}"#),
        ),
    ];
    for (method, path, token, body) in cases {
        let resp = send(method, &path, token, body).await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{method} {path}: {status} {text}"
        );
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!("{method} {path}: {status} with a body that is not JSON: {text:?}")
        });
        assert!(
            json["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{method} {path}: {text}"
        );
        assert!(json["message"].is_string(), "{method} {path}: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_command_before_hello_is_answered_and_hello_still_works() {
    let mut app = spawn_app().await;
    let token = app.sign_in("ana@demo.switchboard.test").await;
    let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    ws.send(json!({"type": "set_presence", "id": "early-1", "presence": "available"}))
        .await;
    let e = ws.expect_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("hello_required"), Some("early-1"))
    );
    ws.send(json!({"type": "hello", "token": token})).await;
    ws.expect_type("snapshot").await;
    app.stop().await;
}

#[tokio::test]
async fn a_message_over_the_transport_limit_closes_the_socket_with_1009() {
    let mut app = spawn_app().await;
    let (_, token) = app.start_chat(json!({})).await;
    let mut jo = app.customer(&token, 0).await;
    jo.ws.send_raw("x".repeat(2 * 1024 * 1024)).await;
    let (code, _) = jo.ws.closed().await;
    assert_eq!(code, 1009);
    app.stop().await;
}
