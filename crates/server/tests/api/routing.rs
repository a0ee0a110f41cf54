//! Routing: who gets a waiting chat (fewest open chats, then free longest), capacity, one
//! offer at a time, only Available agents of the chat's queue, and the order of the line.

use crate::helpers::*;
use serde_json::json;
use switchboard_core::decide::ConversationCommand;
use switchboard_core::error::DomainError;
use switchboard_server::engine::EngineError;

/// An asset entering the given queue (created by the administrator).
async fn asset_for(app: &TestApp, admin: &str, name: &str, queue: &str) -> String {
    let queue_id = app.id_of(admin, "queues", queue).await;
    let (status, asset) = app
        .post(
            "/api/v1/admin/assets",
            Some(admin),
            json!({"name": name, "queue_id": queue_id}),
        )
        .await;
    assert_eq!(status, 201, "{asset}");
    asset["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_agent_with_fewest_open_chats_is_offered_first() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    ana.accept(&first).await;
    // Ana has been free longer than Ben, but she has a chat open and he has none.
    app.advance(1);
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let (second, _) = app.start_chat(json!({})).await;
    assert_eq!(ben.expect_offer().await["conversation_id"], second.as_str());
    ana.ws.round_trip().await;
    assert!(!ana.has_offer_buffered());
    app.stop().await;
}

#[tokio::test]
async fn among_equals_the_agent_free_longest_is_offered_first() {
    let mut app = spawn_app().await;
    let resolved = {
        let t = app.sign_in(ANA).await;
        app.id_of(&t, "wrapup-reasons", "Resolved").await
    };
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    app.advance(1);
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let (x, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], x.as_str());
    ana.accept(&x).await;
    app.advance(1);
    ana.end(&x).await;
    assert_eq!(ana.wrap_up(&x, &resolved).await["type"], "ack");
    // Both have no chat now; Ben has been free since before Ana's wrap-up.
    let (y, _) = app.start_chat(json!({})).await;
    assert_eq!(ben.expect_offer().await["conversation_id"], y.as_str());
    ana.ws.round_trip().await;
    assert!(!ana.has_offer_buffered());
    app.stop().await;
}

#[tokio::test]
async fn an_agent_at_capacity_is_offered_nothing_until_a_wrap_up_frees_room() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut ana = app.agent(ANA).await;
    let (status, body) = app
        .put(
            &format!("/api/v1/admin/agents/{}", ana.id),
            &admin,
            json!({"capacity": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["capacity"], 1);
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    ana.accept(&first).await;
    let (second, token) = app.start_chat(json!({"name": "Second"})).await;
    let second_customer = app.customer(&token, 0).await;
    assert_eq!(second_customer.welcome["status"], "waiting");
    // Ending does not free the room: the wrap-up still counts.
    assert_eq!(ana.end(&first).await["type"], "ack");
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 1);
    assert_eq!(me["agent"]["capacity"], 1);
    let resolved = app.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    let w = ana.wrap_up(&first, &resolved).await;
    assert_eq!(w["type"], "ack");
    // Nothing was offered before the wrap-up was in ...
    assert!(
        !ana.has_offer_buffered(),
        "offered over capacity: {:?}",
        ana.ws.buffer
    );
    // ... and the waiting chat comes at once after it, with no clock moving.
    assert_eq!(ana.expect_offer().await["conversation_id"], second.as_str());
    app.stop().await;
}

#[tokio::test]
async fn raising_an_agents_capacity_offers_a_waiting_chat_at_once() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let mut ana = app.agent(ANA).await;
    app.put(
        &format!("/api/v1/admin/agents/{}", ana.id),
        &admin,
        json!({"capacity": 1}),
    )
    .await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    ana.accept(&first).await;
    let (second, _) = app.start_chat(json!({})).await;
    ana.ws.round_trip().await;
    assert!(!ana.has_offer_buffered());
    let (status, _) = app
        .put(
            &format!("/api/v1/admin/agents/{}", ana.id),
            &admin,
            json!({"capacity": 2}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ana.expect_offer().await["conversation_id"], second.as_str());
    app.stop().await;
}

#[tokio::test]
async fn an_agent_has_at_most_one_offer_pending() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    let (second, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    ana.ws.round_trip().await;
    assert!(
        !ana.has_offer_buffered(),
        "a second offer while one is pending"
    );
    let (_, me) = app.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me["agent"]["load"], 1);
    ana.accept(&first).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], second.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_chat_is_never_offered_to_an_idle_agent() {
    let mut app = spawn_app().await;
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let lunch = app.id_of(&ana.token, "idle-codes", "Lunch").await;
    assert_eq!(ana.idle(&lunch).await["type"], "ack");
    let (cid, token) = app.start_chat(json!({})).await;
    let jo = app.customer(&token, 0).await;
    assert_eq!(jo.welcome["status"], "waiting");
    // A freshly signed-in agent is Idle too.
    let mut ben = app.agent(BEN).await;
    let mut chloe = app.agent(CHLOE).await;
    chloe.available().await;
    assert_eq!(chloe.expect_offer().await["conversation_id"], cid.as_str());
    for agent in [&mut ana, &mut ben] {
        agent.ws.round_trip().await;
        assert!(!agent.has_offer_buffered());
    }
    app.stop().await;
}

/// A chat waiting in Sales (served by Ana and Ben only, neither available) while Chloe, who
/// serves other queues, is Available: Chloe, and the chat's id.
async fn a_sales_chat_with_chloe_available(app: &TestApp) -> (Agent, String) {
    let admin = app.sign_in(ADMIN).await;
    let shop = asset_for(app, &admin, "Shop", "Sales").await;
    let mut chloe = app.agent(CHLOE).await;
    chloe.available().await;
    let (cid, _) = app.start_chat_on(&shop, json!({})).await;
    (chloe, cid)
}

#[tokio::test]
async fn a_chat_is_offered_only_to_agents_of_its_queue() {
    let mut app = spawn_app().await;
    let (mut chloe, cid) = a_sales_chat_with_chloe_available(&app).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.as_str());
    assert_eq!(offer["queue_name"], "Sales");
    chloe.ws.round_trip().await;
    assert!(!chloe.has_offer_buffered());
    app.stop().await;
}

/// Routing reads a queue's agents before it offers: an agent taken out of the queue in that
/// moment is refused at the offer, which is what a read from before the change looks like.
#[tokio::test]
async fn an_offer_to_an_agent_no_longer_in_the_chats_queue_is_refused() {
    let mut app = spawn_app().await;
    let (mut chloe, cid) = a_sales_chat_with_chloe_available(&app).await;
    let offer = app
        .engine
        .conversation_command(
            cid.parse().unwrap(),
            None,
            None,
            ConversationCommand::Offer {
                agent: chloe.id.parse().unwrap(),
            },
        )
        .await;
    assert!(
        matches!(
            offer,
            Err(EngineError::Domain(DomainError::AgentNotAvailable))
        ),
        "{offer:?}"
    );
    chloe.ws.round_trip().await;
    assert!(!chloe.has_offer_buffered());
    // Still waiting: the queue's own agent gets it.
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.as_str());
    app.stop().await;
}

#[tokio::test]
async fn across_an_agents_queues_the_chat_waiting_longest_comes_first() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let shop = asset_for(&app, &admin, "Shop", "Sales").await;
    // Sales' chat arrives first, Support's a second later; Ben serves both.
    let (sales_chat, _) = app.start_chat_on(&shop, json!({})).await;
    app.advance(1);
    let (support_chat, _) = app.start_chat(json!({})).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    assert_eq!(
        ben.expect_offer().await["conversation_id"],
        sales_chat.as_str()
    );
    ben.accept(&sales_chat).await;
    assert_eq!(
        ben.expect_offer().await["conversation_id"],
        support_chat.as_str()
    );
    app.stop().await;
}

#[tokio::test]
async fn across_an_agents_queues_the_higher_priority_comes_first() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (_, me) = app.get("/api/v1/me", Some(&app.sign_in(BEN).await)).await;
    let ben_id = me["account"]["id"].as_str().unwrap().to_string();
    let (status, vip) = app
        .post(
            "/api/v1/admin/queues",
            Some(&admin),
            json!({"name": "VIP", "priority": 10, "agent_ids": [ben_id]}),
        )
        .await;
    assert_eq!(status, 201, "{vip}");
    let vip_site = asset_for(&app, &admin, "VIP site", "VIP").await;
    // Support's chat has waited longer, but VIP's queue has the higher priority.
    let (support_chat, _) = app.start_chat(json!({})).await;
    app.advance(1);
    let (vip_chat, _) = app.start_chat_on(&vip_site, json!({})).await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    assert_eq!(
        ben.expect_offer().await["conversation_id"],
        vip_chat.as_str()
    );
    ben.accept(&vip_chat).await;
    assert_eq!(
        ben.expect_offer().await["conversation_id"],
        support_chat.as_str()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_chat_arriving_while_an_agent_has_room_is_offered_with_its_arrival() {
    let mut app = spawn_app().await;
    let mut ben = app.agent(BEN).await;
    ben.available().await;
    let started = app
        .engine
        .start_conversation(app.asset_id.parse().unwrap(), Default::default())
        .await
        .unwrap();
    // Read at once, before this test lets any other task run: no routing pass has had a
    // chance, so the offer was written with the arrival.
    let cid = started.conversation_id;
    let state = app.engine.store.conversation(cid).await.unwrap().unwrap();
    assert_eq!(state.status.name(), "offered", "{state:?}");
    let events = app.engine.store.events_after(cid, 0, 100).await.unwrap();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_value(&e.event).unwrap()["type"].to_string())
        .collect();
    assert_eq!(kinds.last().unwrap(), "\"offered\"", "{kinds:?}");
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    let agent = app
        .engine
        .store
        .agent(ben.id.parse().unwrap())
        .await
        .unwrap();
    assert!(agent.unwrap().state.offer.is_some());
    let offer = ben.expect_offer().await;
    assert_eq!(offer["conversation_id"], cid.to_string());
    ben.accept(&cid.to_string()).await;
    app.stop().await;
}

#[tokio::test]
async fn a_chat_arriving_behind_a_waiting_one_waits_its_turn() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let shop = asset_for(&app, &admin, "Shop", "Sales").await;
    let sales = app.id_of(&admin, "queues", "Sales").await;
    // Ana answers a chat and sends it to Sales, where it waits: she serves Sales, but a chat
    // is not offered back to whoever transferred it away. She still has room.
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (first, _) = app.start_chat(json!({})).await;
    assert_eq!(ana.expect_offer().await["conversation_id"], first.as_str());
    ana.accept(&first).await;
    let r = ana
        .ws
        .command(json!({"type": "transfer", "conversation_id": first, "queue_id": sales}))
        .await;
    assert_eq!(r["type"], "ack", "{r}");
    app.advance(1);
    // A chat arriving in Sales now does not pass the one waiting there on its arrival: it
    // queues behind it, and routing decides (here: Ana, who may not take the first).
    let second = app
        .engine
        .start_conversation(shop.parse().unwrap(), Default::default())
        .await
        .unwrap()
        .conversation_id;
    let state = app
        .engine
        .store
        .conversation(second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status.name(), "waiting", "{state:?}");
    assert_eq!(
        ana.expect_offer().await["conversation_id"],
        second.to_string()
    );
    app.stop().await;
}

#[tokio::test]
async fn chats_arriving_together_are_each_offered_to_a_different_agent_as_they_arrive() {
    let mut app = spawn_app().await;
    let mut agents = vec![
        app.agent(ANA).await,
        app.agent(BEN).await,
        app.agent(CHLOE).await,
    ];
    for a in &mut agents {
        a.available().await;
    }
    // All three read the same best agents before any of them commits.
    let asset = app.asset_id.parse().unwrap();
    let starts = (0..3).map(|_| app.engine.start_conversation(asset, Default::default()));
    let started = futures_util::future::join_all(starts).await;
    let mut offered_to = std::collections::BTreeSet::new();
    for s in started {
        let cid = s.unwrap().conversation_id;
        let state = app.engine.store.conversation(cid).await.unwrap().unwrap();
        match state.status {
            switchboard_core::Status::Offered { agent_id, .. } => {
                offered_to.insert(agent_id);
            }
            other => panic!("not offered on arrival: {other:?}"),
        }
    }
    assert_eq!(offered_to.len(), 3);
    for a in &mut agents {
        a.expect_offer().await;
    }
    app.stop().await;
}
