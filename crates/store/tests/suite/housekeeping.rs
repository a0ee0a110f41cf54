//! What the timers and the janitor read and clean: deadlines, sessions, old command ids,
//! nodes' heartbeats and their connections.

use switchboard_core::decide::{self, AgentCommand, ConversationCommand};
use switchboard_core::{AgentId, ConversationId, QueueId, Timestamp};
use switchboard_store::{ConnectionChange, Store, StoreError};

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

/// Commits a connection's row alone (the engine writes it with its event).
async fn change_connection(store: &Store, change: ConnectionChange, now: Timestamp) {
    let mut commit = commit_at(now);
    commit.connection = Some(change);
    store.commit(&mut commit).await.unwrap();
}

fn opened(
    id: &str,
    node: &str,
    agent: Option<AgentId>,
    chat: Option<ConversationId>,
) -> ConnectionChange {
    ConnectionChange::Opened {
        id: id.to_string(),
        node: node.to_string(),
        agent,
        conversation: chat,
    }
}

pub async fn heartbeat_and_orphaned_connections(store: Store, _url: String) {
    let ann = AgentId::new();
    let chat_id = ConversationId::new();
    let chat = chat_id.to_string();
    store.heartbeat("node-a", at(1_000)).await.unwrap();
    store.heartbeat("node-b", at(1_000)).await.unwrap();
    change_connection(
        &store,
        opened("conn-1", "node-a", Some(ann), None),
        at(1_000),
    )
    .await;
    change_connection(
        &store,
        opened("conn-2", "node-b", None, Some(chat_id)),
        at(1_000),
    )
    .await;
    // A node that never beat (crashed before its first heartbeat): its connections count as
    // orphaned only once they are older than the stale mark (it may just be starting).
    change_connection(
        &store,
        opened("conn-3", "node-c", Some(ann), None),
        at(1_000),
    )
    .await;
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
    // Closing a connection takes it off the list (the sweep's removal, then a socket's
    // leaving that finds it gone already); B's heartbeat brings it back to life.
    store.remove_connection("conn-3").await.unwrap();
    let closed = ConnectionChange::Closed {
        id: "conn-3".to_string(),
    };
    change_connection(&store, closed, at(5_000)).await;
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

/// A connection's row is written by the commit of the event that says it connected, and
/// only if that commit is: one that loses its race leaves no row for a sweep to find, and
/// the commit of its leaving removes it with the event.
pub async fn a_connection_row_is_written_with_its_event(store: Store, _url: String) {
    let ann = new_account(&store, "Ann", 3, at(0)).await;
    store.heartbeat("node-a", at(1_000)).await.unwrap();
    let connect = AgentCommand::Connect {
        connection_id: "desk-1".into(),
    };
    let row = agent_row(&store, ann).await;

    // Decided on a version that another commit moved on from: nothing is written.
    agent_do(&store, ann, AgentCommand::SignIn, at(1_000)).await;
    let mut lost = commit_at(at(1_000));
    lost.agents.push(agent_decision(&row, &connect, at(1_000)));
    lost.connection = Some(opened("desk-1", "node-a", Some(ann), None));
    assert!(matches!(
        store.commit(&mut lost).await,
        Err(StoreError::Conflict)
    ));
    let stale = at(60_000);
    assert!(store
        .orphaned_connections("node-x", stale)
        .await
        .unwrap()
        .is_empty());

    // Decided again on the stored version: the event and the row together.
    let row = agent_row(&store, ann).await;
    let mut won = commit_at(at(1_000));
    won.agents.push(agent_decision(&row, &connect, at(1_000)));
    won.connection = Some(opened("desk-1", "node-a", Some(ann), None));
    store.commit(&mut won).await.unwrap();
    assert!(agent_row(&store, ann).await.state.is_connected());
    assert_eq!(
        store.orphaned_connections("node-x", stale).await.unwrap(),
        vec![("desk-1".to_string(), Some(ann.to_string()), None)]
    );

    // Leaving: the event and the row's removal together.
    let row = agent_row(&store, ann).await;
    let mut left = commit_at(at(2_000));
    let disconnect = AgentCommand::Disconnect {
        connection_id: "desk-1".into(),
    };
    left.agents
        .push(agent_decision(&row, &disconnect, at(2_000)));
    left.connection = Some(ConnectionChange::Closed {
        id: "desk-1".to_string(),
    });
    store.commit(&mut left).await.unwrap();
    assert!(!agent_row(&store, ann).await.state.is_connected());
    assert!(store
        .orphaned_connections("node-x", stale)
        .await
        .unwrap()
        .is_empty());
}
