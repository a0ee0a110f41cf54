//! A test-only, in-memory stand-in for the engine: it holds agents and conversations, a
//! simulated clock, and applies decisions exactly the way the engine does (conversation events
//! to the conversation with `Conversation::apply` and to every agent with
//! `Agent::apply_conversation`; agent events with `Agent::apply`). Shared by the property tests
//! (`invariants.rs`) and the rule tests (`rules.rs`).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::decide::{self, AgentCommand, ConversationCommand, Decision};
use switchboard_core::routing;
use switchboard_core::*;
use uuid::Uuid;

/// The simulated clock starts here (2023-11-14T22:13:20Z).
pub const T0: Timestamp = Timestamp(1_700_000_000_000);

/// One entry in the world's global log, in the order the engine applied it.
#[derive(Clone, Debug, PartialEq)]
pub enum Logged {
    Conv(ConversationId, ConversationEvent, Timestamp),
    Agent(AgentId, AgentEvent, Timestamp),
}

pub fn agent_id(n: u128) -> AgentId {
    AgentId::from_uuid(Uuid::from_u128(0xA000_0000 + n))
}

pub fn conversation_id(n: u128) -> ConversationId {
    ConversationId::from_uuid(Uuid::from_u128(0xC000_0000 + n))
}

pub fn idle_code() -> Presence {
    Presence::Idle {
        code_id: Some(IdleCodeId::from_uuid(Uuid::from_u128(7))),
        code_name: Some("Lunch".into()),
    }
}

pub fn reason() -> (WrapUpReasonId, String) {
    (
        WrapUpReasonId::from_uuid(Uuid::from_u128(0x5E)),
        "Resolved".into(),
    )
}

pub fn text(s: &str) -> text::MessageText {
    text::MessageText::parse(s).unwrap()
}

pub fn agent_text(s: &str) -> text::MessageText {
    text::MessageText::parse_agent(s).unwrap()
}

/// Is routing kept from offering `c` to `agent`: they transferred it away, or they left it
/// and still owe its wrap-up?
pub fn kept_from(c: &Conversation, agent: AgentId) -> bool {
    c.transferred_by.contains(&agent) || c.wrapups.contains_key(&agent)
}

/// The agent an event names, if any.
pub fn named_agent(event: &ConversationEvent) -> Option<AgentId> {
    use ConversationEvent as E;
    match event {
        E::Offered { agent_id, .. }
        | E::OfferTimedOut { agent_id }
        | E::OfferWithdrawn { agent_id, .. }
        | E::Accepted { agent_id, .. }
        | E::AgentLeft { agent_id, .. }
        | E::WrappedUp { agent_id, .. } => Some(*agent_id),
        // The engine loads the agent a chat is transferred to (an `Offered`) or invited.
        E::ConferenceRequested { agent_id, .. } => Some(*agent_id),
        E::Message {
            sender: Sender::Agent { agent_id, .. },
            ..
        } => Some(*agent_id),
        _ => None,
    }
}

pub struct World {
    pub now: Timestamp,
    /// The policy in force; a queue's own offer timeout (`offer_timeouts`) overrides it for
    /// the chats in that queue, as the engine's `policy_for(queue, asset)` does.
    pub policy: Policy,
    /// The queue every chat arrives in ("Support").
    pub queue_id: QueueId,
    /// A second queue ("Sales"), for transfers.
    pub sales_queue_id: QueueId,
    pub offer_timeouts: BTreeMap<QueueId, Millis>,
    pub asset_id: AssetId,
    pub agents: BTreeMap<AgentId, Agent>,
    /// Each agent as it was created (for replaying the log from scratch).
    pub agents_at_creation: BTreeMap<AgentId, Agent>,
    pub convs: BTreeMap<ConversationId, Conversation>,
    /// Each conversation's log: its events and when they were applied; seq = index + 1.
    pub conv_logs: BTreeMap<ConversationId, Vec<(ConversationEvent, Timestamp)>>,
    /// The number of events applied to each agent's own log.
    pub agent_log_len: BTreeMap<AgentId, u64>,
    /// Everything applied, in order.
    pub log: Vec<Logged>,
    next_agent: u128,
    next_conv: u128,
}

impl World {
    pub fn new(policy: Policy) -> Self {
        World {
            now: T0,
            policy,
            queue_id: QueueId::from_uuid(Uuid::from_u128(0x0E)),
            sales_queue_id: QueueId::from_uuid(Uuid::from_u128(0x0F)),
            offer_timeouts: BTreeMap::new(),
            asset_id: AssetId::from_uuid(Uuid::from_u128(0xA5)),
            agents: BTreeMap::new(),
            agents_at_creation: BTreeMap::new(),
            convs: BTreeMap::new(),
            conv_logs: BTreeMap::new(),
            agent_log_len: BTreeMap::new(),
            log: Vec::new(),
            next_agent: 0,
            next_conv: 0,
        }
    }

    pub fn agent(&self, id: AgentId) -> &Agent {
        &self.agents[&id]
    }

    pub fn conv(&self, id: ConversationId) -> &Conversation {
        &self.convs[&id]
    }

    pub fn queue_name(&self, queue: QueueId) -> &'static str {
        if queue == self.sales_queue_id {
            "Sales"
        } else {
            "Support"
        }
    }

    /// The policy for the chats of `queue`: the queue's own offer timeout, if it has one.
    pub fn policy_for_queue(&self, queue: QueueId) -> Policy {
        let mut p = self.policy.clone();
        if let Some(t) = self.offer_timeouts.get(&queue) {
            p.offer_timeout = *t;
        }
        p
    }

    /// The policy the engine passes with a decision about `id` (by the queue it is in now).
    pub fn policy_of(&self, id: ConversationId) -> Policy {
        self.policy_for_queue(self.convs[&id].queue_id)
    }

    /// The owner sends the chat to `queue` (with that queue's name and `priority`).
    pub fn transfer_to_queue(
        &self,
        agent: AgentId,
        queue: QueueId,
        priority: i32,
    ) -> ConversationCommand {
        ConversationCommand::TransferToQueue {
            agent,
            queue_id: queue,
            queue_name: self.queue_name(queue).into(),
            priority,
        }
    }

    pub fn advance_clock(&mut self, ms: i64) {
        self.now = self.now + Millis(ms);
    }

    /// A new agent, logged out and disconnected.
    pub fn add_agent(&mut self, capacity: u32) -> AgentId {
        self.next_agent += 1;
        let id = agent_id(self.next_agent);
        let agent = Agent::new(id, format!("Agent {}", self.next_agent), capacity, self.now);
        self.agents.insert(id, agent.clone());
        self.agents_at_creation.insert(id, agent);
        self.agent_log_len.insert(id, 0);
        id
    }

    /// A new agent, signed in, connected and Available.
    pub fn ready_agent(&mut self, capacity: u32) -> AgentId {
        let id = self.add_agent(capacity);
        self.agent_cmd(
            id,
            AgentCommand::Connect {
                connection_id: "desk-0".into(),
            },
        )
        .unwrap();
        self.agent_cmd(id, AgentCommand::SignIn).unwrap();
        self.agent_cmd(id, AgentCommand::SetPresence(Presence::Available))
            .unwrap();
        id
    }

    /// A customer starts a chat (via `decide::start`); it enters the queue.
    pub fn start_chat(&mut self, priority: i32) -> ConversationId {
        self.next_conv += 1;
        let id = conversation_id(self.next_conv);
        let events = decide::start(
            self.asset_id,
            "Website",
            self.queue_id,
            "Support",
            priority,
            CustomerInfo {
                name: Some(format!("Customer {}", self.next_conv)),
                ..Default::default()
            },
            BTreeMap::new(),
            false,
            self.now,
        );
        let c = Conversation::started(id, &events[0], self.queue_id, self.now)
            .expect("the first event of start() is Started");
        self.convs.insert(id, c);
        self.conv_logs
            .insert(id, vec![(events[0].clone(), self.now)]);
        self.log.push(Logged::Conv(id, events[0].clone(), self.now));
        self.apply_conversation_events(id, &events[1..]);
        id
    }

    /// A customer starts a chat and its widget connects at once.
    pub fn start_connected_chat(&mut self, priority: i32) -> ConversationId {
        let id = self.start_chat(priority);
        self.cmd(
            id,
            ConversationCommand::CustomerConnected {
                connection_id: "widget-0".into(),
            },
        )
        .unwrap();
        id
    }

    pub fn decide(
        &self,
        id: ConversationId,
        command: &ConversationCommand,
    ) -> Result<Decision, DomainError> {
        decide::decide(
            &self.convs[&id],
            &self.agents,
            command,
            self.now,
            &self.policy_of(id),
        )
    }

    pub fn decide_agent(
        &self,
        id: AgentId,
        command: &AgentCommand,
    ) -> Result<Vec<AgentEvent>, DomainError> {
        decide::decide_agent(&self.agents[&id], command, self.now, &self.policy)
    }

    /// Decides and, when the decision is Ok, applies it.
    pub fn cmd(
        &mut self,
        id: ConversationId,
        command: ConversationCommand,
    ) -> Result<Decision, DomainError> {
        let d = self.decide(id, &command)?;
        self.apply(id, &d);
        Ok(d)
    }

    pub fn agent_cmd(
        &mut self,
        id: AgentId,
        command: AgentCommand,
    ) -> Result<Vec<AgentEvent>, DomainError> {
        let events = self.decide_agent(id, &command)?;
        self.apply_agent_events(id, &events);
        Ok(events)
    }

    /// Applies a decision the way the engine does.
    pub fn apply(&mut self, id: ConversationId, d: &Decision) {
        self.apply_conversation_events(id, &d.conversation);
        for (agent, event) in &d.agents {
            self.apply_agent_events(*agent, std::slice::from_ref(event));
        }
    }

    pub fn apply_conversation_events(&mut self, id: ConversationId, events: &[ConversationEvent]) {
        let now = self.now;
        for event in events {
            let c = self.convs.get_mut(&id).expect("known conversation");
            // The engine need only load the agents the conversation already involves and the
            // one the event names: no other agent's snapshot may change.
            let mut involved = c.loaded_agents();
            involved.extend(named_agent(event));
            // The store does not rewrite a snapshot for an event that only extends the log.
            let only_log = (!event.changes_snapshot()).then(|| c.clone());
            c.apply(event, now);
            if let Some(mut before) = only_log {
                before.head_seq = c.head_seq;
                assert_eq!(
                    *c, before,
                    "{event:?} changed more than the snapshot's head"
                );
            }
            for agent in self.agents.values_mut() {
                if involved.contains(&agent.id) && event.changes_snapshot() {
                    agent.apply_conversation(id, event, now);
                } else if involved.contains(&agent.id) {
                    // The engine copies no agent for an event that only extends the log.
                    let before = agent.clone();
                    agent.apply_conversation(id, event, now);
                    assert_eq!(*agent, before, "{event:?} changed an agent");
                } else {
                    let before = agent.clone();
                    agent.apply_conversation(id, event, now);
                    assert_eq!(
                        *agent, before,
                        "{event:?} changed an agent the conversation did not involve"
                    );
                }
            }
            self.conv_logs
                .get_mut(&id)
                .unwrap()
                .push((event.clone(), now));
            self.log.push(Logged::Conv(id, event.clone(), now));
        }
    }

    pub fn apply_agent_events(&mut self, id: AgentId, events: &[AgentEvent]) {
        let now = self.now;
        for event in events {
            self.agents
                .get_mut(&id)
                .expect("known agent")
                .apply(event, now);
            *self.agent_log_len.get_mut(&id).unwrap() += 1;
            self.log.push(Logged::Agent(id, event.clone(), now));
        }
    }

    /// One routing step as the engine does it: the first chat in line to the best agent who
    /// may take it. The decider refuses to offer a chat back to an agent who transferred it
    /// away or still owes its wrap-up; the engine then tries the next candidate (and the next
    /// chat).
    pub fn route_once(&mut self) -> Option<(ConversationId, AgentId)> {
        let mut waiting: Vec<&Conversation> =
            self.convs.values().filter(|c| c.is_waiting()).collect();
        waiting.sort_by_key(|c| routing::queue_key(c));
        let mut agents: Vec<&Agent> = self
            .agents
            .values()
            .filter(|a| a.can_take_offer())
            .collect();
        agents.sort_by_key(|a| routing::agent_key(a));
        assert_eq!(
            waiting.first().map(|c| c.id),
            routing::pick_conversation(self.convs.values()).map(|c| c.id)
        );
        assert_eq!(
            agents.first().map(|a| a.id),
            routing::pick_agent(self.agents.values()).map(|a| a.id)
        );
        let (c, a) = waiting.iter().find_map(|c| {
            agents
                .iter()
                .find(|a| !kept_from(c, a.id))
                .map(|a| (c.id, a.id))
        })?;
        // The better candidates for this chat were skipped: the decider refuses them.
        for refused in agents.iter().take_while(|x| x.id != a) {
            assert_eq!(
                self.decide(c, &ConversationCommand::Offer { agent: refused.id }),
                Err(DomainError::AgentNotAvailable),
                "a chat offered back to an agent who transferred it or owes its wrap-up"
            );
        }
        self.cmd(c, ConversationCommand::Offer { agent: a })
            .expect("routing's choice is accepted by the decider");
        Some((c, a))
    }

    /// Routes until no waiting chat can be offered to anyone.
    pub fn route(&mut self) -> Vec<(ConversationId, AgentId)> {
        let mut offers = Vec::new();
        while let Some(pair) = self.route_once() {
            offers.push(pair);
        }
        offers
    }

    /// The earliest moment any timer (conversation or agent) has something to do.
    pub fn earliest_deadline(&self) -> Option<Timestamp> {
        let convs = self
            .convs
            .values()
            .filter_map(|c| decide::next_deadline(c, &self.policy_of(c.id)));
        let agents = self
            .agents
            .values()
            .filter_map(|a| decide::agent_next_deadline(a, &self.policy));
        convs.chain(agents).min()
    }

    /// Runs every timer that is due at `now`, as the engine's timer loop does, until nothing
    /// is due. Panics if a deadline says something is due and the decider disagrees.
    pub fn run_timers(&mut self) {
        for _round in 0..100 {
            let mut progressed = false;
            let ids: Vec<ConversationId> = self.convs.keys().copied().collect();
            for id in ids {
                let due = decide::next_deadline(&self.convs[&id], &self.policy_of(id))
                    .is_some_and(|t| t <= self.now);
                if due {
                    let d = self
                        .decide(id, &ConversationCommand::Tick)
                        .unwrap_or_else(|e| panic!("a due tick decided nothing: {e:?}"));
                    assert!(!d.is_empty());
                    self.apply(id, &d);
                    progressed = true;
                    let next = decide::next_deadline(&self.convs[&id], &self.policy_of(id));
                    assert!(
                        next.is_none_or(|t| t > self.now),
                        "after a tick, the conversation is still due ({next:?} <= {:?}): {:#?}",
                        self.now,
                        self.convs[&id]
                    );
                }
            }
            let ids: Vec<AgentId> = self.agents.keys().copied().collect();
            for id in ids {
                progressed |= self.run_agent_timers(id);
            }
            if !progressed {
                return;
            }
        }
        panic!("the timers never settle");
    }

    /// The agent's timers: withdraw its offer, or log it out. Returns whether anything ran.
    pub fn run_agent_timers(&mut self, id: AgentId) -> bool {
        let due = decide::agent_due(&self.agents[&id], self.now, &self.policy);
        let next = decide::agent_next_deadline(&self.agents[&id], &self.policy);
        assert_eq!(
            due != decide::AgentDue::default(),
            next.is_some_and(|t| t <= self.now),
            "agent_due and agent_next_deadline disagree: {due:?}, {next:?}, now {:?}",
            self.now
        );
        let mut ran = false;
        if let Some(conv) = due.withdraw_offer {
            let d = self
                .cmd(conv, ConversationCommand::WithdrawOffer { agent: id })
                .unwrap_or_else(|e| panic!("a due withdrawal was refused: {e:?}"));
            assert!(!d.is_empty());
            ran = true;
        }
        if due.log_out {
            self.log_out_lost(id);
            ran = true;
        }
        let after = decide::agent_due(&self.agents[&id], self.now, &self.policy);
        assert_eq!(
            after,
            decide::AgentDue::default(),
            "agent still due after its timers"
        );
        ran
    }

    /// The engine's log-out of an agent whose desktop stayed away: every conversation the agent
    /// is in, offered or owes a wrap-up for gets `AgentLoggedOut`, then `LogOutLost`.
    pub fn log_out_lost(&mut self, id: AgentId) {
        let a = &self.agents[&id];
        let mut convs: BTreeSet<ConversationId> = a.chats.clone();
        convs.extend(a.wrapups.iter().copied());
        convs.extend(a.offer.as_ref().map(|o| o.conversation_id));
        for conv in convs {
            self.cmd(conv, ConversationCommand::AgentLoggedOut { agent: id })
                .unwrap_or_else(|e| panic!("AgentLoggedOut refused: {e:?}"));
        }
        self.agent_cmd(id, AgentCommand::LogOutLost)
            .unwrap_or_else(|e| panic!("LogOutLost refused after returning everything: {e:?}"));
    }

    /// Moves the clock forward by `ms`. A timely engine fires each timer at its deadline (in
    /// deadline order); a late one (stalled) fires everything at the end.
    pub fn advance(&mut self, ms: i64, timely: bool) {
        let target = self.now + Millis(ms);
        if timely {
            while let Some(t) = self.earliest_deadline() {
                if t > target {
                    break;
                }
                self.now = self.now.max(t);
                self.run_timers();
            }
        }
        self.now = target;
        self.run_timers();
    }

    pub fn presence(&self, id: AgentId) -> Presence {
        self.agents[&id].presence.clone()
    }

    pub fn status(&self, id: ConversationId) -> Status {
        self.convs[&id].status.clone()
    }

    /// The events of a conversation's log (without times).
    pub fn events(&self, id: ConversationId) -> Vec<ConversationEvent> {
        self.conv_logs[&id].iter().map(|(e, _)| e.clone()).collect()
    }
}
