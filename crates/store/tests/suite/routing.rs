//! The routing queries: the next chat to offer, the agents who may take it, a chat's place in
//! line.

use switchboard_core::config::Queue;
use switchboard_core::decide::{AgentCommand, ConversationCommand};
use switchboard_core::{
    AgentId, Conversation, ConversationId, IdleCodeId, Presence, QueueId, Status,
};
use switchboard_store::{Store, StoreError};

use super::fixtures::*;

async fn put_queue(store: &Store, name: &str, agents: Vec<AgentId>) -> QueueId {
    let queue = Queue {
        id: QueueId::new(),
        name: name.into(),
        offer_timeout_secs: 30,
        priority: 0,
        agent_ids: agents,
    };
    store.put_queue(&queue).await.unwrap();
    queue.id
}

/// Takes the conversation out of line (the customer leaves).
async fn abandon(store: &Store, id: ConversationId, now: i64) {
    conversation_do(store, id, &[], ConversationCommand::CustomerEnd, at(now))
        .await
        .expect("abandon");
}

pub async fn next_waiting_order_across_an_agents_queues(store: Store, _url: String) {
    let (one_two, three, all, nowhere) = (
        AgentId::new(),
        AgentId::new(),
        AgentId::new(),
        AgentId::new(),
    );
    let q1 = put_queue(&store, "One", vec![one_two, all]).await;
    let q2 = put_queue(&store, "Two", vec![one_two, all]).await;
    let q3 = put_queue(&store, "Three", vec![three, all]).await;
    assert_eq!(store.next_waiting_for(one_two).await.unwrap(), None);

    let low = start(&store, q1, -5, at(500)).await;
    let normal = start(&store, q1, 0, at(1_000)).await;
    let urgent_late = start(&store, q1, 5, at(3_000)).await;
    let tie_a = start(&store, q2, 5, at(2_000)).await;
    let tie_b = start(&store, q2, 5, at(2_000)).await;
    // Not in the agent's queues: never chosen for them, however urgent.
    let elsewhere = start(&store, q3, 50, at(100)).await;
    assert_eq!(store.next_waiting_for(nowhere).await.unwrap(), None);
    // Not waiting: offered, or gone.
    let ann = available_agent(&store, "Ann", 3, at(100)).await;
    let offered = start(&store, q1, 90, at(100)).await;
    conversation_do(
        &store,
        offered.id,
        &[ann],
        ConversationCommand::Offer { agent: ann },
        at(4_000),
    )
    .await
    .unwrap();
    let gone = start(&store, q2, 90, at(100)).await;
    abandon(&store, gone.id, 4_000).await;

    // Priority (highest first), then the place in line, then the id.
    let ties = by_text(vec![tie_a.id, tie_b.id]);
    let expected = vec![ties[0], ties[1], urgent_late.id, normal.id, low.id];
    let mut taken = Vec::new();
    while let Some(next) = store.next_waiting_for(one_two).await.unwrap() {
        taken.push(next);
        abandon(&store, next, 5_000).await;
        assert!(taken.len() <= expected.len(), "{taken:?}");
    }
    assert_eq!(taken, expected);
    assert_eq!(
        store.next_waiting_for(three).await.unwrap(),
        Some(elsewhere.id)
    );
    assert_eq!(
        store.next_waiting_for(all).await.unwrap(),
        Some(elsewhere.id)
    );

    // Back in line after a withdrawn offer, at its original place.
    conversation_do(
        &store,
        offered.id,
        &[ann],
        ConversationCommand::WithdrawOffer { agent: ann },
        at(6_000),
    )
    .await
    .unwrap();
    assert_eq!(
        store.next_waiting_for(one_two).await.unwrap(),
        Some(offered.id)
    );
    assert_eq!(store.next_waiting_for(all).await.unwrap(), Some(offered.id));
}

pub async fn candidate_agents_filters_and_order(store: Store, _url: String) {
    // Accounts first; queue membership below.
    let early_busy = new_account(&store, "EarlyBusy", 3, at(0)).await;
    let free_long = new_account(&store, "FreeLong", 3, at(0)).await;
    let free_short = new_account(&store, "FreeShort", 3, at(0)).await;
    let tie_1 = new_account(&store, "Tie1", 3, at(0)).await;
    let tie_2 = new_account(&store, "Tie2", 3, at(0)).await;
    let idle = new_account(&store, "Idle", 3, at(0)).await;
    let disconnected = new_account(&store, "Disconnected", 3, at(0)).await;
    let offered = new_account(&store, "Offered", 3, at(0)).await;
    let full = new_account(&store, "Full", 1, at(0)).await;
    let outsider = new_account(&store, "Outsider", 3, at(0)).await;
    let logged_out = new_account(&store, "LoggedOut", 3, at(0)).await;
    let rona = new_account(&store, "Rona", 3, at(0)).await;
    let members = vec![
        early_busy,
        free_long,
        free_short,
        tie_1,
        tie_2,
        idle,
        disconnected,
        offered,
        full,
        logged_out,
        rona,
    ];
    let queue = put_queue(&store, "Sales", members).await;
    let other = put_queue(&store, "Support", vec![outsider]).await;

    make_available(&store, early_busy, true, at(10)).await;
    make_available(&store, free_long, true, at(50)).await;
    make_available(&store, free_short, true, at(100)).await;
    make_available(&store, tie_1, true, at(200)).await;
    make_available(&store, tie_2, true, at(200)).await;
    make_available(&store, idle, true, at(20)).await;
    agent_do(
        &store,
        idle,
        AgentCommand::SetPresence(Presence::Idle {
            code_id: Some(IdleCodeId::new()),
            code_name: Some("Break".into()),
        }),
        at(30),
    )
    .await;
    make_available(&store, disconnected, false, at(20)).await;
    make_available(&store, offered, true, at(20)).await;
    make_available(&store, full, true, at(20)).await;
    make_available(&store, outsider, true, at(20)).await;
    make_available(&store, rona, true, at(20)).await;
    assert_eq!(
        store.candidate_agents(queue, 100).await.unwrap().len(),
        8,
        "before the chats: every Available, connected member"
    );

    // One chat each for EarlyBusy and Full (capacity 1: now full); an offer pending for
    // Offered; Rona lets an offer time out.
    let c1 = start(&store, queue, 0, at(300)).await;
    offer_and_accept(&store, c1.id, early_busy, at(310)).await;
    let c2 = start(&store, queue, 0, at(300)).await;
    offer_and_accept(&store, c2.id, full, at(310)).await;
    let c3 = start(&store, queue, 0, at(300)).await;
    conversation_do(
        &store,
        c3.id,
        &[offered],
        ConversationCommand::Offer { agent: offered },
        at(310),
    )
    .await
    .unwrap();
    let c4 = start(&store, queue, 0, at(300)).await;
    conversation_do(
        &store,
        c4.id,
        &[rona],
        ConversationCommand::Offer { agent: rona },
        at(310),
    )
    .await
    .unwrap();
    let deadline = match conversation(&store, c4.id).await.status {
        switchboard_core::Status::Offered { deadline, .. } => deadline,
        s => panic!("not offered: {s:?}"),
    };
    conversation_do(&store, c4.id, &[rona], ConversationCommand::Tick, deadline)
        .await
        .unwrap();
    assert_eq!(agent_row(&store, rona).await.state.presence, Presence::Rona);
    // The free-since times of the chosen agents are as set up.
    assert_eq!(agent_row(&store, early_busy).await.state.free_since, at(10));
    assert_eq!(agent_row(&store, free_long).await.state.free_since, at(50));

    // Fewest open chats first, then free longest, then the id.
    let ties = by_text(vec![tie_1, tie_2]);
    let expected = vec![free_long, free_short, ties[0], ties[1], early_busy];
    assert_eq!(store.candidate_agents(queue, 100).await.unwrap(), expected);
    assert_eq!(
        store.candidate_agents(queue, 2).await.unwrap(),
        expected[..2].to_vec()
    );
    assert_eq!(
        store.candidate_agents(other, 10).await.unwrap(),
        vec![outsider]
    );
    assert!(store
        .candidate_agents(QueueId::new(), 10)
        .await
        .unwrap()
        .is_empty());

    // Leaving the queue takes an agent out of its candidates.
    let queue_def = Queue {
        id: queue,
        name: "Sales".into(),
        offer_timeout_secs: 30,
        priority: 0,
        agent_ids: vec![free_short, early_busy],
    };
    store.put_queue(&queue_def).await.unwrap();
    assert_eq!(
        store.candidate_agents(queue, 100).await.unwrap(),
        vec![free_short, early_busy]
    );
}

/// A chat's place in its queue's line (0: next), as customers are told it.
async fn place(store: &Store, c: &Conversation) -> usize {
    store
        .queued_in(c.queue_id)
        .await
        .unwrap()
        .iter()
        .position(|id| *id == c.id)
        .expect("in line")
}

pub async fn position_in_line_and_queued_in(store: Store, _url: String) {
    let queue = QueueId::new();
    let first = start(&store, queue, 0, at(1_000)).await;
    let tie_a = start(&store, queue, 0, at(2_000)).await;
    let tie_b = start(&store, queue, 0, at(2_000)).await;
    let urgent = start(&store, queue, 5, at(3_000)).await;
    let last = start(&store, queue, -1, at(100)).await;
    // Not counted: another queue's chat, a chat that has left the line.
    start(&store, QueueId::new(), 99, at(10)).await;
    let gone = start(&store, queue, 99, at(10)).await;
    conversation_do(
        &store,
        gone.id,
        &[],
        ConversationCommand::CustomerEnd,
        at(3_500),
    )
    .await
    .unwrap();

    let ties = by_text(
        vec![tie_a.clone(), tie_b.clone()]
            .into_iter()
            .map(|c| c.id)
            .collect(),
    );
    let tie = |i: usize| if tie_a.id == ties[i] { &tie_a } else { &tie_b };
    assert_eq!(place(&store, &urgent).await, 0);
    assert_eq!(place(&store, &first).await, 1);
    assert_eq!(place(&store, tie(0)).await, 2);
    assert_eq!(place(&store, tie(1)).await, 3);
    assert_eq!(place(&store, &last).await, 4);
    assert_eq!(
        store.queued_in(queue).await.unwrap(),
        vec![urgent.id, first.id, ties[0], ties[1], last.id]
    );

    // An offered chat is still in line (ahead of those behind it) until it is accepted.
    let ann = available_agent(&store, "Ann", 3, at(0)).await;
    conversation_do(
        &store,
        urgent.id,
        &[ann],
        ConversationCommand::Offer { agent: ann },
        at(4_000),
    )
    .await
    .unwrap();
    assert_eq!(place(&store, &first).await, 1);
    assert_eq!(store.queued_in(queue).await.unwrap().len(), 5);
    conversation_do(
        &store,
        urgent.id,
        &[ann],
        ConversationCommand::Accept { agent: ann },
        at(4_100),
    )
    .await
    .unwrap();
    assert_eq!(place(&store, &first).await, 0);
    assert_eq!(place(&store, &last).await, 3);
    assert_eq!(
        store.queued_in(queue).await.unwrap(),
        vec![first.id, ties[0], ties[1], last.id]
    );
}

/// An offer's commit goes through only while the agent serves the chat's queue: routing reads
/// the queue's agents before it decides, and an administrator may take the agent out of the
/// queue meanwhile (membership is not in the agent's snapshot, so its version cannot tell).
pub async fn an_offer_needs_the_agent_in_the_queue_when_it_commits(store: Store, _url: String) {
    let ann = available_agent(&store, "Ann", 3, at(0)).await;
    let queue = put_queue(&store, "Sales", vec![ann]).await;
    let chat = start(&store, queue, 0, at(1_000)).await.id;
    let members = |agent_ids| Queue {
        id: queue,
        name: "Sales".into(),
        offer_timeout_secs: 30,
        priority: 0,
        agent_ids,
    };
    let offer = || ConversationCommand::Offer { agent: ann };

    // Taken out of the queue after the offer was decided: nothing is written.
    store.put_queue(&members(vec![])).await.unwrap();
    let before = agent_row(&store, ann).await;
    let refused =
        conversation_do_serving(&store, chat, &[ann], offer(), at(2_000), Some((ann, queue))).await;
    assert!(matches!(refused, Err(StoreError::Conflict)));
    assert_eq!(agent_row(&store, ann).await.version, before.version);
    assert!(agent_row(&store, ann).await.state.offer.is_none());
    assert_eq!(conversation(&store, chat).await.status, Status::Waiting);

    // Back in the queue: the same offer goes through.
    store.put_queue(&members(vec![ann])).await.unwrap();
    let offered =
        conversation_do_serving(&store, chat, &[ann], offer(), at(3_000), Some((ann, queue)))
            .await
            .unwrap();
    assert!(matches!(offered.status, Status::Offered { agent_id, .. } if agent_id == ann));
    assert!(agent_row(&store, ann).await.state.offer.is_some());
}
