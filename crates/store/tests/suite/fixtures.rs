//! Building state the way the engine does: decide with the core, fold the events into the
//! snapshots, commit the events with the snapshots guarded by the versions they came from.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchboard_core::config::{Account, Role};
use switchboard_core::decide::{self, AgentCommand, ConversationCommand};
use switchboard_core::{
    AgentEvent, AgentId, AssetId, Conversation, ConversationEvent, ConversationId, CustomerInfo,
    Policy, QueueId, Sender, Timestamp,
};
use switchboard_store::{
    AgentRow, AgentWrite, CommandRecord, Commit, ConversationWrite, Store, StoreError,
};

pub fn at(ms: i64) -> Timestamp {
    Timestamp(ms)
}

pub fn policy() -> Policy {
    Policy::default()
}

/// A commit of nothing yet, at `now`.
pub fn commit_at(now: Timestamp) -> Commit {
    Commit {
        now,
        conversation: None,
        agents: Vec::new(),
        command: None,
        connection: None,
    }
}

pub fn command(scope: &str, client_id: &str, fingerprint: &str, response: &str) -> CommandRecord {
    CommandRecord {
        scope: scope.to_string(),
        client_id: client_id.to_string(),
        fingerprint: fingerprint.to_string(),
        response: response.to_string(),
    }
}

// ---- agents ----

/// Creates an account (its agent logged out, version 0).
pub async fn new_account(store: &Store, name: &str, capacity: u32, now: Timestamp) -> AgentId {
    let id = AgentId::new();
    let account = Account {
        id,
        email: format!(
            "{}-{}@example.com",
            name.to_lowercase(),
            id.as_uuid().simple()
        ),
        name: name.to_string(),
        role: Role::Agent,
        capacity,
    };
    store
        .create_account(&account, "hash", now)
        .await
        .expect("create account");
    id
}

pub async fn agent_row(store: &Store, id: AgentId) -> AgentRow {
    store
        .agent(id)
        .await
        .expect("read agent")
        .expect("agent exists")
}

/// The agent's own events folded into its snapshot, numbered after its log, as a write
/// guarded by the version `row` was read at.
pub fn agent_write(row: &AgentRow, events: Vec<AgentEvent>, now: Timestamp) -> AgentWrite {
    let mut state = row.state.clone();
    let mut numbered = Vec::new();
    for event in events {
        state.apply(&event, now);
        numbered.push((state.log_seq, now, event));
    }
    let deadline = decide::agent_next_deadline(&state, &policy());
    AgentWrite {
        expected_version: row.version,
        state,
        events: numbered,
        deadline,
        serving: None,
    }
}

/// Decides an agent command on `row` and returns the write it leads to.
pub fn agent_decision(row: &AgentRow, cmd: &AgentCommand, now: Timestamp) -> AgentWrite {
    let events = decide::decide_agent(&row.state, cmd, now, &policy())
        .unwrap_or_else(|e| panic!("deciding {cmd:?}: {e:?}"));
    agent_write(row, events, now)
}

/// Reads the agent, decides `cmd` and commits it; returns the agent as stored after.
pub async fn agent_do(store: &Store, id: AgentId, cmd: AgentCommand, now: Timestamp) -> AgentRow {
    let row = agent_row(store, id).await;
    let mut commit = commit_at(now);
    commit.agents.push(agent_decision(&row, &cmd, now));
    store
        .commit(&mut commit)
        .await
        .unwrap_or_else(|e| panic!("committing {cmd:?}: {e}"));
    agent_row(store, id).await
}

/// Signs an agent in at `now`, connects its desktop (if `connected`) and makes it Available:
/// it has been free since `now`.
pub async fn make_available(store: &Store, id: AgentId, connected: bool, now: Timestamp) {
    agent_do(store, id, AgentCommand::SignIn, now).await;
    if connected {
        let connection_id = format!("desk-{id}");
        agent_do(store, id, AgentCommand::Connect { connection_id }, now).await;
    }
    agent_do(
        store,
        id,
        AgentCommand::SetPresence(switchboard_core::Presence::Available),
        now,
    )
    .await;
}

/// A new account, signed in, connected and Available since `now`.
pub async fn available_agent(store: &Store, name: &str, capacity: u32, now: Timestamp) -> AgentId {
    let id = new_account(store, name, capacity, now).await;
    make_available(store, id, true, now).await;
    id
}

// ---- conversations ----

/// A new conversation arriving in `queue` at `now`: its first events and snapshot.
pub fn start_write(queue: QueueId, priority: i32, now: Timestamp) -> ConversationWrite {
    let id = ConversationId::new();
    let events = decide::start(
        AssetId::new(),
        "Website",
        queue,
        "Sales",
        priority,
        CustomerInfo {
            name: Some("Ada".into()),
            ..CustomerInfo::default()
        },
        BTreeMap::from([("page".to_string(), "/pricing".to_string())]),
        false,
        now,
    );
    let mut state = Conversation::started(id, &events[0], queue, now).expect("a Started event");
    for event in &events[1..] {
        state.apply(event, now);
    }
    let numbered = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| (i as u64 + 1, now, event))
        .collect();
    ConversationWrite {
        expected_head: None,
        deadline: decide::next_deadline(&state, &policy()),
        state: Arc::new(state),
        events: numbered,
        token_hash: Some(format!("token-hash-{id}")),
    }
}

/// Starts a conversation in `queue` at `now` and commits it.
pub async fn start(store: &Store, queue: QueueId, priority: i32, now: Timestamp) -> Conversation {
    let write = start_write(queue, priority, now);
    let state = (*write.state).clone();
    let mut commit = commit_at(now);
    commit.conversation = Some(write);
    store
        .commit(&mut commit)
        .await
        .expect("commit a new conversation");
    state
}

pub async fn conversation(store: &Store, id: ConversationId) -> Conversation {
    store
        .conversation(id)
        .await
        .expect("read conversation")
        .expect("conversation exists")
}

/// `events` folded into `c`, numbered after its head, as a write guarded by its head.
pub fn conversation_write(
    c: &Conversation,
    events: Vec<ConversationEvent>,
    now: Timestamp,
) -> ConversationWrite {
    let mut state = c.clone();
    let mut numbered = Vec::new();
    for event in events {
        state.apply(&event, now);
        numbered.push((state.head_seq, now, event));
    }
    ConversationWrite {
        expected_head: Some(c.head_seq),
        deadline: decide::next_deadline(&state, &policy()),
        state: Arc::new(state),
        events: numbered,
        token_hash: None,
    }
}

pub fn customer_message(text: &str) -> ConversationEvent {
    ConversationEvent::Message {
        sender: Sender::Customer,
        text: text.to_string(),
        template: None,
    }
}

/// Decides a conversation command as the engine would, from the conversation and the agents
/// it involves (`involved` plus those already in it) as stored now, and commits the events
/// with every snapshot they change. Returns the conversation after.
pub async fn conversation_do(
    store: &Store,
    id: ConversationId,
    involved: &[AgentId],
    cmd: ConversationCommand,
    now: Timestamp,
) -> Result<Conversation, StoreError> {
    conversation_do_serving(store, id, involved, cmd, now, None).await
}

/// [`conversation_do`], the commit also requiring that an agent serves a queue (as an offer's).
pub async fn conversation_do_serving(
    store: &Store,
    id: ConversationId,
    involved: &[AgentId],
    cmd: ConversationCommand,
    now: Timestamp,
    serving: Option<(AgentId, QueueId)>,
) -> Result<Conversation, StoreError> {
    let c = conversation(store, id).await;
    let mut rows = BTreeMap::new();
    for agent in c
        .loaded_agents()
        .into_iter()
        .chain(involved.iter().copied())
    {
        rows.insert(agent, agent_row(store, agent).await);
    }
    let states = rows
        .iter()
        .map(|(id, row)| (*id, row.state.clone()))
        .collect();
    let decision = decide::decide(&c, &states, &cmd, now, &policy())
        .unwrap_or_else(|e| panic!("deciding {cmd:?}: {e:?}"));
    let write = conversation_write(&c, decision.conversation.clone(), now);
    let mut commit = commit_at(now);
    for (agent, row) in &rows {
        let mut after = row.clone();
        for event in &decision.conversation {
            after.state.apply_conversation(id, event, now);
        }
        let own: Vec<AgentEvent> = decision
            .agents
            .iter()
            .filter(|(a, _)| a == agent)
            .map(|(_, e)| e.clone())
            .collect();
        let mut w = agent_write(&after, own, now);
        w.expected_version = row.version;
        w.serving = serving.filter(|(a, _)| a == agent).map(|(_, q)| q);
        if w.state != row.state {
            commit.agents.push(w);
        }
    }
    let state = (*write.state).clone();
    commit.conversation = Some(write);
    store.commit(&mut commit).await?;
    Ok(state)
}

/// Offers the conversation to the agent and has the agent accept it.
pub async fn offer_and_accept(store: &Store, c: ConversationId, agent: AgentId, now: Timestamp) {
    conversation_do(
        store,
        c,
        &[agent],
        ConversationCommand::Offer { agent },
        now,
    )
    .await
    .expect("offer");
    conversation_do(
        store,
        c,
        &[agent],
        ConversationCommand::Accept { agent },
        now,
    )
    .await
    .expect("accept");
}

/// The ids in the order their text sorts in (the order the store breaks ties by).
pub fn by_text<T: ToString + Copy>(mut ids: Vec<T>) -> Vec<T> {
    ids.sort_by_key(|id| id.to_string());
    ids
}
