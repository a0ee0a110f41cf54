//! Edge cases found in review: each a behaviour a client relies on.

use crate::helpers::*;
use serde_json::json;

const ANA: &str = "ana@demo.switchboard.test";
const ADMIN: &str = "admin@demo.switchboard.test";

#[tokio::test]
async fn signing_out_on_one_desktop_closes_the_others() {
    let mut app = spawn_app().await;
    let mut one = app.agent(ANA).await;
    let mut two = app.reconnect(&one.token).await;
    let elsewhere = app.sign_in(ANA).await;
    let r = one.ws.command(json!({"type": "sign_out"})).await;
    assert_eq!(r["type"], "ack", "{r}");
    assert_eq!(two.ws.closed().await, (1001, "signed out".to_string()));
    // Every session of the account ended, also one signed in on another device.
    let (status, _) = app.get("/api/v1/me", Some(&elsewhere)).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_desktop_profile_put_keeps_the_fields_not_sent() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (_, before) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert!(before["default_wrapup_reason_id"].is_string());
    let (status, after) = app
        .put(
            "/api/v1/admin/desktop-profile",
            &admin,
            json!({"auto_wrapup_secs": 60}),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["auto_wrapup_secs"], 60);
    assert_eq!(
        after["default_wrapup_reason_id"],
        before["default_wrapup_reason_id"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queue_in_use_cannot_be_deleted() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (_, queues) = app.get("/api/v1/admin/queues", Some(&admin)).await;
    let support = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap();
    let (status, body) = app
        .delete(
            &format!("/api/v1/admin/queues/{}", support["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("queue_in_use")),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_customer_is_not_told_that_an_agent_is_being_offered_the_chat() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (_, token) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    let jo = app.customer(&token, 0).await;
    assert_eq!(jo.welcome["status"], "waiting");
    app.stop().await;
}

#[tokio::test]
async fn wrong_methods_and_foreign_origins_get_json_errors() {
    let mut app = spawn_app().await;
    let (status, body) = app.call("PATCH", "/api/v1/sessions", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{body}"
    );
    let admin = app.sign_in(ADMIN).await;
    let (status, _) = app
        .put(
            &format!("/api/v1/admin/assets/{}", app.asset_id),
            &admin,
            json!({"allowed_origins": ["https://shop.example"]}),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("{}/api/v1/assets/{}/conversations", app.base, app.asset_id);
    let refused = app
        .http
        .post(&path)
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "origin_not_allowed");
    let allowed = app
        .http
        .post(&path)
        .header("origin", "https://shop.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 201);
    app.stop().await;
}

#[tokio::test]
async fn a_repeat_gets_its_first_answer_even_when_what_it_named_is_gone() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    ana.end(&cid).await;
    let sale = app.id_of(&ana.token, "wrapup-reasons", "Sale").await;
    let cmd = json!({"type": "wrap_up", "id": "w-1", "conversation_id": cid, "reason_id": sale});
    let first = ana.ws.command_with_id(cmd.clone()).await;
    assert_eq!(first["type"], "ack", "{first}");
    let (status, _) = app
        .delete(&format!("/api/v1/admin/wrapup-reasons/{sale}"), &admin)
        .await;
    assert_eq!(status, 204);
    let again = ana.ws.command_with_id(cmd).await;
    assert_eq!(again, first);
    app.stop().await;
}

#[tokio::test]
async fn a_chat_no_free_agent_may_take_does_not_block_the_line_behind_it() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({"name": "First"})).await;
    ana.expect_offer().await;
    ana.accept(&first).await;
    // Ana transfers it to Support, the queue it is in, where she is the only one free: it
    // is not offered back to her, but the chat that arrives after it is.
    let (_, queues) = app
        .get("/api/v1/directory/queues?search=support", Some(&ana.token))
        .await;
    let support = queues[0]["id"].as_str().unwrap().to_string();
    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": first, "queue_id": support}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    let (second, _) = app.start_chat(json!({"name": "Second"})).await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], second.as_str());
    // And the transfer dialog, asked about the first chat, does not list her (nor anyone
    // who owes its wrap-up).
    let mut ben = app.agent("ben@demo.switchboard.test").await;
    ben.available().await;
    let (_, agents) = app
        .get(
            &format!("/api/v1/directory/agents?conversation_id={first}"),
            Some(&ben.token),
        )
        .await;
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != ana.id.as_str()),
        "{agents}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_command_that_changed_nothing_is_still_answered_once() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    // Available again: nothing changes, but the id is recorded with its answer.
    let again = json!({"type": "set_presence", "id": "p-1", "presence": "available"});
    let first = ana.ws.command_with_id(again.clone()).await;
    assert_eq!(first["type"], "ack", "{first}");
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;
    assert_eq!(ana.idle(&lunch).await["type"], "ack");
    // A late retry of it gets its first answer and does not make her Available again.
    assert_eq!(ana.ws.command_with_id(again).await, first);
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "idle");
    // And its id cannot be used for another command.
    let other =
        json!({"type": "set_presence", "id": "p-1", "presence": "idle", "idle_code_id": lunch});
    assert_eq!(ana.ws.command_with_id(other).await["code"], "id_reused");
    app.stop().await;
}

#[tokio::test]
async fn a_queue_with_an_answered_chat_cannot_be_deleted() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    // A queue of its own, fed by an asset of its own; one chat answered in it.
    let mut ana = app.agent(ANA).await;
    let (status, queue) = app
        .post(
            "/api/v1/admin/queues",
            Some(&admin),
            json!({"name": "Returns", "agent_ids": [ana.id]}),
        )
        .await;
    assert_eq!(status, 201, "{queue}");
    let (status, asset) = app
        .post(
            "/api/v1/admin/assets",
            Some(&admin),
            json!({"name": "Returns site", "queue_id": queue["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{asset}");
    ana.available().await;
    let (cid, _) = app
        .start_chat_on(asset["id"].as_str().unwrap(), json!({}))
        .await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    // The asset goes elsewhere; the queue still has an answered chat that may come back.
    let (status, _) = app
        .put(
            &format!("/api/v1/admin/assets/{}", asset["id"].as_str().unwrap()),
            &admin,
            json!({"queue_id": app.get("/api/v1/directory/queues?search=support", Some(&admin)).await.1[0]["id"]}),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/admin/queues/{}", queue["id"].as_str().unwrap());
    let (status, body) = app.delete(&path, &admin).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("queue_in_use")),
        "{body}"
    );
    // Once the chat is over, it can go.
    ana.end(&cid).await;
    let (status, _) = app.delete(&path, &admin).await;
    assert_eq!(status, 204);
    app.stop().await;
}

#[tokio::test]
async fn new_profile_values_apply_to_timers_already_running() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    // A wrap-up pending while auto wrap-up is off, and a desktop that goes away.
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    ana.end(&cid).await;
    let ben = app.agent("ben@demo.switchboard.test").await;
    let ben_token = ben.token.clone();
    let ben_id = ben.id.clone();
    drop(ben);
    app.wait_agent_disconnected(&ben_id).await;
    // Shorter grace, auto wrap-up on: both apply to what is already running.
    let (status, body) = app
        .put(
            "/api/v1/admin/desktop-profile",
            &admin,
            json!({"signout_grace_secs": 10, "auto_wrapup_secs": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Give the refresh a moment to store the new deadlines (it runs after the answer).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut advanced = 0;
    loop {
        app.advance(11);
        advanced += 11;
        let (_, me) = app.get("/api/v1/me", Some(&ben_token)).await;
        let (_, log) = app
            .get(
                &format!("/api/v1/conversations/{cid}/events"),
                Some(&ana.token),
            )
            .await;
        let wrapped = log
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["type"] == "wrapped_up" && e["event"]["auto"] == true);
        if me["agent"]["presence"]["state"] == "logged_out" && wrapped {
            // Well before the old 120 s grace.
            assert!(advanced < 120, "logged out only after {advanced} s");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not applied: {me} / {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    ana.ws
        .wait_for("the auto wrap-up", |f| f["event"]["type"] == "wrapped_up")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_desktop_never_shows_a_presence_older_than_its_snapshot() {
    let mut app = spawn_app().await;
    let ana = app.agent(ANA).await;
    let (token, id) = (ana.token.clone(), ana.id.clone());
    drop(ana);
    app.wait_agent_disconnected(&id).await;
    app.advance(121);
    app.wait_presence(&token, "logged_out").await;
    // Coming back signs her in: the snapshot says Idle, and no older frame follows it.
    let mut back = app.reconnect(&token).await;
    assert_eq!(back.snapshot["agent"]["presence"]["state"], "idle");
    // A newer change: once its frame is here, everything queued before it has been handled.
    back.available().await;
    back.ws
        .wait_for("available", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["state"] == "available"
        })
        .await;
    assert!(
        back.ws
            .buffer
            .iter()
            .all(|f| f["type"] != "presence" || f["agent"]["presence"]["state"] != "logged_out"),
        "{:?}",
        back.ws.buffer
    );
    app.stop().await;
}
