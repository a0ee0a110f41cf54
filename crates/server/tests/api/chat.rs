//! A chat from start to end, and the rules along the way.

use crate::helpers::*;
use serde_json::json;

const ANA: &str = "ana@demo.switchboard.test";
const BEN: &str = "ben@demo.switchboard.test";

#[tokio::test]
async fn a_whole_chat_from_start_to_wrap_up() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    assert_eq!(ana.snapshot["agent"]["presence"]["state"], "idle");
    ana.available().await;

    let (cid, token) = app
        .start_chat(json!({"name": "Jo Customer", "email": "jo@example.com", "page_url": "https://shop.example/help"}))
        .await;
    let mut jo = app.customer(&token, 0).await;
    // Waiting, or already offered: either way first in line.
    assert!(["waiting", "offered"].contains(&jo.welcome["status"].as_str().unwrap()));
    assert_eq!(jo.welcome["position"], 0);

    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.as_str());
    assert_eq!(offer["customer_name"], "Jo Customer");
    assert_eq!(offer["queue_name"], "Support");
    assert_eq!(offer["agent_name"], "Ana Lima");
    assert_eq!(offer["proactive"], false);
    assert_eq!(
        offer["variables"]["system.page_url"],
        "https://shop.example/help"
    );
    assert!(offer["arrived_at"].as_i64().unwrap() <= offer["offered_at"].as_i64().unwrap());
    // Ana had room: offered with the arrival itself, before anything was said.
    assert_eq!(offer["offered_at"], offer["arrived_at"]);
    assert_eq!(offer["messages"], json!([]));

    let ack = ana.accept(&cid).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    // Accepting opens the chat with its history.
    ana.ws.event(&cid, "started").await;
    ana.ws.event(&cid, "accepted").await;
    let joined = jo.ws.event(&cid, "accepted").await;
    assert_eq!(joined["event"]["agent_name"], "Ana Lima");

    let sent = jo.say("Hello, my order is late").await;
    assert_eq!(sent["type"], "ack");
    let seq = sent["seq"].as_u64().unwrap();
    let got = ana.ws.event(&cid, "message").await;
    assert_eq!(got["seq"].as_u64().unwrap(), seq);
    assert_eq!(got["event"]["text"], "Hello, my order is late");
    assert_eq!(got["event"]["sender"]["kind"], "customer");

    // Each side sees its own messages too, in the one order.
    let own = jo.ws.event(&cid, "message").await;
    assert_eq!(own["seq"].as_u64().unwrap(), seq);
    let reply = ana.say(&cid, "Sorry to hear that.\nLet me check.").await;
    assert_eq!(reply["type"], "ack");
    let got = jo.ws.event(&cid, "message").await;
    assert_eq!(got["event"]["text"], "Sorry to hear that.\nLet me check.");
    assert_eq!(got["event"]["sender"]["name"], "Ana Lima");

    // A template is filled on the server.
    let t = ana
        .ws
        .command(json!({"type": "send_template", "conversation_id": cid, "template": "Greeting"}))
        .await;
    assert_eq!(t["type"], "ack", "{t}");
    let got = jo.ws.event(&cid, "message").await;
    assert_eq!(
        got["event"]["text"],
        "Hello Jo Customer, my name is Ana Lima. How can I help you today?"
    );

    // End and wrap up.
    let end = ana
        .ws
        .command(json!({"type": "end", "conversation_id": cid}))
        .await;
    assert_eq!(end["type"], "ack", "{end}");
    jo.ws.event(&cid, "ended").await;
    let late = jo.say("wait").await;
    assert_eq!(late["code"], "conversation_ended");
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    let w = ana
        .ws
        .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": resolved}))
        .await;
    assert_eq!(w["type"], "ack", "{w}");
    let again = ana
        .ws
        .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": resolved}))
        .await;
    assert_eq!(again["code"], "no_wrap_up_pending");

    // The customer never saw offers or wrap-ups.
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ana.token),
        )
        .await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .filter(|k| *k != "customer_connected") // when the socket opened relative to the offer varies
        .collect();
    assert_eq!(
        kinds,
        [
            "started",
            "queued",
            "offered",
            "accepted",
            "message",
            "message",
            "message",
            "ended",
            "wrapped_up"
        ]
    );
    let seqs: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let mut fresh = app.customer(&token, 0).await;
    fresh.ws.event(&cid, "ended").await;
    assert!(fresh
        .ws
        .buffer
        .iter()
        .all(|f| !["offered", "wrapped_up", "customer_connected"]
            .contains(&f["event"]["type"].as_str().unwrap_or(""))));
    app.stop().await;
}

#[tokio::test]
async fn rona_returns_the_chat_to_the_front_and_a_second_agent_accepts() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({"name": "First"})).await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], first.as_str());
    // A later chat waits behind it.
    let (_second, _) = app.start_chat(json!({"name": "Second"})).await;

    let mut ben = app.agent(BEN).await;
    ben.available().await;
    // Ben gets the second chat meanwhile (Ana has an offer pending).
    let ben_offer = ben.expect_offer().await;
    assert_eq!(ben_offer["customer_name"], "Second");

    app.advance(31);
    let ended = ana.ws.expect_type("offer_ended").await;
    assert_eq!(ended["reason"], "timed_out");
    let presence = ana
        .ws
        .wait_for("rona", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["state"] == "rona"
        })
        .await;
    assert_eq!(presence["agent"]["load"], 0);

    // Ben's own offer also ran out; he goes Available again and gets the FIRST chat: it
    // went back to the front of the line.
    ben.ws.expect_type("offer_ended").await;
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], first.as_str());
    let ack = ben.accept(&first).await;
    assert_eq!(ack["type"], "ack");
    // Ana, in RONA, accepting now is refused.
    let late = ana.accept(&first).await;
    assert_eq!(late["code"], "no_such_offer");
    app.stop().await;
}

#[tokio::test]
async fn a_repeated_command_id_has_one_effect_and_the_first_answer() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;

    let first = jo
        .ws
        .command_with_id(json!({"type": "send", "id": "m-1", "text": "once"}))
        .await;
    let second = jo
        .ws
        .command_with_id(json!({"type": "send", "id": "m-1", "text": "once"}))
        .await;
    assert_eq!(first, second);
    let other = jo
        .ws
        .command_with_id(json!({"type": "send", "id": "m-1", "text": "different"}))
        .await;
    assert_eq!(other["code"], "id_reused");
    // A second connection of the same customer shares the scope.
    let mut again = app.customer(&token, 0).await;
    let third = again
        .ws
        .command_with_id(json!({"type": "send", "id": "m-1", "text": "once"}))
        .await;
    assert_eq!(third, first);

    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ana.token),
        )
        .await;
    let messages = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "message")
        .count();
    assert_eq!(messages, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_customer_resumes_from_the_last_seq_it_saw() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    let a = jo.say("one").await["seq"].as_u64().unwrap();
    drop(jo);
    // While the customer is away, the agent writes twice.
    let m2 = ana.say(&cid, "two").await["seq"].as_u64().unwrap();
    let m3 = ana.say(&cid, "three").await["seq"].as_u64().unwrap();
    let mut back = app.customer(&token, a).await;
    let e2 = back.ws.event(&cid, "message").await;
    let e3 = back.ws.event(&cid, "message").await;
    assert_eq!(
        (
            e2["seq"].as_u64().unwrap(),
            e2["event"]["text"].as_str().unwrap()
        ),
        (m2, "two")
    );
    assert_eq!(
        (
            e3["seq"].as_u64().unwrap(),
            e3["event"]["text"].as_str().unwrap()
        ),
        (m3, "three")
    );
    // Nothing before `a` came again.
    assert!(back
        .ws
        .buffer
        .iter()
        .all(|f| f["seq"].as_u64().is_none_or(|s| s > a)));
    let m4 = ana.say(&cid, "four").await["seq"].as_u64().unwrap();
    let e4 = back.ws.event(&cid, "message").await;
    assert_eq!(e4["seq"].as_u64().unwrap(), m4);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_reconnects_with_a_snapshot_and_gets_what_it_missed() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    let seen = ana.ws.event(&cid, "accepted").await["seq"]
        .as_u64()
        .unwrap();
    let token_a = ana.token.clone();
    drop(ana);
    let m = jo.say("are you there?").await["seq"].as_u64().unwrap();

    let mut ws = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    ws.send(json!({"type": "hello", "token": token_a, "resume": {cid.clone(): seen}}))
        .await;
    let snap = ws.expect_type("snapshot").await;
    assert_eq!(snap["chats"][0]["conversation_id"], cid.as_str());
    assert_eq!(snap["chats"][0]["head_seq"].as_u64().unwrap(), m);
    assert_eq!(snap["agent"]["presence"]["state"], "available");
    assert_eq!(snap["agent"]["engaged"], true);
    let missed = ws.event(&cid, "message").await;
    assert_eq!(missed["seq"].as_u64().unwrap(), m);
    // Nothing at or before `seen` was sent again.
    assert!(ws
        .buffered_events(&cid)
        .iter()
        .all(|f| f["seq"].as_u64().unwrap() > seen));
    app.stop().await;
}

#[tokio::test]
async fn message_rules_are_enforced_with_clear_errors() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({})).await;
    let mut jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    assert_eq!(
        ana.say(&cid, "1 < 2").await["code"],
        "message_reserved_character"
    );
    assert_eq!(ana.say(&cid, "   ").await["code"], "message_empty");
    assert_eq!(
        ana.say(&cid, &"x".repeat(1001)).await["code"],
        "message_too_long"
    );
    assert_eq!(ana.say(&cid, &"é".repeat(1000)).await["type"], "ack");
    assert_eq!(
        jo.say("tab\there").await["code"],
        "message_control_character"
    );
    assert_eq!(jo.say("a < b is fine for customers").await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn only_a_signed_identity_links_chats_into_a_customers_history() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let identity = switchboard_server::auth::sign_identity(
        &format!(r#"{{"sub":"cust-77","exp":{exp},"name":"Vera"}}"#),
        switchboard_server::demo::DEMO_ASSET_SECRET,
    );
    // A first chat, verified, with a message, ended and wrapped up.
    let (first, token) = app.start_chat(json!({"identity_token": identity})).await;
    let mut vera = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&first).await;
    vera.say("my first question").await;
    ana.ws
        .command(json!({"type": "end", "conversation_id": first}))
        .await;
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    ana.ws
        .command(json!({"type": "wrap_up", "conversation_id": first, "reason_id": resolved}))
        .await;
    // A chat that only claims the same name and email: not linked.
    let (claimed, _) = app
        .start_chat(json!({"name": "Vera", "email": "vera@example.com"}))
        .await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["conversation_id"], claimed.as_str());
    ana.accept(&claimed).await;
    let (_, history) = app
        .get(
            &format!("/api/v1/conversations/{claimed}/customer-history"),
            Some(&ana.token),
        )
        .await;
    assert_eq!(history, json!([]));
    // A second verified chat sees the first, with its transcript.
    let (second, _) = app.start_chat(json!({"identity_token": identity})).await;
    let offer = ana.expect_offer().await;
    assert_eq!(offer["customer"]["identity"], "cust-77");
    assert_eq!(offer["customer_name"], "Vera");
    ana.accept(&second).await;
    let (status, history) = app
        .get(
            &format!("/api/v1/conversations/{second}/customer-history"),
            Some(&ana.token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["conversation_id"], first.as_str());
    assert_eq!(history[0]["messages"][0]["text"], "my first question");
    // Someone who was never in the chat is told it does not exist.
    let ben = app.sign_in(BEN).await;
    let (status, _) = app
        .get(
            &format!("/api/v1/conversations/{second}/customer-history"),
            Some(&ben),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
