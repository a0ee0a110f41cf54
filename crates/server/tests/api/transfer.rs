//! Transfer to a queue or an agent, conference with a second agent, and chats interrupted
//! when their asset is deleted.

use crate::helpers::*;
use serde_json::{json, Value};

const ANA: &str = "ana@demo.switchboard.test";
const BEN: &str = "ben@demo.switchboard.test";
const CHLOE: &str = "chloe@demo.switchboard.test";

/// Ana owns a fresh chat with a customer who said hello.
async fn chat_with_ana(app: &TestApp, ana: &mut Agent) -> (String, Customer) {
    let (cid, token) = app.start_chat(json!({"name": "Jo"})).await;
    let mut jo = app.customer(&token, 0).await;
    let c = cid.clone();
    ana.ws
        .wait_for("the offer", move |f| {
            f["type"] == "offer" && f["offer"]["conversation_id"] == c.as_str()
        })
        .await;
    assert_eq!(ana.accept(&cid).await["type"], "ack");
    jo.say("hello").await;
    ana.ws.event(&cid, "message").await;
    (cid, jo)
}

async fn queue_id(app: &TestApp, token: &str, name: &str) -> String {
    let (_, queues) = app
        .get(
            &format!("/api/v1/directory/queues?search={name}"),
            Some(token),
        )
        .await;
    queues[0]["id"].as_str().unwrap().to_string()
}

fn kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn transfer_to_a_queue_waits_there_and_the_next_agent_sees_the_whole_thread() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, mut jo) = chat_with_ana(&app, &mut ana).await;
    let sales = queue_id(&app, &ana.token, "sal").await;

    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "queue_id": sales}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    // The transferring agent leaves at once and is shown the wrap-up step.
    let left = ana.ws.event(&cid, "agent_left").await;
    assert_eq!(left["event"]["agent_id"], ana.id.as_str());
    let notice = jo.ws.event(&cid, "transfer_requested").await;
    assert_eq!(notice["event"]["target"]["queue_name"], "Sales");
    assert_eq!(
        ana.say(&cid, "still here?").await["code"],
        "not_in_conversation"
    );

    // Ana serves Sales too, but a chat is not offered back to whoever transferred it away:
    // Ben (Sales) takes it, and sees the thread from the start.
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(
        (
            offer["conversation_id"].as_str().unwrap(),
            offer["queue_name"].as_str().unwrap()
        ),
        (cid.as_str(), "Sales")
    );
    assert_eq!(offer["messages"][0]["text"], "hello");
    // The system's own variable follows the chat to its new queue.
    assert_eq!(offer["variables"]["system.queue"], "Sales");
    assert_eq!(ben.accept(&cid).await["type"], "ack");
    ben.ws.event(&cid, "started").await;
    let hello = ben.ws.event(&cid, "message").await;
    assert_eq!(hello["event"]["text"], "hello");
    // Ana's capacity is freed only by her wrap-up.
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 1);
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    let w = ana
        .ws
        .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": resolved}))
        .await;
    assert_eq!(w["type"], "ack", "{w}");
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 0);
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ben.token),
        )
        .await;
    let k = kinds(&log);
    let from = k.iter().position(|x| x == "transfer_requested").unwrap();
    assert_eq!(
        &k[from..from + 3],
        ["transfer_requested", "agent_left", "queued"]
    );
    app.stop().await;
}

#[tokio::test]
async fn transfer_to_an_agent_accepted_and_not_accepted() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, mut jo) = chat_with_ana(&app, &mut ana).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;

    // The dialog's list: available agents but oneself, filtered on the server.
    let (_, agents) = app
        .get("/api/v1/directory/agents?search=BEN", Some(&ana.token))
        .await;
    assert_eq!(agents.as_array().unwrap().len(), 1, "{agents}");
    assert_eq!(agents[0]["name"], "Ben Okafor");
    let (_, all) = app.get("/api/v1/directory/agents", Some(&ana.token)).await;
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["id"] != ana.id.as_str()));

    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    let offer = ben.expect_offer().await;
    assert_eq!(offer["kind"], "transfer");
    assert_eq!(offer["customer_name"], "Jo");
    assert_eq!(ben.accept(&cid).await["type"], "ack");
    ben.ws.event(&cid, "transfer_accepted").await;
    jo.ws.event(&cid, "transfer_accepted").await;
    assert_eq!(ben.say(&cid, "Ben here").await["type"], "ack");
    let m = jo
        .ws
        .wait_for("Ben's message", |f| f["event"]["text"] == "Ben here")
        .await;
    assert_eq!(m["event"]["sender"]["name"], "Ben Okafor");

    // Ben transfers to Chloé, who does not answer: she goes to RONA and the chat returns
    // to the front of Support, ahead of a chat that arrived later.
    let mut chloe = app.agent(CHLOE).await;
    chloe.available().await;
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    ana.ws
        .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": resolved}))
        .await;
    let (later, _) = app.start_chat(json!({"name": "Later"})).await;
    let l = later.clone();
    ana.ws
        .wait_for("the later chat", move |f| {
            f["type"] == "offer" && f["offer"]["conversation_id"] == l.as_str()
        })
        .await;
    let r = ben
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": chloe.id}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    let lunch = app.id_of(&ben.token, "idle-codes", "Lunch").await;
    ben.ws
        .command(json!({"type": "set_presence", "presence": "idle", "idle_code_id": lunch}))
        .await;
    let offer = chloe.expect_offer().await;
    assert_eq!(offer["kind"], "transfer");
    app.advance(31);
    let ended = chloe.ws.expect_type("offer_ended").await;
    assert_eq!(ended["reason"], "timed_out");
    chloe
        .ws
        .wait_for("RONA", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["state"] == "rona"
        })
        .await;
    // Ana's offer of the later chat also ran out, so two chats wait: the transferred one,
    // back at the front of its queue, goes first to the next agent (not to Ana, who
    // transferred it away).
    ana.ws.expect_type("offer_ended").await;
    let mut dev = app.agent("dev@demo.switchboard.test").await;
    dev.available().await;
    let offer = dev.expect_offer().await;
    assert_eq!(
        offer["conversation_id"],
        cid.as_str(),
        "the rejected transfer is at the front"
    );
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ana.token),
        )
        .await;
    assert!(kinds(&log).contains(&"transfer_rejected".to_string()));
    app.stop().await;
}

#[tokio::test]
async fn a_conference_from_request_to_both_agents_leaving() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, mut jo) = chat_with_ana(&app, &mut ana).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;

    let r = ana
        .ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    ana.ws.event(&cid, "conference_requested").await;
    let second = ana
        .ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(second["code"], "invitation_pending");
    let transfer = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(transfer["code"], "invitation_pending");
    let offer = ben.expect_offer().await;
    assert_eq!(offer["kind"], "conference");
    assert_eq!(ben.accept(&cid).await["type"], "ack");
    // Everyone sees that Ben joined.
    for ws in [&mut ana.ws, &mut jo.ws] {
        let joined = ws.event(&cid, "conference_joined").await;
        assert_eq!(joined["event"]["agent_name"], "Ben Okafor");
    }
    ben.ws.event(&cid, "conference_joined").await;
    // Both agents read and send.
    assert_eq!(ben.say(&cid, "from Ben").await["type"], "ack");
    ana.ws
        .wait_for("Ben's message", |f| f["event"]["text"] == "from Ben")
        .await;
    assert_eq!(ana.say(&cid, "from Ana").await["type"], "ack");
    ben.ws
        .wait_for("Ana's message", |f| f["event"]["text"] == "from Ana")
        .await;
    // Only the owner ends the whole chat or transfers.
    assert_eq!(
        ben.ws
            .command(json!({"type": "end", "conversation_id": cid}))
            .await["code"],
        "not_owner"
    );
    let t = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(t["code"], "conference_in_progress");

    // The owner leaves: Ben becomes the owner; Ana wraps up; the chat goes on.
    let leave = ana
        .ws
        .command(json!({"type": "leave", "conversation_id": cid}))
        .await;
    assert_eq!(leave["type"], "ack", "{leave}");
    let left = jo.ws.event(&cid, "conference_left").await;
    assert_eq!(left["event"]["agent_name"], "Ana Lima");
    let owner = ben.ws.event(&cid, "owner_changed").await;
    assert_eq!(owner["event"]["agent_id"], ben.id.as_str());
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(
        ana.ws
            .command(json!({"type": "wrap_up", "conversation_id": cid, "reason_id": resolved}))
            .await["type"],
        "ack"
    );
    assert_eq!(ben.say(&cid, "still with you").await["type"], "ack");
    // Ben, now alone, cannot "leave" a conference: End ends the chat.
    assert_eq!(
        ben.ws
            .command(json!({"type": "leave", "conversation_id": cid}))
            .await["code"],
        "not_in_conference"
    );
    assert_eq!(
        ben.ws
            .command(json!({"type": "end", "conversation_id": cid}))
            .await["type"],
        "ack"
    );
    jo.ws.event(&cid, "ended").await;
    app.stop().await;
}

#[tokio::test]
async fn an_invitation_not_accepted_is_withdrawn_and_one_cancelled_is_not_rona() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, _jo) = chat_with_ana(&app, &mut ana).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;

    // Cancelled by the owner: Ben's offer ends, no RONA.
    ana.ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    ben.expect_offer().await;
    let r = ana
        .ws
        .command(json!({"type": "cancel_invitation", "conversation_id": cid}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    let ended = ben.ws.expect_type("offer_ended").await;
    assert_eq!(ended["reason"], "withdrawn");
    let (_, me) = app.get("/api/v1/me", Some(&ben.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "available");
    assert_eq!(
        ana.ws
            .command(json!({"type": "cancel_invitation", "conversation_id": cid}))
            .await["code"],
        "no_invitation"
    );

    // Not accepted in time: withdrawn, the owner is told, Ben goes to RONA.
    ana.ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    ben.expect_offer().await;
    app.advance(31);
    ana.ws.event(&cid, "conference_withdrawn").await;
    assert_eq!(
        ben.ws.expect_type("offer_ended").await["reason"],
        "timed_out"
    );
    ben.ws
        .wait_for("RONA", |f| {
            f["type"] == "presence" && f["agent"]["presence"]["state"] == "rona"
        })
        .await;
    // Inviting an agent who is not available is refused.
    let r = ana
        .ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(r["code"], "agent_not_available");
    app.stop().await;
}

#[tokio::test]
async fn transfers_and_invitations_refuse_bad_requests_and_change_nothing() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app.start_chat(json!({})).await;
    let _jo = app.customer(&token, 0).await;
    ana.expect_offer().await;
    // Before accepting.
    let r = ana.ws.command(json!({"type": "transfer", "conversation_id": cid, "queue_id": queue_id(&app, &ana.token, "Sales").await})).await;
    assert_eq!(r["code"], "not_in_conversation");
    ana.accept(&cid).await;
    let mut ben = app.agent(BEN).await;
    // To oneself; to an agent who is not Available; to a queue that does not exist; both or neither target.
    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ana.id}))
        .await;
    assert_eq!(r["code"], "cannot_target_self");
    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    assert_eq!(r["code"], "agent_not_available");
    let r = ana
        .ws
        .command(
            json!({"type": "transfer", "conversation_id": cid, "queue_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r["code"], "unknown_queue");
    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": cid}))
        .await;
    assert_eq!(r["code"], "invalid_command");
    // By someone who is not in the chat.
    ben.available().await;
    let r = ben
        .ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ana.id}))
        .await;
    assert_eq!(r["code"], "not_in_conversation");
    // Nothing changed: Ana still owns it, alone.
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{cid}/events"),
            Some(&ana.token),
        )
        .await;
    assert_eq!(kinds(&log).last().unwrap(), "accepted");
    assert_eq!(ana.say(&cid, "all good").await["type"], "ack");
    app.stop().await;
}

#[tokio::test]
async fn the_customer_ending_during_an_invitation_cancels_it() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, mut jo) = chat_with_ana(&app, &mut ana).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    ana.ws
        .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
        .await;
    ben.expect_offer().await;
    assert_eq!(jo.ws.command(json!({"type": "end"})).await["type"], "ack");
    assert_eq!(
        ben.ws.expect_type("offer_ended").await["reason"],
        "withdrawn"
    );
    let closed = ana.ws.event(&cid, "closed").await;
    assert_eq!(closed["event"]["reason"], "customer_ended");
    assert_eq!(ben.accept(&cid).await["code"], "no_such_offer");
    let (_, me) = app.get("/api/v1/me", Some(&ben.token)).await;
    assert_eq!(
        (
            me["agent"]["load"].as_u64(),
            me["agent"]["presence"]["state"].as_str()
        ),
        (Some(0), Some("available"))
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_an_asset_interrupts_its_live_chats() {
    let mut app = spawn_app().await;
    let admin = app.sign_in("admin@demo.switchboard.test").await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (active, mut jo) = chat_with_ana(&app, &mut ana).await;
    // Ana has room for more; make her Idle so a second chat waits, and a third is offered to Ben.
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;
    ana.ws
        .command(json!({"type": "set_presence", "presence": "idle", "idle_code_id": lunch}))
        .await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let (offered, _) = app.start_chat(json!({"name": "Offered"})).await;
    ben.expect_offer().await;
    let (waiting, waiting_token) = app.start_chat(json!({"name": "Waiting"})).await;
    let mut waiter = app.customer(&waiting_token, 0).await;

    let (status, _) = app
        .delete(&format!("/api/v1/admin/assets/{}", app.asset_id), &admin)
        .await;
    assert_eq!(status, 204);

    // The active chat is closed: the agent is alerted, can send nothing, ends and wraps up.
    let closed = ana.ws.event(&active, "closed").await;
    assert_eq!(closed["event"]["reason"], "interrupted");
    jo.ws.event(&active, "closed").await;
    assert_eq!(
        ana.say(&active, "hello?").await["code"],
        "conversation_closed"
    );
    assert_eq!(jo.say("hello?").await["code"], "conversation_closed");
    assert_eq!(
        ana.ws
            .command(json!({"type": "end", "conversation_id": active}))
            .await["type"],
        "ack"
    );
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    assert_eq!(
        ana.ws
            .command(json!({"type": "wrap_up", "conversation_id": active, "reason_id": resolved}))
            .await["type"],
        "ack"
    );
    // The offered chat is withdrawn without RONA; the waiting one leaves the line.
    assert_eq!(
        ben.ws.expect_type("offer_ended").await["reason"],
        "withdrawn"
    );
    let (_, me) = app.get("/api/v1/me", Some(&ben.token)).await;
    assert_eq!(me["agent"]["presence"]["state"], "available");
    waiter.ws.event(&waiting, "interrupted").await;
    let (_, log) = app
        .get(
            &format!("/api/v1/conversations/{offered}/events"),
            Some(&admin),
        )
        .await;
    assert_eq!(kinds(&log).last().unwrap(), "interrupted");
    // New chats on it are refused; its history stays.
    let (status, body) = app
        .post(
            &format!("/api/v1/assets/{}/conversations", app.asset_id),
            None,
            json!({}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, _) = app
        .get(
            &format!("/api/v1/conversations/{active}/events"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}
