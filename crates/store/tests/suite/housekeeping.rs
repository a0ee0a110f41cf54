//! What the timers and the janitor read and clean: deadlines, sessions, old command ids,
//! nodes' heartbeats and their connections.

use switchboard_core::decide::{self, AgentCommand, ConversationCommand};
use switchboard_core::{AgentId, QueueId, Timestamp};
use switchboard_store::Store;

use super::fixtures::*;

const FAR: Timestamp = Timestamp(i64::MAX / 2);

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

pub async fn due_conversations_due_agents_next_deadline(store: Store, _url: String) {
    assert_eq!(store.next_deadline().await.unwrap(), None);
    assert!(store.due_conversations(FAR, 10).await.unwrap().is_empty());
    assert!(store.due_agents(FAR, 10).await.unwrap().is_empty());

    // Waiting chats whose customer has not connected: due when their grace runs out.
    let queue = QueueId::new();
    let later = start(&store, queue, 0, at(10_000)).await;
    let sooner = start(&store, queue, 0, at(5_000)).await;
    let later_due = decide::next_deadline(&later, &policy()).expect("a deadline");
    let sooner_due = decide::next_deadline(&sooner, &policy()).expect("a deadline");
    assert!(sooner_due < later_due);
    // A chat that is over has no deadline.
    let over = start(&store, queue, 0, at(1_000)).await;
    let over = conversation_do(
        &store,
        over.id,
        &[],
        ConversationCommand::CustomerEnd,
        at(1_500),
    )
    .await
    .unwrap();
    assert_eq!(decide::next_deadline(&over, &policy()), None);

    // An agent signed in without a desktop: due at the end of the sign-out grace. One
    // connected, and one logged out, have no deadline.
    let away = new_account(&store, "Away", 3, at(0)).await;
    let away_row = agent_do(&store, away, AgentCommand::SignIn, at(20_000)).await;
    let away_due = decide::agent_next_deadline(&away_row.state, &policy()).expect("a deadline");
    let present = available_agent(&store, "Present", 3, at(20_000)).await;
    assert_eq!(
        decide::agent_next_deadline(&agent_row(&store, present).await.state, &policy()),
        None
    );
    new_account(&store, "LoggedOut", 3, at(0)).await;

    let earliest = sooner_due.min(away_due);
    assert_eq!(store.next_deadline().await.unwrap(), Some(earliest));

    // Due means deadline <= now, earliest first, at most `limit`.
    let before = Timestamp(sooner_due.0 - 1);
    assert!(store
        .due_conversations(before, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.due_conversations(sooner_due, 10).await.unwrap(),
        vec![sooner.id]
    );
    assert_eq!(
        store.due_conversations(FAR, 10).await.unwrap(),
        vec![sooner.id, later.id]
    );
    assert_eq!(
        store.due_conversations(FAR, 1).await.unwrap(),
        vec![sooner.id]
    );
    assert!(store
        .due_agents(Timestamp(away_due.0 - 1), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.due_agents(away_due, 10).await.unwrap(), vec![away]);
    assert_eq!(store.due_agents(FAR, 10).await.unwrap(), vec![away]);

    // A commit that clears a deadline takes it out (the customer's widget connects).
    let connected = conversation_do(
        &store,
        sooner.id,
        &[],
        ConversationCommand::CustomerConnected {
            connection_id: "widget-1".into(),
        },
        at(6_000),
    )
    .await
    .unwrap();
    assert_eq!(decide::next_deadline(&connected, &policy()), None);
    assert_eq!(
        store.due_conversations(FAR, 10).await.unwrap(),
        vec![later.id]
    );
    assert_eq!(
        store.next_deadline().await.unwrap(),
        Some(later_due.min(away_due))
    );
    conversation_do(
        &store,
        later.id,
        &[],
        ConversationCommand::CustomerConnected {
            connection_id: "widget-2".into(),
        },
        at(11_000),
    )
    .await
    .unwrap();
    // Only the agent's deadline is left.
    assert!(store.due_conversations(FAR, 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline().await.unwrap(), Some(away_due));
    agent_do(
        &store,
        away,
        AgentCommand::Connect {
            connection_id: "desk".into(),
        },
        at(21_000),
    )
    .await;
    assert!(store.due_agents(FAR, 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline().await.unwrap(), None);
}

pub async fn sessions_valid_expired_deleted(store: Store, _url: String) {
    let (ann, bob) = (AgentId::new(), AgentId::new());
    store
        .create_session("h-ann-1", ann, at(1_000), at(5_000))
        .await
        .unwrap();
    store
        .create_session("h-ann-2", ann, at(1_000), at(50_000))
        .await
        .unwrap();
    store
        .create_session("h-bob", bob, at(1_000), at(50_000))
        .await
        .unwrap();

    // Valid until it expires (the instant it expires, it no longer is).
    assert_eq!(
        store.session_agent("h-ann-1", at(1_000)).await.unwrap(),
        Some(ann)
    );
    assert_eq!(
        store.session_agent("h-ann-1", at(4_999)).await.unwrap(),
        Some(ann)
    );
    assert_eq!(
        store.session_agent("h-ann-1", at(5_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.session_agent("h-ann-1", at(9_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.session_agent("unknown", at(1_000)).await.unwrap(),
        None
    );
    // A token hash names one session.
    assert!(store
        .create_session("h-bob", ann, at(2_000), at(60_000))
        .await
        .is_err());
    assert_eq!(
        store.session_agent("h-bob", at(2_000)).await.unwrap(),
        Some(bob)
    );

    // Signing out deletes one session; a password change all of an agent's.
    store.delete_session("h-ann-1").await.unwrap();
    assert_eq!(
        store.session_agent("h-ann-1", at(1_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.session_agent("h-ann-2", at(1_000)).await.unwrap(),
        Some(ann)
    );
    store
        .create_session("h-ann-3", ann, at(3_000), at(50_000))
        .await
        .unwrap();
    store.delete_sessions_of(ann).await.unwrap();
    assert_eq!(
        store.session_agent("h-ann-2", at(3_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.session_agent("h-ann-3", at(3_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.session_agent("h-bob", at(3_000)).await.unwrap(),
        Some(bob)
    );
    // Deleting what is not there is no error.
    store.delete_session("h-ann-1").await.unwrap();
}

pub async fn prune_forgets_old_commands_and_expired_sessions(store: Store, _url: String) {
    for (client_id, now) in [("old", 1_000), ("edge", 3_000), ("new", 5_000)] {
        let mut commit = commit_at(at(now));
        commit.command = Some(command("agent:ann", client_id, "fp", "ok"));
        store.commit(&mut commit).await.unwrap();
    }
    let ann = AgentId::new();
    for (hash, expires) in [("s-expired", 2_000), ("s-edge", 3_000), ("s-live", 9_000)] {
        store
            .create_session(hash, ann, at(0), at(expires))
            .await
            .unwrap();
    }

    store.prune(at(3_000), at(3_000)).await.unwrap();

    // Command ids recorded before the cut are forgotten (and may be used again)...
    assert_eq!(store.command("agent:ann", "old").await.unwrap(), None);
    assert!(store.command("agent:ann", "edge").await.unwrap().is_some());
    assert!(store.command("agent:ann", "new").await.unwrap().is_some());
    let mut reuse = commit_at(at(6_000));
    reuse.command = Some(command("agent:ann", "old", "fp2", "ok2"));
    store
        .commit(&mut reuse)
        .await
        .expect("a forgotten id is free");
    // ...and expired sessions are gone for good (even asked about with an earlier time).
    assert_eq!(store.session_agent("s-expired", at(0)).await.unwrap(), None);
    assert_eq!(
        store.session_agent("s-edge", at(0)).await.unwrap(),
        Some(ann)
    );
    assert_eq!(
        store.session_agent("s-live", at(0)).await.unwrap(),
        Some(ann)
    );

    store.prune(at(10_000), at(10_000)).await.unwrap();
    for id in ["old", "edge", "new"] {
        assert_eq!(store.command("agent:ann", id).await.unwrap(), None);
    }
    assert_eq!(store.session_agent("s-live", at(0)).await.unwrap(), None);
}

pub async fn heartbeat_and_orphaned_connections(store: Store, _url: String) {
    let ann = AgentId::new();
    let chat = uuid::Uuid::new_v4().to_string();
    store.heartbeat("node-a", at(1_000)).await.unwrap();
    store.heartbeat("node-b", at(1_000)).await.unwrap();
    store
        .add_connection("conn-1", "node-a", Some(ann), None, at(1_000))
        .await
        .unwrap();
    store
        .add_connection("conn-2", "node-b", None, Some(chat.clone()), at(1_000))
        .await
        .unwrap();
    // A node that never beat (crashed before its first heartbeat): its connections count as
    // orphaned only once they are older than the stale mark (it may just be starting).
    store
        .add_connection("conn-3", "node-c", Some(ann), None, at(1_000))
        .await
        .unwrap();
    assert!(store
        .orphaned_connections("node-x", at(1_000))
        .await
        .unwrap()
        .is_empty());

    // Node A keeps beating (the upsert moves its time on); node B stops.
    store.heartbeat("node-a", at(5_000)).await.unwrap();
    let orphans = sorted(
        store
            .orphaned_connections("node-x", at(3_000))
            .await
            .unwrap(),
    );
    assert_eq!(
        orphans,
        vec![
            ("conn-2".to_string(), None, Some(chat.clone())),
            ("conn-3".to_string(), Some(ann.to_string()), None),
        ]
    );
    // Closing a connection takes it off the list; B's heartbeat brings it back to life.
    store.remove_connection("conn-3").await.unwrap();
    store.heartbeat("node-b", at(6_000)).await.unwrap();
    assert!(store
        .orphaned_connections("node-x", at(3_000))
        .await
        .unwrap()
        .is_empty());
    // Much later, both nodes are stale.
    let orphans = sorted(
        store
            .orphaned_connections("node-x", at(60_000))
            .await
            .unwrap(),
    );
    assert_eq!(
        orphans,
        vec![
            ("conn-1".to_string(), Some(ann.to_string()), None),
            ("conn-2".to_string(), None, Some(chat.clone())),
        ]
    );
    // A node never sweeps its own connections.
    let orphans = sorted(
        store
            .orphaned_connections("node-a", at(60_000))
            .await
            .unwrap(),
    );
    assert_eq!(orphans, vec![("conn-2".to_string(), None, Some(chat))]);
}
