//! Two engines sharing one PostgreSQL database, as two nodes of a cluster would: the store,
//! not either process's memory, decides who gets an agent's last room.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use serde_json::json;
use sqlx::Connection;
use switchboard_core::decide::ConversationCommand;
use switchboard_core::{AgentId, ConversationId, Status};

/// NATS (with JetStream) runs here for the cluster tests.
const NATS: &str = "nats://127.0.0.1:4222";

/// A fresh database on the test PostgreSQL server, or None (skip) when it cannot be reached
/// and CI is not set.
async fn fresh_database() -> Option<(String, String)> {
    let server = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = match sqlx::PgConnection::connect(&server).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL unreachable at {server} under CI=true: {e}")
        }
        Err(e) => {
            eprintln!(
                "NOTICE: skipping the cluster tests: PostgreSQL unreachable at {server}: {e}"
            );
            return None;
        }
    };
    let name = format!("sb_cluster_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = server.rsplit_once('/').unwrap().0;
    Some((format!("{base}/{name}"), name))
}

async fn drop_database(name: &str) {
    let server = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_racing_for_an_agents_last_room_never_exceed_capacity() {
    let Some(p) = pair().await else { return };
    let (a, b, admin) = (&p.a, &p.b, p.admin.clone());
    let mut ana = a.agent("ana@demo.switchboard.test").await;
    let (status, _) = a
        .put(
            &format!("/api/v1/admin/agents/{}", ana.id),
            &admin,
            json!({"capacity": 1}),
        )
        .await;
    assert_eq!(status, 200);
    ana.available().await;
    let ana_id: AgentId = ana.id.parse().unwrap();

    for round in 0..100 {
        // Two chats arrive at once, one through each node; each node routes its own.
        let (one, two) = tokio::join!(
            a.start_chat(json!({"name": "one"})),
            b.start_chat(json!({"name": "two"}))
        );
        let (x, y) = (one.0.clone(), two.0.clone());
        let offer = ana
            .ws
            .wait_for("an offer of this round", move |f| {
                f["type"] == "offer"
                    && (f["offer"]["conversation_id"] == x.as_str()
                        || f["offer"]["conversation_id"] == y.as_str())
            })
            .await;
        let offered = offer["offer"]["conversation_id"]
            .as_str()
            .unwrap()
            .to_string();

        let agent = a.engine.store.agent(ana_id).await.unwrap().unwrap().state;
        assert!(
            agent.load() <= agent.capacity,
            "round {round}: over capacity: {agent:?}"
        );
        let mut offered_to_ana = 0;
        for cid in [&one.0, &two.0] {
            let c = a
                .engine
                .store
                .conversation(cid.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
            if matches!(c.status, Status::Offered { agent_id, .. } if agent_id == ana_id) {
                offered_to_ana += 1;
            }
        }
        assert_eq!(
            offered_to_ana, 1,
            "round {round}: exactly one chat is offered to Ana"
        );

        // Both customers leave; Ana's offer is withdrawn and her room comes back.
        for (_, token) in [&one, &two] {
            let mut c = b.customer(token, 0).await;
            let r = c.ws.command(json!({"type": "end"})).await;
            assert_eq!(r["type"], "ack", "{r}");
        }
        let o = offered.clone();
        ana.ws
            .wait_for("the offer's end", move |f| {
                f["type"] == "offer_ended" && f["conversation_id"] == o.as_str()
            })
            .await;
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_offering_at_the_same_instant_one_wins() {
    let Some(p) = pair().await else { return };
    let (a, b, admin) = (&p.a, &p.b, p.admin.clone());
    let mut ben = a.agent("ben@demo.switchboard.test").await;
    let (status, _) = a
        .put(
            &format!("/api/v1/admin/agents/{}", ben.id),
            &admin,
            json!({"capacity": 1}),
        )
        .await;
    assert_eq!(status, 200);
    let ben_id: AgentId = ben.id.parse().unwrap();

    for round in 0..100 {
        // Chats wait (Ben is Idle), then Ben's room is raced for directly by both engines.
        let (one, _) = a.start_chat(json!({})).await;
        let (two, _) = b.start_chat(json!({})).await;
        ben.available().await;
        let (c1, c2): (ConversationId, ConversationId) =
            (one.parse().unwrap(), two.parse().unwrap());
        let (ra, rb) = tokio::join!(
            a.engine.conversation_command(
                c1,
                None,
                None,
                ConversationCommand::Offer { agent: ben_id }
            ),
            b.engine.conversation_command(
                c2,
                None,
                None,
                ConversationCommand::Offer { agent: ben_id }
            ),
        );
        // Routing may also have raced in on either node; whatever ran, Ben holds one offer.
        let agent = a.engine.store.agent(ben_id).await.unwrap().unwrap().state;
        assert_eq!(agent.load(), 1, "round {round}: {agent:?} ({ra:?}, {rb:?})");
        assert!(
            !(ra.is_ok() && rb.is_ok()),
            "round {round}: both offers succeeded"
        );
        let mut offered = 0;
        for cid in [c1, c2] {
            let c = a.engine.store.conversation(cid).await.unwrap().unwrap();
            if matches!(c.status, Status::Offered { agent_id, .. } if agent_id == ben_id) {
                offered += 1;
            }
        }
        assert_eq!(offered, 1, "round {round}");
        // Reset: Ben goes Idle, the offer runs out (Ben to RONA), both chats are abandoned.
        let lunch = a.id_of(&ben.token, "idle-codes", "Lunch").await;
        for cid in [c1, c2] {
            let _ = a
                .engine
                .conversation_command(cid, None, None, ConversationCommand::CustomerEnd)
                .await;
        }
        let r = ben
            .ws
            .command(json!({"type": "set_presence", "presence": "idle", "idle_code_id": lunch}))
            .await;
        assert_eq!(r["type"], "ack", "{r}");
        let agent = a.engine.store.agent(ben_id).await.unwrap().unwrap().state;
        assert_eq!(
            agent.load(),
            0,
            "round {round}: the offer went with the chat"
        );
        ben.ws.buffer.clear();
    }
    p.stop().await;
}

/// The conversation and the agents agree on where it is, and nobody is over capacity. The
/// rows are read while nothing changes them (agents' versions the same before and after the
/// conversation is read), since routing may still be at work.
async fn assert_consistent(app: &TestApp, cid: &str, agents: &[AgentId], round: usize) {
    let store = &app.engine.store;
    for _ in 0..200 {
        let mut before = Vec::new();
        for id in agents {
            before.push(store.agent(*id).await.unwrap().unwrap());
        }
        let c = store
            .conversation(cid.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut stable = true;
        for (id, row) in agents.iter().zip(&before) {
            stable &= store.agent(*id).await.unwrap().unwrap().version == row.version;
        }
        if !stable {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        }
        for (id, row) in agents.iter().zip(before) {
            let a = row.state;
            let ctx = format!("round {round}: {:?} / {:?}", c.status, a);
            assert!(a.load() <= a.capacity, "over capacity: {ctx}");
            let offered_here = c.offered_to() == Some(*id)
                || c.invitation.as_ref().is_some_and(|i| i.agent_id == *id);
            assert_eq!(
                offered_here,
                a.offer.as_ref().is_some_and(|o| o.conversation_id == c.id),
                "offer: {ctx}"
            );
            assert_eq!(
                c.agents.contains(id),
                a.chats.contains(&c.id),
                "in the chat: {ctx}"
            );
            assert_eq!(
                c.wrapups.contains_key(id),
                a.wrapups.contains(&c.id),
                "wrap-up: {ctx}"
            );
        }
        return;
    }
    panic!("round {round}: the rows never stood still long enough to compare");
}

/// Two nodes, the same agent Ana on both, Ben on the second.
struct Pair {
    a: TestApp,
    b: TestApp,
    name: String,
    admin: String,
}

async fn pair() -> Option<Pair> {
    let (url, name) = fresh_database().await?;
    let prefix = format!("sbtest.{}", uuid::Uuid::new_v4().simple());
    let a = spawn_node(&url, Some((NATS, &prefix))).await;
    let b = spawn_node(&url, Some((NATS, &prefix))).await;
    let admin = a.sign_in("admin@demo.switchboard.test").await;
    Some(Pair { a, b, name, admin })
}

impl Pair {
    async fn stop(mut self) {
        self.a.stop().await;
        self.b.stop().await;
        drop_database(&self.name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_transfers_of_one_chat_at_once_on_two_nodes_leave_it_in_one_place() {
    let Some(p) = pair().await else { return };
    let mut ana_a = p.a.agent("ana@demo.switchboard.test").await;
    let mut ana_b = p.b.reconnect(&ana_a.token).await;
    let mut ben = p.b.agent("ben@demo.switchboard.test").await;
    ana_a.available().await;
    let (ana, ben_id): (AgentId, AgentId) = (ana_a.id.parse().unwrap(), ben.id.parse().unwrap());
    let (_, queues) =
        p.a.get("/api/v1/directory/queues?search=Sales", Some(&ana_a.token))
            .await;
    let sales = queues[0]["id"].as_str().unwrap().to_string();
    let resolved = p.a.id_of(&ana_a.token, "wrapup-reasons", "Resolved").await;

    let lunch = p.a.id_of(&ana_a.token, "idle-codes", "Lunch").await;
    for round in 0..30 {
        // Ben stays out of routing (Idle) until Ana owns the chat, then is a transfer target.
        ben.idle(&lunch).await;
        let (cid, token) =
            p.a.start_chat(json!({"name": format!("race {round}")}))
                .await;
        let c = cid.clone();
        ana_a
            .ws
            .wait_for("the offer", move |f| {
                f["type"] == "offer" && f["offer"]["conversation_id"] == c.as_str()
            })
            .await;
        assert_eq!(ana_a.accept(&cid).await["type"], "ack", "round {round}");
        ben.available().await;
        let (to_queue, to_ben) = tokio::join!(
            ana_a
                .ws
                .command(json!({"type": "transfer", "conversation_id": cid, "queue_id": sales})),
            ana_b
                .ws
                .command(json!({"type": "transfer", "conversation_id": cid, "agent_id": ben.id})),
        );
        let wins = [&to_queue, &to_ben]
            .iter()
            .filter(|r| r["type"] == "ack")
            .count();
        assert_eq!(
            wins, 1,
            "round {round}: exactly one transfer: {to_queue} / {to_ben}"
        );
        assert_consistent(&p.a, &cid, &[ana, ben_id], round).await;
        let c =
            p.a.engine
                .store
                .conversation(cid.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
        assert!(
            c.wrapups.contains_key(&ana) && !c.agents.contains(&ana),
            "round {round}: Ana left once"
        );
        // Clean up: the customer leaves, Ana wraps up, Ben's offer (if any) goes.
        let mut cust = p.b.customer(&token, 0).await;
        assert_eq!(cust.ws.command(json!({"type": "end"})).await["type"], "ack");
        assert_eq!(ana_a.wrap_up(&cid, &resolved).await["type"], "ack");
        assert_consistent(&p.a, &cid, &[ana, ben_id], round).await;
        ana_a.ws.buffer.clear();
        ana_b.ws.buffer.clear();
        ben.ws.buffer.clear();
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepting_an_invitation_while_the_customer_ends_has_one_outcome() {
    let Some(p) = pair().await else { return };
    let mut ana = p.a.agent("ana@demo.switchboard.test").await;
    let mut ben = p.b.agent("ben@demo.switchboard.test").await;
    ana.available().await;
    let (ana_id, ben_id): (AgentId, AgentId) = (ana.id.parse().unwrap(), ben.id.parse().unwrap());
    let resolved = p.a.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    let lunch = p.a.id_of(&ana.token, "idle-codes", "Lunch").await;

    for round in 0..30 {
        // Ben stays out of routing (Idle) until Ana owns the chat.
        ben.idle(&lunch).await;
        let (cid, token) = p.a.start_chat(json!({})).await;
        let mut cust = p.b.customer(&token, 0).await;
        let c = cid.clone();
        ana.ws
            .wait_for("the offer", move |f| {
                f["type"] == "offer" && f["offer"]["conversation_id"] == c.as_str()
            })
            .await;
        assert_eq!(ana.accept(&cid).await["type"], "ack");
        ben.available().await;
        let r = ana
            .ws
            .command(json!({"type": "invite", "conversation_id": cid, "agent_id": ben.id}))
            .await;
        assert_eq!(r["type"], "ack", "round {round}: {r}");
        let c = cid.clone();
        ben.ws
            .wait_for("the invitation", move |f| {
                f["type"] == "offer" && f["offer"]["conversation_id"] == c.as_str()
            })
            .await;
        let (accepted, ended) =
            tokio::join!(ben.accept(&cid), cust.ws.command(json!({"type": "end"})));
        assert_eq!(ended["type"], "ack", "round {round}");
        assert_consistent(&p.a, &cid, &[ana_id, ben_id], round).await;
        // Whatever won, each agent still in the closed chat ends it and wraps up.
        for agent in [&mut ana, &mut ben] {
            let _ = agent.end(&cid).await;
            let _ = agent.wrap_up(&cid, &resolved).await;
        }
        assert_consistent(&p.a, &cid, &[ana_id, ben_id], round).await;
        let c =
            p.a.engine
                .store
                .conversation(cid.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
        assert!(
            c.is_finished(),
            "round {round}: {accepted} -> {:?}",
            c.status
        );
        ana.ws.buffer.clear();
        ben.ws.buffer.clear();
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_asset_while_its_chat_is_being_accepted_has_one_outcome() {
    let Some(p) = pair().await else { return };
    let mut ana = p.b.agent("ana@demo.switchboard.test").await;
    ana.available().await;
    let ana_id: AgentId = ana.id.parse().unwrap();
    let resolved = p.a.id_of(&ana.token, "wrapup-reasons", "Resolved").await;
    let (_, queues) = p.a.get("/api/v1/admin/queues", Some(&p.admin)).await;
    let support = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .clone();

    for round in 0..30 {
        let (status, asset) =
            p.a.post(
                "/api/v1/admin/assets",
                Some(&p.admin),
                json!({"name": format!("Site {round}"), "queue_id": support}),
            )
            .await;
        assert_eq!(status, 201, "{asset}");
        let asset_id = asset["id"].as_str().unwrap().to_string();
        let (cid, _) = p.b.start_chat_on(&asset_id, json!({})).await;
        let c = cid.clone();
        ana.ws
            .wait_for("the offer", move |f| {
                f["type"] == "offer" && f["offer"]["conversation_id"] == c.as_str()
            })
            .await;
        let path = format!("/api/v1/admin/assets/{asset_id}");
        let (deleted, accepted) = tokio::join!(p.a.delete(&path, &p.admin), ana.accept(&cid));
        assert_eq!(deleted.0, 204, "round {round}");
        let c =
            p.a.engine
                .store
                .conversation(cid.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
        // Accepted first: interrupted while active (closed); or withdrawn first: interrupted
        // in line, and the accept refused. Never both, never neither.
        match c.status {
            switchboard_core::Status::Closed => {
                assert_eq!(accepted["type"], "ack", "round {round}")
            }
            switchboard_core::Status::Interrupted => {
                assert_eq!(accepted["code"], "no_such_offer", "round {round}")
            }
            other => panic!("round {round}: {other:?} after {accepted}"),
        }
        assert_consistent(&p.a, &cid, &[ana_id], round).await;
        let _ = ana.end(&cid).await;
        let _ = ana.wrap_up(&cid, &resolved).await;
        let a = p.a.engine.store.agent(ana_id).await.unwrap().unwrap().state;
        assert_eq!(a.load(), 0, "round {round}: {a:?}");
        ana.ws.buffer.clear();
    }
    p.stop().await;
}

#[tokio::test]
async fn chats_arriving_at_once_on_two_nodes_are_offered_to_two_agents_as_they_arrive() {
    let Some(p) = pair().await else { return };
    let (a, b) = (&p.a, &p.b);
    let mut ana = a.agent("ana@demo.switchboard.test").await;
    let mut ben = a.agent("ben@demo.switchboard.test").await;
    ana.available().await;
    ben.available().await;
    let asset = a.asset_id.parse().unwrap();
    for round in 0..20 {
        // Both nodes read the same best agent and offer it their chat: one commit loses the
        // race, and that node looks again (rather than leaving its chat to wait for routing).
        let (one, two) = tokio::join!(
            a.engine.start_conversation(asset, Default::default()),
            b.engine.start_conversation(asset, Default::default()),
        );
        let chats = [one.unwrap().conversation_id, two.unwrap().conversation_id];
        let mut offered_to = std::collections::BTreeSet::new();
        for cid in chats {
            let c = a.engine.store.conversation(cid).await.unwrap().unwrap();
            match c.status {
                Status::Offered { agent_id, .. } => {
                    offered_to.insert(agent_id);
                }
                other => panic!("round {round}: not offered on arrival: {other:?}"),
            }
        }
        assert_eq!(offered_to.len(), 2, "round {round}");
        // Reset: both customers leave, which withdraws the offers.
        for cid in chats {
            a.engine
                .conversation_command(cid, None, None, ConversationCommand::CustomerEnd)
                .await
                .unwrap();
        }
        for agent in [&mut ana, &mut ben] {
            let id: AgentId = agent.id.parse().unwrap();
            for _ in 0..200 {
                let row = a.engine.store.agent(id).await.unwrap().unwrap();
                if row.state.offer.is_none() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            agent.ws.buffer.clear();
        }
    }
    p.stop().await;
}

#[tokio::test]
async fn an_asset_just_moved_to_another_queue_is_not_offered_from_its_old_one() {
    let Some(p) = pair().await else { return };
    let (a, b, admin) = (&p.a, &p.b, p.admin.clone());
    // Chloe serves Support only; nobody of Sales (Ana, Ben) is Available.
    let mut chloe = a.agent("chloe@demo.switchboard.test").await;
    chloe.available().await;
    // Node A's configuration has the demo asset entering Support...
    a.engine.config.get().await.unwrap();
    // ...when node B moves it to Sales.
    let sales = b.id_of(&admin, "queues", "Sales").await;
    let (status, body) = b
        .put(
            &format!("/api/v1/admin/assets/{}", b.asset_id),
            &admin,
            json!({"queue_id": sales}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A chat started on node A at once enters Sales (the asset is read from the store), and
    // is not offered to Chloe from the line of Support that node A's copy names.
    let cid = a
        .engine
        .start_conversation(a.asset_id.parse().unwrap(), Default::default())
        .await
        .unwrap()
        .conversation_id;
    let c = a.engine.store.conversation(cid).await.unwrap().unwrap();
    assert_eq!(c.queue_id.to_string(), sales);
    assert_eq!(c.status.name(), "waiting", "{c:?}");
    let chloe_id: AgentId = chloe.id.parse().unwrap();
    let row = a.engine.store.agent(chloe_id).await.unwrap().unwrap();
    assert!(row.state.offer.is_none(), "{:?}", row.state.offer);
    p.stop().await;
}

/// A node that stops cannot write its sockets' leaving (it refuses commands while it stops,
/// as a crashed node writes nothing): the rows written with their connects name them, and
/// once its heartbeat is stale the other node disconnects the agent and the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_nodes_sockets_are_disconnected_by_the_other_node() {
    let Some(mut p) = pair().await else { return };
    let ana = p.a.agent("ana@demo.switchboard.test").await;
    let ana_id: AgentId = ana.id.parse().unwrap();
    let (cid, token) = p.a.start_chat(json!({})).await;
    let cid: ConversationId = cid.parse().unwrap();
    let _widget = p.a.customer(&token, 0).await;
    let store = p.b.engine.store.clone();
    // Whether Ana's desktop is connected, and how many sockets the customer has.
    let connected = || async {
        let agent = store.agent(ana_id).await.unwrap().unwrap().state;
        let chat = store.conversation(cid).await.unwrap().unwrap();
        (agent.is_connected(), chat.customer_connections.len())
    };
    assert_eq!(connected().await, (true, 1));

    p.a.stop().await;
    assert_eq!(
        connected().await,
        (true, 1),
        "node A refused its sockets' leaving"
    );

    // Node A's last heartbeat is now older than the stale mark on node B's clock.
    p.b.advance(20);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while connected().await != (false, 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B never disconnected node A's sockets"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    p.stop().await;
}
