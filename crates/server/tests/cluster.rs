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
    let Some((url, name)) = fresh_database().await else {
        return;
    };
    let prefix = format!("sbtest.{}", uuid::Uuid::new_v4().simple());
    let mut a = spawn_node(&url, Some((NATS, &prefix))).await;
    let mut b = spawn_node(&url, Some((NATS, &prefix))).await;
    let admin = a.sign_in("admin@demo.switchboard.test").await;
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
    a.stop().await;
    b.stop().await;
    drop_database(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_offering_at_the_same_instant_one_wins() {
    let Some((url, name)) = fresh_database().await else {
        return;
    };
    let prefix = format!("sbtest.{}", uuid::Uuid::new_v4().simple());
    let mut a = spawn_node(&url, Some((NATS, &prefix))).await;
    let mut b = spawn_node(&url, Some((NATS, &prefix))).await;
    let admin = a.sign_in("admin@demo.switchboard.test").await;
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
    a.stop().await;
    b.stop().await;
    drop_database(&name).await;
}
