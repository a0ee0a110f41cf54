//! Races settled by the store: many writers deciding from the same snapshot at the same time,
//! each on its own task (on PostgreSQL, its own connection): exactly one wins, the others get
//! `Conflict` and write nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use switchboard_core::decide::{AgentCommand, ConversationCommand};
use switchboard_core::{AgentEvent, QueueId};
use switchboard_store::{Commit, Store, StoreError};
use tokio::sync::Barrier;

use super::fixtures::*;

const RACERS: usize = 20;

/// Commits every commit at once (each on its own task, released together); returns the
/// indexes of those that won. Every loser must have failed with `Conflict`.
async fn race(store: &Store, commits: Vec<Commit>) -> Vec<usize> {
    let barrier = Arc::new(Barrier::new(commits.len()));
    let tasks: Vec<_> = commits
        .into_iter()
        .enumerate()
        .map(|(i, mut commit)| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                (i, store.commit(&mut commit).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, outcome) = task.await.expect("racer");
        match outcome {
            Ok(()) => winners.push(i),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("racer {i} failed with {e:?}, not Conflict"),
        }
    }
    winners
}

pub async fn concurrent_commits_on_one_agent_version_have_one_winner(store: Store, _url: String) {
    let ann = new_account(&store, "Ann", 3, at(0)).await;
    agent_do(&store, ann, AgentCommand::SignIn, at(1_000)).await;
    for round in 0..3 {
        let seen = agent_row(&store, ann).await;
        let events_before = store.agent_events_after(ann, 0).await.unwrap().len();
        // Twenty desktops connect at once, each decided from the same snapshot.
        let commits = (0..RACERS)
            .map(|i| {
                let mut commit = commit_at(at(2_000 + round));
                commit.agents.push(agent_decision(
                    &seen,
                    &AgentCommand::Connect {
                        connection_id: format!("desk-{round}-{i}"),
                    },
                    at(2_000 + round),
                ));
                commit.command = Some(command(
                    &format!("agent:{ann}"),
                    &format!("c-{round}-{i}"),
                    "fp",
                    "ok",
                ));
                commit
            })
            .collect();
        let winners = race(&store, commits).await;
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];

        let now = agent_row(&store, ann).await;
        assert_eq!(now.version, seen.version + 1, "one write");
        let mut expected = seen.state.connections.clone();
        expected.insert(format!("desk-{round}-{winner}"));
        assert_eq!(now.state.connections, expected);
        let log = store.agent_events_after(ann, 0).await.unwrap();
        assert_eq!(log.len(), events_before + 1, "one event");
        assert_eq!(
            log.last().unwrap().2,
            AgentEvent::Connected {
                connection_id: format!("desk-{round}-{winner}")
            }
        );
        let recorded: Vec<usize> = {
            let mut v = Vec::new();
            for i in 0..RACERS {
                if store
                    .command(&format!("agent:{ann}"), &format!("c-{round}-{i}"))
                    .await
                    .unwrap()
                    .is_some()
                {
                    v.push(i);
                }
            }
            v
        };
        assert_eq!(
            recorded,
            vec![winner],
            "only the winner's command is recorded"
        );
    }
}

pub async fn concurrent_commits_on_one_conversation_head_have_one_winner(
    store: Store,
    _url: String,
) {
    let c = start(&store, QueueId::new(), 0, at(1_000)).await;
    let commits = (0..RACERS)
        .map(|i| {
            let mut commit = commit_at(at(2_000));
            commit.conversation = Some(conversation_write(
                &c,
                vec![customer_message(&format!("message {i}"))],
                at(2_000),
            ));
            commit
        })
        .collect();
    let winners = race(&store, commits).await;
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let log = store.events_after(c.id, 0, 100).await.unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(
        log[2].event,
        customer_message(&format!("message {}", winners[0]))
    );
    assert_eq!(conversation(&store, c.id).await.head_seq, 3);
}

pub async fn concurrent_commits_with_one_command_id_have_one_winner(store: Store, _url: String) {
    // The same command (one client id) retried over twenty connections, each time touching a
    // different conversation: only one may take effect.
    let queue = QueueId::new();
    let mut chats = Vec::new();
    for i in 0..RACERS {
        chats.push(start(&store, queue, 0, at(1_000 + i as i64)).await);
    }
    let commits = chats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut commit = commit_at(at(2_000));
            commit.conversation = Some(conversation_write(
                c,
                vec![customer_message("hi")],
                at(2_000),
            ));
            commit.command = Some(command("customer:x", "send-1", &format!("fp-{i}"), "ok"));
            commit
        })
        .collect();
    let winners = race(&store, commits).await;
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let winner = winners[0];
    assert_eq!(
        store.command("customer:x", "send-1").await.unwrap(),
        Some((format!("fp-{winner}"), "ok".to_string()))
    );
    let mut written = BTreeSet::new();
    for (i, c) in chats.iter().enumerate() {
        let n = store.events_after(c.id, 0, 100).await.unwrap().len();
        assert!(n == 2 || n == 3);
        if n == 3 {
            written.insert(i);
        }
        assert_eq!(conversation(&store, c.id).await.head_seq, n as u64);
    }
    assert_eq!(written, BTreeSet::from([winner]));
}

/// Twenty routers offer twenty different chats to the same agent at once. No agent event is
/// written (offers are conversation events), so only the agent's version guard stands
/// between them: one offer, never several ("an agent has at most one offer pending").
pub async fn concurrent_offers_to_one_agent_have_one_winner(store: Store, _url: String) {
    let queue = QueueId::new();
    let ann = available_agent(&store, "Ann", 20, at(0)).await;
    let mut chats = Vec::new();
    for i in 0..RACERS {
        chats.push(start(&store, queue, 0, at(1_000 + i as i64)).await);
    }
    let seen = agent_row(&store, ann).await;
    let states = std::collections::BTreeMap::from([(ann, seen.state.clone())]);
    let commits = chats
        .iter()
        .map(|c| {
            let now = at(5_000);
            let decision = switchboard_core::decide::decide(
                c,
                &states,
                &ConversationCommand::Offer { agent: ann },
                now,
                &policy(),
            )
            .expect("offer decided");
            let mut offered = seen.clone();
            for e in &decision.conversation {
                offered.state.apply_conversation(c.id, e, now);
            }
            let mut commit = commit_at(now);
            commit.agents.push(agent_write(&offered, vec![], now));
            commit.conversation = Some(conversation_write(c, decision.conversation, now));
            commit
        })
        .collect();
    let winners = race(&store, commits).await;
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let winner = chats[winners[0]].id;

    let now = agent_row(&store, ann).await;
    assert_eq!(now.version, seen.version + 1);
    assert_eq!(
        now.state.offer.as_ref().map(|o| o.conversation_id),
        Some(winner)
    );
    assert_eq!(now.state.load(), 1);
    for c in &chats {
        let stored = conversation(&store, c.id).await;
        if c.id == winner {
            assert_eq!(stored.offered_to(), Some(ann));
            assert_eq!(stored.head_seq, 3);
        } else {
            assert!(stored.is_waiting(), "{:?}", stored.status);
            assert_eq!(store.events_after(c.id, 0, 10).await.unwrap().len(), 2);
        }
    }
    assert!(store.candidate_agents(queue, 10).await.unwrap().is_empty());
}
