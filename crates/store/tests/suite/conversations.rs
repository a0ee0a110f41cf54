//! Commits: new conversations and their logs, conditional writes that lose a race and write
//! nothing, idempotency records.

use std::sync::Arc;

use switchboard_core::decide::{AgentCommand, ConversationCommand};
use switchboard_core::{AgentEvent, ConversationEvent, ConversationId, Presence, QueueId, Status};
use switchboard_store::{Store, StoreError};

use super::fixtures::*;

pub async fn new_conversation_commit_and_read_back(store: Store, _url: String) {
    let queue = QueueId::new();
    let write = start_write(queue, 2, at(10_000));
    let expected = (*write.state).clone();
    let token = write.token_hash.clone().unwrap();
    let first_events = write.events.clone();
    let mut commit = commit_at(at(10_000));
    commit.conversation = Some(write);
    store.commit(&mut commit).await.expect("commit");

    let stored = conversation(&store, expected.id).await;
    assert_eq!(stored, expected);
    assert_eq!(stored.head_seq, 2);
    assert_eq!(stored.status, Status::Waiting);
    assert_eq!(stored.priority, 2);
    assert_eq!(stored.customer.name.as_deref(), Some("Ada"));
    assert_eq!(
        store.conversation_by_token(&token).await.unwrap(),
        Some(expected.id)
    );
    assert_eq!(
        store.conversation_by_token("no such token").await.unwrap(),
        None
    );
    assert_eq!(
        store.conversation(ConversationId::new()).await.unwrap(),
        None
    );

    let log = store.events_after(expected.id, 0, 100).await.unwrap();
    let got: Vec<_> = log.iter().map(|e| (e.seq, e.at, e.event.clone())).collect();
    assert_eq!(got, first_events);
    assert!(matches!(log[0].event, ConversationEvent::Started { .. }));
    assert!(matches!(log[1].event, ConversationEvent::Queued { .. }));

    // The next decision appends after the head and replaces the snapshot.
    let write = conversation_write(
        &stored,
        vec![
            customer_message("Hello?"),
            customer_message("Anyone there?"),
        ],
        at(11_000),
    );
    let after = (*write.state).clone();
    let mut commit = commit_at(at(11_000));
    commit.conversation = Some(write);
    store.commit(&mut commit).await.expect("second commit");
    assert_eq!(conversation(&store, expected.id).await, after);
    let log = store.events_after(expected.id, 0, 100).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(log[2].at, at(11_000));
    assert_eq!(log[3].event, customer_message("Anyone there?"));
}

pub async fn events_after_pages_in_order(store: Store, _url: String) {
    let queue = QueueId::new();
    let c = start(&store, queue, 0, at(1_000)).await;
    let other = start(&store, queue, 0, at(1_000)).await;
    // Eight single-message commits on `c`, interleaved with the other conversation's.
    let mut head = c.clone();
    let mut other_head = other.clone();
    for i in 0..8 {
        let now = at(2_000 + i);
        let write = conversation_write(&head, vec![customer_message(&format!("m{i}"))], now);
        head = (*write.state).clone();
        let mut commit = commit_at(now);
        commit.conversation = Some(write);
        store.commit(&mut commit).await.unwrap();
        let write = conversation_write(&other_head, vec![customer_message("x")], now);
        other_head = (*write.state).clone();
        let mut commit = commit_at(now);
        commit.conversation = Some(write);
        store.commit(&mut commit).await.unwrap();
    }
    assert_eq!(head.head_seq, 10);

    let all = store.events_after(c.id, 0, 1_000).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    for (i, e) in all[2..].iter().enumerate() {
        assert_eq!(e.event, customer_message(&format!("m{i}")));
        assert_eq!(e.at, at(2_000 + i as i64));
    }
    // After a cursor, at most `limit`.
    let page = store.events_after(c.id, 4, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert_eq!(page[0].event, customer_message("m2"));
    // Paging through with the last seq as the cursor gets everything once.
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = store.events_after(c.id, cursor, 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        cursor = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|e| e.seq));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    assert!(store.events_after(c.id, 10, 10).await.unwrap().is_empty());
    assert!(store.events_after(c.id, 0, 0).await.unwrap().is_empty());
    assert!(store
        .events_after(ConversationId::new(), 0, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn stale_head_seq_conflicts_and_writes_nothing(store: Store, _url: String) {
    let c = start(&store, QueueId::new(), 0, at(1_000)).await;
    // Two decisions made from the same snapshot (head 2): the first to commit wins.
    let mut winner = commit_at(at(2_000));
    winner.conversation = Some(conversation_write(
        &c,
        vec![customer_message("first")],
        at(2_000),
    ));
    let won = (*winner.conversation.as_ref().unwrap().state).clone();
    let mut loser = commit_at(at(2_001));
    loser.conversation = Some(conversation_write(
        &c,
        vec![customer_message("second"), customer_message("third")],
        at(2_001),
    ));
    loser.command = Some(command("customer:x", "c-1", "fp", "ack"));
    store.commit(&mut winner).await.expect("winner");
    let err = store.commit(&mut loser).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");

    // Nothing of the loser: not its events, not its snapshot, not its command record.
    assert_eq!(conversation(&store, c.id).await, won);
    let log = store.events_after(c.id, 0, 100).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].event, customer_message("first"));
    assert_eq!(store.command("customer:x", "c-1").await.unwrap(), None);

    // A stale head whose event numbers do not collide is refused all the same: the snapshot
    // guard, not only the log's key, settles it.
    let mut write = conversation_write(&c, vec![customer_message("late")], at(3_000));
    write.expected_head = Some(2);
    Arc::make_mut(&mut write.state).head_seq = 4;
    write.events[0].0 = 4;
    let mut commit = commit_at(at(3_000));
    commit.conversation = Some(write);
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(store.events_after(c.id, 0, 100).await.unwrap().len(), 3);
    assert_eq!(conversation(&store, c.id).await.head_seq, 3);

    // A write to a conversation that does not exist is a conflict too.
    let ghost = start_write(QueueId::new(), 0, at(1_000)).state;
    let mut commit = commit_at(at(3_000));
    commit.conversation = Some(conversation_write(
        &ghost,
        vec![customer_message("?")],
        at(3_000),
    ));
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(store.conversation(ghost.id).await.unwrap(), None);
    assert!(store
        .events_after(ghost.id, 0, 10)
        .await
        .unwrap()
        .is_empty());

    // The loser reloads, decides again, and commits.
    let fresh = conversation(&store, c.id).await;
    let mut retry = commit_at(at(4_000));
    retry.conversation = Some(conversation_write(
        &fresh,
        vec![customer_message("second")],
        at(4_000),
    ));
    store.commit(&mut retry).await.expect("retry");
    assert_eq!(conversation(&store, c.id).await.head_seq, 4);
}

pub async fn new_conversation_with_a_taken_id_conflicts(store: Store, _url: String) {
    let write = start_write(QueueId::new(), 0, at(1_000));
    let mut twin = start_write(QueueId::new(), 5, at(2_000));
    Arc::make_mut(&mut twin.state).id = write.state.id;
    let expected = (*write.state).clone();
    let mut commit = commit_at(at(1_000));
    commit.conversation = Some(write);
    store.commit(&mut commit).await.unwrap();
    let mut commit = commit_at(at(2_000));
    commit.conversation = Some(twin);
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(conversation(&store, expected.id).await, expected);
    assert_eq!(
        store.events_after(expected.id, 0, 10).await.unwrap().len(),
        2
    );
}

pub async fn stale_agent_version_conflicts_and_writes_nothing(store: Store, _url: String) {
    let queue = QueueId::new();
    let ann = available_agent(&store, "Ann", 3, at(1_000)).await;
    let c = start(&store, queue, 0, at(2_000)).await;

    // The router decides to offer `c` to Ann from what it read...
    let seen = agent_row(&store, ann).await;
    let mut states = std::collections::BTreeMap::new();
    states.insert(ann, seen.state.clone());
    let decision = switchboard_core::decide::decide(
        &c,
        &states,
        &ConversationCommand::Offer { agent: ann },
        at(3_000),
        &policy(),
    )
    .expect("offer decided");
    let conv = conversation_write(&c, decision.conversation.clone(), at(3_000));
    let mut offered = seen.clone();
    for e in &decision.conversation {
        offered.state.apply_conversation(c.id, e, at(3_000));
    }
    let agent = agent_write(&offered, vec![], at(3_000));
    assert_eq!(agent.expected_version, seen.version);

    // ...but meanwhile Ann went Idle (on another node).
    let idle = agent_do(
        &store,
        ann,
        AgentCommand::SetPresence(Presence::Idle {
            code_id: Some(switchboard_core::IdleCodeId::new()),
            code_name: Some("Lunch".into()),
        }),
        at(2_500),
    )
    .await;
    assert_eq!(idle.version, seen.version + 1);

    let mut commit = commit_at(at(3_000));
    commit.conversation = Some(conv);
    commit.agents.push(agent);
    commit.command = Some(command("system", "offer-1", "fp", "ok"));
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");

    // Nothing was written: not the offer on the conversation (snapshot or log), not the
    // agent, not the command record.
    assert_eq!(conversation(&store, c.id).await, c);
    assert_eq!(store.events_after(c.id, 0, 100).await.unwrap().len(), 2);
    let now = agent_row(&store, ann).await;
    assert_eq!(now.version, idle.version);
    assert_eq!(now.state, idle.state);
    assert!(now.state.offer.is_none());
    assert_eq!(store.command("system", "offer-1").await.unwrap(), None);
    assert_eq!(
        store.waiting_in(queue, 10).await.unwrap(),
        vec![c.id],
        "still waiting"
    );
}

/// The conversation is written after the agents: its conflict must undo theirs.
pub async fn conversation_conflict_rolls_back_the_agents_too(store: Store, _url: String) {
    let queue = QueueId::new();
    let ann = available_agent(&store, "Ann", 3, at(1_000)).await;
    let bob = available_agent(&store, "Bob", 3, at(1_000)).await;
    let c = start(&store, queue, 0, at(2_000)).await;
    let ann_before = agent_row(&store, ann).await;
    let bob_before = agent_row(&store, bob).await;
    let ann_events_before = store.agent_events_after(ann, 0).await.unwrap();

    // Offer to Ann, decided on a snapshot that is stale by the time it commits (the
    // customer wrote meanwhile). Bob's snapshot is current and gets an event of his own.
    let decision_conv = vec![ConversationEvent::Offered {
        agent_id: ann,
        agent_name: "Ann".into(),
        deadline: at(33_000),
        transfer: false,
    }];
    let conv = conversation_write(&c, decision_conv.clone(), at(3_000));
    let mut ann_after = ann_before.clone();
    for e in &decision_conv {
        ann_after.state.apply_conversation(c.id, e, at(3_000));
    }
    let ann_write = agent_write(
        &ann_after,
        vec![AgentEvent::CapacityChanged { capacity: 4 }],
        at(3_000),
    );
    let bob_write = agent_write(
        &bob_before,
        vec![AgentEvent::CapacityChanged { capacity: 5 }],
        at(3_000),
    );

    let mut meanwhile = commit_at(at(2_500));
    meanwhile.conversation = Some(conversation_write(
        &c,
        vec![customer_message("hi")],
        at(2_500),
    ));
    store.commit(&mut meanwhile).await.unwrap();

    let mut commit = commit_at(at(3_000));
    commit.agents = vec![bob_write, ann_write];
    commit.conversation = Some(conv);
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");

    for (id, before) in [(ann, &ann_before), (bob, &bob_before)] {
        let now = agent_row(&store, id).await;
        assert_eq!(now.version, before.version, "agent row untouched");
        assert_eq!(now.state, before.state, "agent snapshot untouched");
    }
    assert!(agent_row(&store, ann).await.state.offer.is_none());
    assert_eq!(
        store.agent_events_after(ann, 0).await.unwrap(),
        ann_events_before
    );
    assert_eq!(
        store
            .agent_events_after(bob, bob_before.state.log_seq)
            .await
            .unwrap(),
        vec![]
    );
    let log = store.events_after(c.id, 0, 100).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].event, customer_message("hi"));
}

pub async fn agent_snapshot_and_log_round_trip(store: Store, _url: String) {
    let ann = new_account(&store, "Ann", 3, at(1_000)).await;
    let row = agent_row(&store, ann).await;
    assert_eq!(row.version, 0);
    assert!(store.agent_events_after(ann, 0).await.unwrap().is_empty());

    let signed_in = agent_do(&store, ann, AgentCommand::SignIn, at(2_000)).await;
    assert_eq!(signed_in.version, 1);
    let connected = agent_do(
        &store,
        ann,
        AgentCommand::Connect {
            connection_id: "desk-1".into(),
        },
        at(3_000),
    )
    .await;
    assert_eq!(connected.version, 2);
    assert!(connected.state.is_connected());
    let available = agent_do(
        &store,
        ann,
        AgentCommand::SetPresence(Presence::Available),
        at(4_000),
    )
    .await;
    assert_eq!(available.version, 3);
    assert_eq!(available.state.presence, Presence::Available);
    assert_eq!(available.state.free_since, at(4_000));
    assert_eq!(available.state.log_seq, 3);

    let log = store.agent_events_after(ann, 0).await.unwrap();
    assert_eq!(log.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(log[1].1, at(3_000));
    assert_eq!(
        log[1].2,
        AgentEvent::Connected {
            connection_id: "desk-1".into()
        }
    );
    let tail = store.agent_events_after(ann, 2).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert!(matches!(
        tail[0].2,
        AgentEvent::PresenceChanged {
            presence: Presence::Available,
            ..
        }
    ));

    // Folding the stored log over the first snapshot gives the stored snapshot.
    let mut folded = switchboard_core::Agent::new(ann, "Ann".into(), 3, at(1_000));
    for (_, at, event) in &log {
        folded.apply(event, *at);
    }
    assert_eq!(folded, available.state);

    // A conversation event changes the agent's snapshot (and version) without an agent event.
    let c = start(&store, QueueId::new(), 0, at(5_000)).await;
    offer_and_accept(&store, c.id, ann, at(6_000)).await;
    let busy = agent_row(&store, ann).await;
    assert_eq!(busy.version, 5);
    assert!(busy.state.chats.contains(&c.id));
    assert_eq!(busy.state.load(), 1);
    assert_eq!(store.agent_events_after(ann, 0).await.unwrap().len(), 3);
    let c = conversation(&store, c.id).await;
    assert_eq!(c.status, Status::Active { owner: ann });
    assert_eq!(c.head_seq, 4);
}

pub async fn command_id_is_recorded_once_per_scope(store: Store, _url: String) {
    let c = start(&store, QueueId::new(), 0, at(1_000)).await;
    let scope = format!("customer:{}", c.id);

    let mut first = commit_at(at(2_000));
    first.conversation = Some(conversation_write(
        &c,
        vec![customer_message("hello")],
        at(2_000),
    ));
    first.command = Some(command(&scope, "msg-1", "fp-hello", r#"{"seq":3}"#));
    store.commit(&mut first).await.expect("first");
    assert_eq!(
        store.command(&scope, "msg-1").await.unwrap(),
        Some(("fp-hello".to_string(), r#"{"seq":3}"#.to_string()))
    );

    // The retry (decided afresh on the current head) is refused whole: the message is not
    // appended twice, and the first answer stays.
    let now = conversation(&store, c.id).await;
    let mut retry = commit_at(at(3_000));
    retry.conversation = Some(conversation_write(
        &now,
        vec![customer_message("hello")],
        at(3_000),
    ));
    retry.command = Some(command(&scope, "msg-1", "fp-other", r#"{"seq":4}"#));
    let err = store.commit(&mut retry).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(
        store.command(&scope, "msg-1").await.unwrap(),
        Some(("fp-hello".to_string(), r#"{"seq":3}"#.to_string()))
    );
    assert_eq!(store.events_after(c.id, 0, 100).await.unwrap().len(), 3);
    assert_eq!(conversation(&store, c.id).await.head_seq, 3);

    // The same client id in another scope is another command.
    let mut other = commit_at(at(4_000));
    other.conversation = Some(conversation_write(
        &now,
        vec![customer_message("hi")],
        at(4_000),
    ));
    other.command = Some(command("agent:someone", "msg-1", "fp-2", "ok"));
    store.commit(&mut other).await.expect("another scope");
    assert_eq!(
        store.command("agent:someone", "msg-1").await.unwrap(),
        Some(("fp-2".to_string(), "ok".to_string()))
    );
    assert_eq!(store.command(&scope, "msg-2").await.unwrap(), None);

    // A command that writes nothing else is recorded alone.
    let mut alone = commit_at(at(5_000));
    alone.command = Some(command(&scope, "noop-1", "fp-noop", "nothing to do"));
    store.commit(&mut alone).await.unwrap();
    assert_eq!(
        store.command(&scope, "noop-1").await.unwrap(),
        Some(("fp-noop".to_string(), "nothing to do".to_string()))
    );
    let mut again = commit_at(at(5_001));
    again.command = Some(command(&scope, "noop-1", "fp-noop", "nothing to do"));
    let err = store.commit(&mut again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
}

/// A message's id is kept on its event, any other command's in `commands`: the two are one
/// space of ids per scope. An id taken in either is refused by the other, the refused write
/// leaves nothing, and pruning forgets old command ids but not a message's.
pub async fn message_ids_and_other_command_ids_are_one_space(store: Store, _url: String) {
    let c = start(&store, QueueId::new(), 0, at(1_000)).await;
    let scope = format!("customer:{}", c.id);

    let mut message = commit_at(at(2_000));
    message.conversation = Some(conversation_write(
        &c,
        vec![customer_message("hi")],
        at(2_000),
    ));
    message.command = Some(command(&scope, "m-1", "fp-m", r#"{"seq":3}"#));
    store.commit(&mut message).await.expect("a message");
    let message_answer = Some(("fp-m".to_string(), r#"{"seq":3}"#.to_string()));
    assert_eq!(store.command(&scope, "m-1").await.unwrap(), message_answer);

    // Another command under the message's id.
    let mut other = commit_at(at(3_000));
    other.command = Some(command(&scope, "m-1", "fp-other", "other"));
    let err = store.commit(&mut other).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(store.command(&scope, "m-1").await.unwrap(), message_answer);

    // A message under another command's id: refused whole, the log as it was.
    let mut no_op = commit_at(at(4_000));
    no_op.command = Some(command(&scope, "n-1", "fp-n", "done"));
    store.commit(&mut no_op).await.expect("a no-op");
    let now = conversation(&store, c.id).await;
    assert_eq!(now.head_seq, 3);
    let mut late = commit_at(at(5_000));
    late.conversation = Some(conversation_write(
        &now,
        vec![customer_message("again")],
        at(5_000),
    ));
    late.command = Some(command(&scope, "n-1", "fp-late", r#"{"seq":4}"#));
    let err = store.commit(&mut late).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(store.events_after(c.id, 0, 100).await.unwrap().len(), 3);
    assert_eq!(conversation(&store, c.id).await.head_seq, 3);
    assert_eq!(
        store.command(&scope, "n-1").await.unwrap(),
        Some(("fp-n".to_string(), "done".to_string()))
    );

    // The same message with an unused id goes in, at the head it was decided on.
    late.command = Some(command(&scope, "m-2", "fp-late", r#"{"seq":4}"#));
    store.commit(&mut late).await.expect("a fresh id");
    assert_eq!(conversation(&store, c.id).await.head_seq, 4);

    // Pruning forgets the other command's id; the messages keep theirs.
    store.prune(at(1_000_000), at(1_000_000)).await.unwrap();
    assert_eq!(store.command(&scope, "n-1").await.unwrap(), None);
    assert_eq!(store.command(&scope, "m-1").await.unwrap(), message_answer);
    assert!(store.command(&scope, "m-2").await.unwrap().is_some());
}

/// A message only extends the log: its commit does not rewrite the conversation's row, yet
/// every read (also one that bypasses SQLite's snapshot cache) has the log's head, and a
/// decision made before the message can no longer commit, with events or without.
pub async fn messages_extend_the_log_and_reads_follow_its_head(store: Store, url: String) {
    let c = start(&store, QueueId::new(), 0, at(1_000)).await;
    let mut head = c.clone();
    for i in 0..3 {
        let now = at(2_000 + i);
        let write = conversation_write(&head, vec![customer_message(&format!("m{i}"))], now);
        head = (*write.state).clone();
        let mut commit = commit_at(now);
        commit.conversation = Some(write);
        store.commit(&mut commit).await.expect("message");
    }
    assert_eq!(head.head_seq, 5);
    // A new handle on the same database reads the row, not this handle's cache.
    let other = Store::open(&url).await.expect("a second handle");
    assert_eq!(conversation(&store, c.id).await, head);
    assert_eq!(conversation(&other, c.id).await, head);
    other.close().await;

    // A change decided before the messages (on head 2) loses: the log has grown.
    let stale = conversation_write(&c, vec![ConversationEvent::Ended], at(3_000));
    let mut commit = commit_at(at(3_000));
    commit.conversation = Some(stale);
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    // So does a write of the snapshot alone (a deadline refreshed), made on that old head.
    let mut refresh = conversation_write(&c, vec![], at(3_000));
    refresh.deadline = Some(at(99_000));
    let mut commit = commit_at(at(3_000));
    commit.conversation = Some(refresh);
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(store.events_after(c.id, 0, 100).await.unwrap().len(), 5);

    // Decided on the log's head, the change commits and rewrites the row.
    let write = conversation_write(&head, vec![ConversationEvent::Ended], at(4_000));
    let ended = (*write.state).clone();
    let mut commit = commit_at(at(4_000));
    commit.conversation = Some(write);
    store.commit(&mut commit).await.expect("end on the head");
    assert_eq!(ended.head_seq, 6);
    assert_eq!(ended.status, Status::Ended);
    let other = Store::open(&url).await.expect("a second handle");
    assert_eq!(conversation(&store, c.id).await, ended);
    assert_eq!(conversation(&other, c.id).await, ended);
    other.close().await;
}

/// A customer's token opens its conversation once the conversation is committed, from this
/// handle (which remembers it on SQLite) and from another on the same database; a start
/// that did not commit leaves its token opening nothing.
pub async fn a_token_opens_its_conversation_once_committed(store: Store, url: String) {
    let queue = QueueId::new();
    let write = start_write(queue, 0, at(1_000));
    let id = write.state.id;
    let token = write.token_hash.clone().unwrap();
    let mut commit = commit_at(at(1_000));
    commit.conversation = Some(write);
    commit.command = Some(command("customer:x", "start-1", "fp", "ok"));
    store.commit(&mut commit).await.expect("a new conversation");
    assert_eq!(store.conversation_by_token(&token).await.unwrap(), Some(id));
    assert_eq!(store.conversation_by_token(&token).await.unwrap(), Some(id));

    // A second start under the same command id loses: nothing of it is written or kept.
    let lost = start_write(queue, 0, at(2_000));
    let lost_token = lost.token_hash.clone().unwrap();
    let mut commit = commit_at(at(2_000));
    commit.conversation = Some(lost);
    commit.command = Some(command("customer:x", "start-1", "fp", "ok"));
    let err = store.commit(&mut commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "got {err:?}");
    assert_eq!(
        store.conversation_by_token(&lost_token).await.unwrap(),
        None
    );

    let other = Store::open(&url).await.expect("a second handle");
    assert_eq!(other.conversation_by_token(&token).await.unwrap(), Some(id));
    assert_eq!(
        other.conversation_by_token(&lost_token).await.unwrap(),
        None
    );
    other.close().await;
}
