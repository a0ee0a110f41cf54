//! Customers: starting a chat (anonymous, pre-chat fields, a signed identity), their place in
//! line, leaving while waiting, ending or leaving an answered chat, and wrap-up afterwards.

use crate::helpers::*;
use serde_json::{json, Value};

fn variables(offer: &Value) -> &serde_json::Map<String, Value> {
    offer["variables"].as_object().expect("variables")
}

#[tokio::test]
async fn an_anonymous_chat_carries_the_systems_own_variables() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let started_at = switchboard_server::rfc3339(app.engine.now());
    let (cid, _) = app.start_chat(json!({})).await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.as_str());
    assert_eq!(offer["customer_name"], "Customer");
    assert!(offer["customer"]["identity"].is_null());
    let vars = variables(&offer);
    assert_eq!(vars["system.asset"], "Website");
    assert_eq!(vars["system.queue"], "Support");
    assert_eq!(vars["system.contact_start"], started_at.as_str());
    assert!(!vars.contains_key("system.page_url"));
    assert_eq!(offer["proactive"], false);
    app.stop().await;
}

#[tokio::test]
async fn pre_chat_answers_travel_with_the_chat() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app
        .start_chat(json!({
            "name": "Jo Bloggs",
            "email": "jo@example.com",
            "phone": "+44 7966 197542",
            "fields": {"order": "A-123", "topic": "billing"},
            "page_url": "https://shop.example/cart",
            "proactive": true
        }))
        .await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["customer_name"], "Jo Bloggs");
    assert_eq!(offer["customer"]["email"], "jo@example.com");
    assert_eq!(offer["customer"]["phone"], "+44 7966 197542");
    assert_eq!(offer["customer"]["fields"]["order"], "A-123");
    assert_eq!(offer["proactive"], true);
    let vars = variables(&offer);
    assert_eq!(vars["order"], "A-123");
    assert_eq!(vars["topic"], "billing");
    assert_eq!(vars["system.page_url"], "https://shop.example/cart");
    assert_eq!(vars["system.asset"], "Website");
    assert_eq!(vars["system.queue"], "Support");
    assert!(vars.contains_key("system.contact_start"));

    // They stay with the chat: in the desktop's snapshot after accepting, and the log.
    ana.accept(&cid).await;
    let again = app.reconnect(&ana.token).await;
    let chat = &again.snapshot["chats"][0];
    assert_eq!(chat["variables"]["order"], "A-123");
    assert_eq!(
        chat["variables"]["system.page_url"],
        "https://shop.example/cart"
    );
    assert_eq!(chat["proactive"], true);
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ana.token),
        )
        .await;
    assert_eq!(log[0]["event"]["type"], "started");
    assert_eq!(log[0]["event"]["variables"]["topic"], "billing");

    // Pre-chat answers the server will not take.
    let path = format!("/api/v1/assets/{}/conversations", app.asset_id);
    let too_many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("f{i}"), json!("x"))).collect();
    for body in [
        json!({"fields": {"system.queue": "VIP"}}),
        json!({"fields": too_many}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "tab\there"}),
        json!({"fields": {"order": "y".repeat(501)}}),
    ] {
        let (status, answer) = app.post(&path, None, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], "invalid_request", "{answer}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_customer_is_told_their_position_and_told_again_when_the_line_moves() {
    let mut app = spawn_app().await;
    let mut customers = Vec::new();
    for name in ["One", "Two", "Three"] {
        let (cid, token) = app.start_chat(json!({ "name": name })).await;
        let c = app.customer(&token, 0).await;
        customers.push((cid, c));
    }
    for (i, (_, c)) in customers.iter().enumerate() {
        assert_eq!(c.welcome["status"], "waiting");
        assert_eq!(c.welcome["position"], i as u64, "{}", c.welcome);
    }
    // The first leaves: everyone behind moves up.
    assert_eq!(customers[0].1.end().await["type"], "ack");
    assert_eq!(customers[1].1.position().await, 0);
    assert_eq!(customers[2].1.position().await, 1);
    // And again (the update may wait for the throttle: at most one every few seconds).
    assert_eq!(customers[1].1.end().await["type"], "ack");
    let p = customers[2].1.position().await;
    assert_eq!(p, 0);
    // A position names its conversation.
    let (cid, last) = &mut customers[2];
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    assert_eq!(ana.expect_offer().await["conversation_id"], cid.as_str());
    ana.accept(cid).await;
    last.ws.event(cid, "accepted").await;
    app.stop().await;
}

#[tokio::test]
async fn a_signed_identity_is_accepted_and_a_bad_or_expired_one_refused() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let now_secs = app.engine.now().0 / 1000;
    let secret = switchboard_server::demo::DEMO_ASSET_SECRET;
    let good = switchboard_server::auth::sign_identity(
        &format!(
            r#"{{"sub":"cust-1","exp":{},"name":"Jo Verified"}}"#,
            now_secs + 3600
        ),
        secret,
    );
    let (cid, _) = app.start_chat(json!({"identity_token": good})).await;
    let log = app
        .log_until(&admin, &cid, "started", |l| !l.is_empty())
        .await;
    assert_eq!(log[0]["event"]["customer"]["identity"], "cust-1");
    assert_eq!(log[0]["event"]["customer"]["name"], "Jo Verified");
    // What the form says is shown, the verified id is kept.
    let (cid, _) = app
        .start_chat(json!({"identity_token": good, "name": "Typed Name"}))
        .await;
    let log = app
        .log_until(&admin, &cid, "started", |l| !l.is_empty())
        .await;
    assert_eq!(log[0]["event"]["customer"]["identity"], "cust-1");
    assert_eq!(log[0]["event"]["customer"]["name"], "Typed Name");

    let wrong_secret = switchboard_server::auth::sign_identity(
        &format!(r#"{{"sub":"cust-1","exp":{}}}"#, now_secs + 3600),
        "some-other-website-secret",
    );
    let expired = switchboard_server::auth::sign_identity(
        &format!(r#"{{"sub":"cust-1","exp":{}}}"#, now_secs - 1),
        secret,
    );
    // A valid signature over other claims: the claims were changed after signing.
    let (_, sig) = good.split_once('.').unwrap();
    let (payload, _) = wrong_secret.split_once('.').unwrap();
    let tampered = format!("{payload}.{sig}");
    let path = format!("/api/v1/assets/{}/conversations", app.asset_id);
    for token in [
        wrong_secret.as_str(),
        expired.as_str(),
        tampered.as_str(),
        "not-a-token",
        "",
    ] {
        let (status, body) = app
            .post(&path, None, json!({"identity_token": token}))
            .await;
        assert_eq!(status, 400, "{token}: {body}");
        assert_eq!(body["code"], "invalid_request", "{body}");
    }
    // The clock moves past the expiry: the once-good token is refused too.
    app.advance(3601);
    let (status, body) = app.post(&path, None, json!({"identity_token": good})).await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_customer_who_ends_while_waiting_abandons_and_leaves_the_line() {
    let mut app = spawn_app().await;
    let (first, t1) = app.start_chat(json!({"name": "First"})).await;
    let (second, t2) = app.start_chat(json!({"name": "Second"})).await;
    let mut c1 = app.customer(&t1, 0).await;
    let mut c2 = app.customer(&t2, 0).await;
    assert_eq!(c2.welcome["position"], 1);

    assert_eq!(c1.end().await["type"], "ack");
    let abandoned = c1.ws.event(&first, "abandoned").await;
    assert_eq!(abandoned["event"]["reason"], "customer_ended");
    assert_eq!(c1.say("hello?").await["code"], "conversation_ended");
    assert_eq!(c1.end().await["code"], "conversation_ended");
    assert_eq!(c2.position().await, 0);

    // An agent who comes now is offered the second chat: the first left the line.
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], second.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_pending_offer_is_withdrawn_when_the_customer_ends() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], cid.as_str());
    assert_eq!(jo.end().await["type"], "ack");
    let ended = ana.ws.expect_type("offer_ended").await;
    assert_eq!(ended["conversation_id"], cid.as_str());
    assert_eq!(ended["reason"], "withdrawn");
    assert_eq!(ana.accept(&cid).await["code"], "no_such_offer");
    jo.ws.event(&cid, "abandoned").await;
    // No RONA for Ana: the next chat is offered to her at once.
    let (next, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], next.as_str());
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "available");
    app.stop().await;
}

#[tokio::test]
async fn a_waiting_customer_keeps_their_place_within_the_grace_and_is_abandoned_after_it() {
    let mut app = spawn_app().await;
    // The administrator keeps a desktop open, or the sign-out grace would end the session.
    let admin = app.agent(ADMIN).await;
    let (first, t1) = app.start_chat(json!({"name": "First"})).await;
    let (second, t2) = app.start_chat(json!({"name": "Second"})).await;
    let c1 = app.customer(&t1, 0).await;
    let mut c2 = app.customer(&t2, 0).await;
    let disconnects = |n: usize| {
        move |l: &[Value]| {
            l.iter()
                .filter(|e| e["event"]["type"] == "customer_disconnected")
                .count()
                >= n
        }
    };

    // Away, but back within the grace: still first in line.
    drop(c1);
    app.log_until(&admin.token, &first, "the first disconnect", disconnects(1))
        .await;
    app.advance(100);
    let c1 = app.customer(&t1, 0).await;
    assert_eq!(c1.welcome["status"], "waiting");
    assert_eq!(c1.welcome["position"], 0);

    // Away for longer than the grace: abandoned, and the line moves.
    drop(c1);
    app.log_until(
        &admin.token,
        &first,
        "the second disconnect",
        disconnects(2),
    )
    .await;
    app.advance(121);
    let log = app
        .log_until(&admin.token, &first, "abandoned", |l| {
            l.iter().any(|e| e["event"]["type"] == "abandoned")
        })
        .await;
    let abandoned = log.last().unwrap();
    assert_eq!(abandoned["event"]["type"], "abandoned");
    assert_eq!(abandoned["event"]["reason"], "customer_gone");
    assert_eq!(c2.position().await, 0);
    // The second customer, connected all along, was not abandoned; an agent gets that chat.
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    assert_eq!(ana.expect_offer().await["conversation_id"], second.as_str());
    // The first customer, back too late, sees that the chat is over.
    let mut late = app.customer(&t1, 0).await;
    assert_eq!(late.welcome["status"], "abandoned");
    late.ws.event(&first, "abandoned").await;
    assert_eq!(late.say("hello?").await["code"], "conversation_ended");
    app.stop().await;
}

#[tokio::test]
async fn the_customer_ends_an_answered_chat_and_the_agent_ends_and_wraps_up() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    jo.ws.event(&cid, "accepted").await;

    assert_eq!(jo.end().await["type"], "ack");
    let closed = ana.ws.event(&cid, "closed").await;
    assert_eq!(closed["event"]["reason"], "customer_ended");
    assert_eq!(
        jo.ws.event(&cid, "closed").await["event"]["reason"],
        "customer_ended"
    );
    // Nobody can send on it.
    assert_eq!(ana.say(&cid, "hello?").await["code"], "conversation_closed");
    let t = ana
        .ws
        .command(json!({"type": "send_template", "conversation_id": cid, "template": "Closing"}))
        .await;
    assert_eq!(t["code"], "conversation_closed", "{t}");
    assert_eq!(
        jo.say("one more thing").await["code"],
        "conversation_closed"
    );
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(
        ana.wrap_up(&cid, &resolved).await["code"],
        "no_wrap_up_pending",
        "no wrap-up before End"
    );
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["engaged"], true);

    // The agent ends it; the wrap-up is then owed, and counts until submitted.
    assert_eq!(ana.end(&cid).await["type"], "ack");
    ana.ws.event(&cid, "ended").await;
    jo.ws.event(&cid, "ended").await;
    assert_eq!(ana.end(&cid).await["code"], "conversation_ended");
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["engaged"], false);
    assert_eq!(me["agent"]["load"], 1);
    let again = app.reconnect(&ana.token).await;
    assert_eq!(again.snapshot["chats"][0]["wrap_up_pending"], true);
    assert_eq!(again.snapshot["chats"][0]["status"], "ended");
    let sale = app.id_of(&ana.token, "wrapup-reasons", "Sale").await;
    assert_eq!(ana.wrap_up(&cid, &sale).await["type"], "ack");
    let w = ana.ws.event(&cid, "wrapped_up").await;
    assert_eq!(w["event"]["reason_name"], "Sale");
    assert_eq!(w["event"]["auto"], false);
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 0);
    app.stop().await;
}

#[tokio::test]
async fn an_answered_chat_whose_customer_stays_away_is_closed_as_customer_left() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    drop(jo);
    ana.ws.event(&cid, "customer_disconnected").await;
    // Away for less than the asset's inactivity timeout: nothing happens.
    app.advance(600);
    assert_eq!(ana.say(&cid, "are you there?").await["type"], "ack");
    // Past it: closed.
    app.advance(301);
    let closed = ana.ws.event(&cid, "closed").await;
    assert_eq!(closed["event"]["reason"], "customer_left");
    assert_eq!(ana.say(&cid, "hello?").await["code"], "conversation_closed");
    assert_eq!(ana.end(&cid).await["type"], "ack");
    ana.ws.event(&cid, "ended").await;
    // The customer, back later, sees why.
    let mut back = app.customer(&token, 0).await;
    assert_eq!(back.welcome["status"], "ended");
    let closed = back.ws.event(&cid, "closed").await;
    assert_eq!(closed["event"]["reason"], "customer_left");
    app.stop().await;
}

#[tokio::test]
async fn auto_wrap_up_submits_the_default_reason_after_its_timeout() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let sale = app.id_of(&admin, "wrapup-reasons", "Sale").await;
    let (_, mut profile) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    assert!(profile["auto_wrapup_secs"].is_null(), "off by default");
    profile["auto_wrapup_secs"] = json!(30);
    profile["default_wrapup_reason_id"] = json!(sale);
    let (status, body) = app
        .put("/api/v1/admin/desktop-profile", &admin, profile)
        .await;
    assert_eq!(status, 200, "{body}");

    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    assert_eq!(ana.end(&cid).await["type"], "ack");
    app.advance(31);
    let w = ana.ws.event(&cid, "wrapped_up").await;
    assert_eq!(w["event"]["agent_id"], ana.id.as_str());
    assert_eq!(w["event"]["auto"], true);
    assert_eq!(w["event"]["reason_id"], sale.as_str());
    assert_eq!(w["event"]["reason_name"], "Sale");
    let resolved = app.id_of(&admin, "wrapup-reasons", "Resolved").await;
    assert_eq!(
        ana.wrap_up(&cid, &resolved).await["code"],
        "no_wrap_up_pending"
    );
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 0);
    app.stop().await;
}

#[tokio::test]
async fn without_auto_wrap_up_a_pending_wrap_up_waits_for_the_agent() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _) = app.start_chat(json!({})).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    assert_eq!(ana.end(&cid).await["type"], "ack");
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;
    ana.idle(&lunch).await;
    // A later deadline to know the timers have run: Ben's offer of another chat.
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    app.start_chat(json!({})).await;
    ben.expect_offer().await;
    app.advance(3600);
    ben.ws.expect_type("offer_ended").await;
    // Still Ana's to submit.
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(ana.wrap_up(&cid, &resolved).await["type"], "ack");
    let w = ana.ws.event(&cid, "wrapped_up").await;
    assert_eq!(w["event"]["auto"], false);
    app.stop().await;
}
