//! Property tests of the invariants in DESIGN.md ("Invariants") over random sequences of
//! commands: customers starting, writing, ending, coming and going; agents signing in and out,
//! changing state, connecting and disconnecting, accepting (rightly and wrongly), writing,
//! ending and wrapping up; routing as the engine does it; and the clock moving, with the timers
//! firing on time, late, or not yet.
//!
//! After every step the whole world is checked: where each conversation is and that the agents'
//! snapshots agree, load and capacity, offers, RONA, sequence numbers, audiences, the timing of
//! every system decision (measured against the harness's own record of when people were last
//! present), and that nothing stops counting before its wrap-up. At the end of each case the
//! logs are replayed from scratch (the folds must give the same snapshots), every event goes
//! through JSON and back, and the world is drained (everyone leaves, a day passes) to show that
//! no conversation is ever stuck or lost.
//!
//! `PROPTEST_CASES=2000 cargo test -p switchboard-core --test invariants` runs more cases.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::decide::{self, AgentCommand, ConversationCommand};
use switchboard_core::routing;
use switchboard_core::*;

#[derive(Clone, Debug)]
enum Clock {
    /// The engine fires each timer at its deadline.
    Timely,
    /// The engine was stalled and fires everything due at the end.
    Late,
    /// The time passes and no timer has fired yet (commands race the timers).
    NoTimers,
}

#[derive(Clone, Debug)]
enum Op {
    StartChat {
        priority: i32,
        connect: bool,
    },
    CustomerSend(usize),
    CustomerEnd(usize),
    CustomerConnect(usize, u8),
    CustomerDisconnect(usize, u8),
    SignIn(usize),
    SetAvailable(usize),
    SetIdle(usize, bool),
    SetPresenceInvalid(usize, bool),
    SignOut(usize),
    AgentConnect(usize, u8),
    AgentDisconnect(usize, u8),
    /// Every connection of the agent drops (the laptop is closed).
    AgentGone(usize),
    SetCapacity(usize, u32),
    Route,
    OfferAny(usize, usize),
    /// Accept by the agent the chat is offered to (the i-th offered chat).
    AcceptOffered(usize),
    /// Accept by any agent (mostly the wrong one).
    AcceptBy(usize, usize),
    AgentSendOwner(usize),
    AgentSendBy(usize, usize),
    EndOwner(usize),
    EndBy(usize, usize),
    /// Wrap-up by an agent who owes one (the i-th pending wrap-up), then the same again.
    WrapUpDue(usize),
    WrapUpBy(usize, usize),
    Advance {
        ms: i64,
        clock: Clock,
    },
    /// Move the clock to exactly the next deadline; fire the timers or not (a command may
    /// arrive at the very millisecond of a deadline, before its timer).
    ToNextDeadline {
        fire: bool,
    },
    /// Tick every conversation, due or not.
    TickAll,
}

#[derive(Clone, Debug)]
struct Setup {
    /// (capacity, signed in, connected and Available from the start)
    agents: Vec<(u32, bool)>,
    policy: Policy,
    /// Route after every step (as the engine does) rather than only on `Op::Route`.
    eager_routing: bool,
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        5..=60i64,
        10..=180i64,
        30..=1200i64,
        15..=180i64,
        1..=20i64,
        prop::option::of(5..=120i64),
    )
        .prop_map(
            |(offer, grace, inactivity, signout, offer_disconnect, auto)| Policy {
                offer_timeout: Millis::seconds(offer),
                customer_grace: Millis::seconds(grace),
                inactivity_timeout: Millis::seconds(inactivity),
                signout_grace: Millis::seconds(signout),
                offer_disconnect_grace: Millis::seconds(offer_disconnect),
                auto_wrapup_after: auto.map(Millis::seconds),
                ..Policy::default()
            },
        )
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec((1..=3u32, prop::bool::weighted(0.7)), 1..=6),
        policy(),
        any::<bool>(),
    )
        .prop_map(|(agents, policy, eager_routing)| Setup {
            agents,
            policy,
            eager_routing,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let i = || any::<u8>().prop_map(|x| x as usize);
    let ms = prop_oneof![0..2_000i64, 0..40_000i64, 0..400_000i64];
    let clock = prop_oneof![
        6 => Just(Clock::Timely),
        2 => Just(Clock::Late),
        2 => Just(Clock::NoTimers),
    ];
    prop_oneof![
        8 => (0..3i32, prop::bool::weighted(0.8)).prop_map(|(priority, connect)| Op::StartChat { priority, connect }),
        3 => i().prop_map(Op::CustomerSend),
        2 => i().prop_map(Op::CustomerEnd),
        3 => (i(), 0..2u8).prop_map(|(c, k)| Op::CustomerConnect(c, k)),
        3 => (i(), 0..2u8).prop_map(|(c, k)| Op::CustomerDisconnect(c, k)),
        3 => i().prop_map(Op::SignIn),
        5 => i().prop_map(Op::SetAvailable),
        2 => (i(), any::<bool>()).prop_map(|(a, code)| Op::SetIdle(a, code)),
        1 => (i(), any::<bool>()).prop_map(|(a, rona)| Op::SetPresenceInvalid(a, rona)),
        2 => i().prop_map(Op::SignOut),
        3 => (i(), 0..2u8).prop_map(|(a, k)| Op::AgentConnect(a, k)),
        3 => (i(), 0..2u8).prop_map(|(a, k)| Op::AgentDisconnect(a, k)),
        2 => i().prop_map(Op::AgentGone),
        1 => (i(), 0..=4u32).prop_map(|(a, n)| Op::SetCapacity(a, n)),
        6 => Just(Op::Route),
        3 => (i(), i()).prop_map(|(c, a)| Op::OfferAny(c, a)),
        8 => i().prop_map(Op::AcceptOffered),
        2 => (i(), i()).prop_map(|(c, a)| Op::AcceptBy(c, a)),
        3 => i().prop_map(Op::AgentSendOwner),
        1 => (i(), i()).prop_map(|(c, a)| Op::AgentSendBy(c, a)),
        4 => i().prop_map(Op::EndOwner),
        1 => (i(), i()).prop_map(|(c, a)| Op::EndBy(c, a)),
        5 => i().prop_map(Op::WrapUpDue),
        1 => (i(), i()).prop_map(|(c, a)| Op::WrapUpBy(c, a)),
        8 => (ms, clock).prop_map(|(ms, clock)| Op::Advance { ms, clock }),
        3 => any::<bool>().prop_map(|fire| Op::ToNextDeadline { fire }),
        2 => Just(Op::TickAll),
    ]
}

/// An agent's load, counted independently of `Agent::load`.
fn load_of(a: &Agent) -> u32 {
    a.offer.is_some() as u32 + a.chats.len() as u32 + a.wrapups.len() as u32
}

/// May this agent be offered a chat? Written out independently of `Agent::can_take_offer`.
fn eligible(a: &Agent) -> bool {
    a.presence == Presence::Available
        && !a.connections.is_empty()
        && a.offer.is_none()
        && load_of(a) < a.capacity
}

fn is_own_presence_op(op: &Op) -> Option<usize> {
    match op {
        Op::SignIn(a)
        | Op::SetAvailable(a)
        | Op::SetIdle(a, _)
        | Op::SetPresenceInvalid(a, _)
        | Op::SignOut(a) => Some(*a),
        _ => None,
    }
}

struct Harness {
    w: World,
    eager_routing: bool,
    agent_ids: Vec<AgentId>,
    /// Independent records of when people were last present (for timing checks).
    agent_connected_at: BTreeMap<AgentId, Timestamp>,
    signed_in_at: BTreeMap<AgentId, Timestamp>,
    customer_present_at: BTreeMap<ConversationId, Timestamp>,
    offered_at: BTreeMap<ConversationId, Timestamp>,
    /// Who is in each conversation and when each leaver left, from the events alone.
    members: BTreeMap<ConversationId, BTreeSet<AgentId>>,
    left_at: BTreeMap<(ConversationId, AgentId), Timestamp>,
    started: usize,
    /// How many events of each kind were applied (to see that the cases reach everywhere).
    pub kinds: BTreeMap<&'static str, usize>,
}

struct Before {
    now: Timestamp,
    agents: BTreeMap<AgentId, Agent>,
    convs: BTreeMap<ConversationId, Conversation>,
    log_len: usize,
}

impl Harness {
    fn new(setup: &Setup) -> Self {
        let mut w = World::new(setup.policy.clone());
        let mut agent_ids = Vec::new();
        let mut signed_in_at = BTreeMap::new();
        let mut agent_connected_at = BTreeMap::new();
        for (capacity, ready) in &setup.agents {
            let id = if *ready {
                w.ready_agent(*capacity)
            } else {
                w.add_agent(*capacity)
            };
            signed_in_at.insert(id, w.now);
            agent_connected_at.insert(id, w.now);
            agent_ids.push(id);
        }
        Harness {
            w,
            eager_routing: setup.eager_routing,
            agent_ids,
            agent_connected_at,
            signed_in_at,
            customer_present_at: BTreeMap::new(),
            offered_at: BTreeMap::new(),
            members: BTreeMap::new(),
            left_at: BTreeMap::new(),
            started: 0,
            kinds: BTreeMap::new(),
        }
    }

    fn agent(&self, i: usize) -> AgentId {
        self.agent_ids[i % self.agent_ids.len()]
    }

    /// A conversation by index: mostly among those not finished, sometimes among all.
    fn conv(&self, i: usize) -> Option<ConversationId> {
        let live: Vec<ConversationId> = self
            .w
            .convs
            .values()
            .filter(|c| !c.is_finished())
            .map(|c| c.id)
            .collect();
        if i % 4 != 0 && !live.is_empty() {
            return Some(live[(i / 4) % live.len()]);
        }
        let all: Vec<ConversationId> = self.w.convs.keys().copied().collect();
        (!all.is_empty()).then(|| all[i % all.len()])
    }

    fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[i % items.len()])
    }

    fn note_presence(&mut self) {
        let now = self.w.now;
        for a in self.w.agents.values() {
            if a.is_connected() {
                self.agent_connected_at.insert(a.id, now);
            }
        }
        for c in self.w.convs.values() {
            if !c.customer_connections.is_empty() {
                self.customer_present_at.insert(c.id, now);
            }
        }
    }

    fn step(&mut self, op: &Op) {
        self.note_presence();
        let before = Before {
            now: self.w.now,
            agents: self.w.agents.clone(),
            convs: self.w.convs.clone(),
            log_len: self.w.log.len(),
        };
        self.run_op(op);
        if self.eager_routing {
            self.route_checked();
        }
        let own = is_own_presence_op(op).map(|i| self.agent(i));
        let wrap_up_op = matches!(op, Op::WrapUpDue(_) | Op::WrapUpBy(..));
        self.check_step(&before, own, wrap_up_op);
        self.note_presence();
        self.check_world();
    }

    fn run_op(&mut self, op: &Op) {
        use ConversationCommand as C;
        use DomainError as D;
        let now = self.w.now;
        match op.clone() {
            Op::StartChat { priority, connect } => {
                let id = if connect {
                    self.w.start_connected_chat(priority)
                } else {
                    self.w.start_chat(priority)
                };
                self.started += 1;
                self.customer_present_at.insert(id, now);
                let c = self.w.conv(id);
                assert_eq!(c.status, Status::Waiting);
                assert_eq!((c.arrived_at, c.front_at, c.priority), (now, now, priority));
                assert_eq!(
                    c.head_seq,
                    if connect { 3 } else { 2 },
                    "Started, Queued (and CustomerConnected) are 1, 2 (and 3)"
                );
            }
            Op::CustomerSend(i) => {
                let Some(c) = self.conv(i) else { return };
                let status = self.w.status(c);
                let r = self.w.cmd(
                    c,
                    C::CustomerSend {
                        text: text("Hello?"),
                    },
                );
                match status {
                    Status::Waiting | Status::Offered { .. } | Status::Active { .. } => {
                        let d = r.expect("a customer in line or answered may write");
                        assert!(matches!(
                            d.conversation.as_slice(),
                            [ConversationEvent::Message {
                                sender: Sender::Customer,
                                ..
                            }]
                        ));
                    }
                    Status::Closed => assert_eq!(r.unwrap_err(), D::ConversationClosed),
                    Status::Ended | Status::Abandoned | Status::Interrupted => {
                        assert_eq!(r.unwrap_err(), D::ConversationEnded)
                    }
                }
            }
            Op::CustomerEnd(i) => {
                let Some(c) = self.conv(i) else { return };
                let status = self.w.status(c);
                let r = self.w.cmd(c, C::CustomerEnd).map(|d| d.conversation);
                use ConversationEvent as E;
                match status {
                    Status::Waiting => assert_eq!(
                        r.unwrap(),
                        vec![E::Abandoned {
                            reason: AbandonReason::CustomerEnded
                        }]
                    ),
                    Status::Offered { agent_id, .. } => {
                        assert_eq!(
                            r.unwrap(),
                            vec![
                                E::OfferWithdrawn {
                                    agent_id,
                                    reason: WithdrawReason::CustomerLeft
                                },
                                E::Abandoned {
                                    reason: AbandonReason::CustomerEnded
                                }
                            ]
                        );
                        assert!(self.w.agent(agent_id).offer.is_none());
                    }
                    Status::Active { .. } => assert_eq!(
                        r.unwrap(),
                        vec![E::Closed {
                            reason: CloseReason::CustomerEnded
                        }]
                    ),
                    Status::Closed => assert_eq!(r.unwrap_err(), D::ConversationClosed),
                    Status::Ended | Status::Abandoned | Status::Interrupted => {
                        assert_eq!(r.unwrap_err(), D::ConversationEnded)
                    }
                }
            }
            Op::CustomerConnect(i, k) => {
                let Some(c) = self.conv(i) else { return };
                let connection_id = format!("widget-{k}");
                let had = self.w.conv(c).customer_connections.contains(&connection_id);
                let d = self
                    .w
                    .cmd(c, C::CustomerConnected { connection_id })
                    .unwrap();
                assert_eq!(d.is_empty(), had, "connecting twice is a no-op");
                assert!(self.w.conv(c).customer_away_since.is_none());
            }
            Op::CustomerDisconnect(i, k) => {
                let Some(c) = self.conv(i) else { return };
                let connection_id = format!("widget-{k}");
                let had = self.w.conv(c).customer_connections.contains(&connection_id);
                let d = self
                    .w
                    .cmd(c, C::CustomerDisconnected { connection_id })
                    .unwrap();
                assert_eq!(d.is_empty(), !had);
            }
            Op::SignIn(i) => {
                let a = self.agent(i);
                let was = self.w.presence(a);
                let events = self.w.agent_cmd(a, AgentCommand::SignIn).unwrap();
                if was == Presence::LoggedOut {
                    self.signed_in_at.insert(a, now);
                    assert_eq!(
                        self.w.presence(a),
                        Presence::Idle {
                            code_id: None,
                            code_name: None
                        },
                        "signing in makes the agent Idle"
                    );
                } else {
                    assert!(events.is_empty());
                }
            }
            Op::SetAvailable(i) => {
                let a = self.agent(i);
                let was = self.w.presence(a);
                let r = self
                    .w
                    .agent_cmd(a, AgentCommand::SetPresence(Presence::Available));
                if was == Presence::LoggedOut {
                    assert_eq!(r.unwrap_err(), D::LoggedOut);
                } else {
                    r.unwrap();
                    assert_eq!(self.w.presence(a), Presence::Available);
                }
            }
            Op::SetIdle(i, with_code) => {
                let a = self.agent(i);
                let was = self.w.presence(a);
                let presence = if with_code {
                    idle_code()
                } else {
                    Presence::Idle {
                        code_id: None,
                        code_name: None,
                    }
                };
                let r = self.w.agent_cmd(a, AgentCommand::SetPresence(presence));
                if was == Presence::LoggedOut {
                    assert_eq!(r.unwrap_err(), D::LoggedOut);
                } else if !with_code {
                    assert_eq!(r.unwrap_err(), D::IdleCodeRequired);
                } else {
                    r.unwrap();
                    assert_eq!(self.w.presence(a), idle_code());
                }
            }
            Op::SetPresenceInvalid(i, rona) => {
                let a = self.agent(i);
                let was = self.w.presence(a);
                let presence = if rona {
                    Presence::Rona
                } else {
                    Presence::LoggedOut
                };
                let r = self.w.agent_cmd(a, AgentCommand::SetPresence(presence));
                assert!(
                    r.is_err(),
                    "an agent cannot choose RONA or Logged out this way"
                );
                if was == Presence::LoggedOut {
                    assert_eq!(r.unwrap_err(), D::LoggedOut);
                }
            }
            Op::SignOut(i) => {
                let a = self.agent(i);
                let load = load_of(self.w.agent(a));
                let r = self.w.agent_cmd(a, AgentCommand::SignOut);
                if load > 0 {
                    assert_eq!(r.unwrap_err(), D::ChatsOpen);
                } else {
                    r.unwrap();
                    assert_eq!(self.w.presence(a), Presence::LoggedOut);
                }
            }
            Op::AgentConnect(i, k) => {
                let a = self.agent(i);
                self.w
                    .agent_cmd(
                        a,
                        AgentCommand::Connect {
                            connection_id: format!("desk-{k}"),
                        },
                    )
                    .unwrap();
                assert!(self.w.agent(a).disconnected_since.is_none());
            }
            Op::AgentDisconnect(i, k) => {
                let a = self.agent(i);
                self.w
                    .agent_cmd(
                        a,
                        AgentCommand::Disconnect {
                            connection_id: format!("desk-{k}"),
                        },
                    )
                    .unwrap();
            }
            Op::AgentGone(i) => {
                let a = self.agent(i);
                let was_connected = self.w.agent(a).is_connected();
                for connection_id in self.w.agent(a).connections.clone() {
                    self.w
                        .agent_cmd(a, AgentCommand::Disconnect { connection_id })
                        .unwrap();
                }
                assert!(!self.w.agent(a).is_connected());
                if was_connected {
                    assert_eq!(self.w.agent(a).disconnected_since, Some(now));
                }
            }
            Op::SetCapacity(i, n) => {
                let a = self.agent(i);
                let r = self.w.agent_cmd(a, AgentCommand::SetCapacity(n));
                if n == 0 {
                    assert_eq!(r.unwrap_err(), D::InvalidCapacity);
                } else {
                    r.unwrap();
                    assert_eq!(self.w.agent(a).capacity, n);
                }
            }
            Op::Route => self.route_checked(),
            Op::OfferAny(ci, ai) => {
                let Some(c) = self.conv(ci) else { return };
                self.offer_checked(c, self.agent(ai));
            }
            Op::AcceptOffered(i) => {
                let offered: Vec<ConversationId> = self
                    .w
                    .convs
                    .values()
                    .filter(|c| c.offered_to().is_some())
                    .map(|c| c.id)
                    .collect();
                let Some(c) = Self::pick(&offered, i) else {
                    return;
                };
                let a = self.w.conv(c).offered_to().unwrap();
                self.accept_checked(c, a);
            }
            Op::AcceptBy(ci, ai) => {
                let Some(c) = self.conv(ci) else { return };
                self.accept_checked(c, self.agent(ai));
            }
            Op::AgentSendOwner(i) => {
                let owned: Vec<(ConversationId, AgentId)> = self
                    .w
                    .convs
                    .values()
                    .filter_map(|c| c.agents.first().map(|a| (c.id, *a)))
                    .collect();
                let Some((c, a)) = Self::pick(&owned, i) else {
                    return;
                };
                self.agent_send_checked(c, a);
            }
            Op::AgentSendBy(ci, ai) => {
                let Some(c) = self.conv(ci) else { return };
                self.agent_send_checked(c, self.agent(ai));
            }
            Op::EndOwner(i) => {
                let owned: Vec<(ConversationId, AgentId)> = self
                    .w
                    .convs
                    .values()
                    .filter_map(|c| c.agents.first().map(|a| (c.id, *a)))
                    .collect();
                let Some((c, a)) = Self::pick(&owned, i) else {
                    return;
                };
                self.end_checked(c, a);
            }
            Op::EndBy(ci, ai) => {
                let Some(c) = self.conv(ci) else { return };
                self.end_checked(c, self.agent(ai));
            }
            Op::WrapUpDue(i) => {
                let due: Vec<(ConversationId, AgentId)> = self
                    .w
                    .convs
                    .values()
                    .flat_map(|c| c.wrapups.keys().map(move |a| (c.id, *a)))
                    .collect();
                let Some((c, a)) = Self::pick(&due, i) else {
                    return;
                };
                self.wrap_up_checked(c, a);
                // Twice is refused, and refusing changes nothing.
                self.wrap_up_checked(c, a);
            }
            Op::WrapUpBy(ci, ai) => {
                let Some(c) = self.conv(ci) else { return };
                self.wrap_up_checked(c, self.agent(ai));
            }
            Op::Advance { ms, clock } => match clock {
                Clock::Timely => self.w.advance(ms, true),
                Clock::Late => self.w.advance(ms, false),
                Clock::NoTimers => self.w.advance_clock(ms),
            },
            Op::ToNextDeadline { fire } => {
                if let Some(t) = self.w.earliest_deadline() {
                    self.w.now = self.w.now.max(t);
                }
                if fire {
                    self.w.run_timers();
                }
            }
            Op::TickAll => {
                let ids: Vec<ConversationId> = self.w.convs.keys().copied().collect();
                for c in ids {
                    let due = decide::next_deadline(self.w.conv(c), &self.w.policy)
                        .is_some_and(|t| t <= self.w.now);
                    match self.w.cmd(c, C::Tick) {
                        Ok(d) => {
                            assert!(due, "a tick did something before the deadline: {d:?}");
                            assert!(!d.is_empty());
                        }
                        Err(e) => {
                            assert!(!due, "a due tick decided nothing");
                            assert_eq!(e, D::NothingDue);
                        }
                    }
                }
            }
        }
    }

    /// Routing as the engine does it, checking each choice against the rules written out.
    fn route_checked(&mut self) {
        loop {
            let Some(c) = routing::pick_conversation(self.w.convs.values()) else {
                return;
            };
            let Some(a) = routing::pick_agent(self.w.agents.values()) else {
                return;
            };
            let (c, a) = (c.clone(), a.clone());
            // The chat is the first in line: highest priority, then earliest place.
            for other in self.w.convs.values().filter(|o| o.is_waiting()) {
                assert!(
                    (-c.priority, c.front_at, c.id) <= (-other.priority, other.front_at, other.id),
                    "routing skipped a chat ahead in line"
                );
            }
            // The agent is eligible and preferred: fewest chats, then free longest, then id.
            assert!(
                eligible(&a),
                "routing picked an agent who may not be offered: {a:#?}"
            );
            for other in self.w.agents.values().filter(|o| eligible(o)) {
                assert!(
                    (a.chats.len(), a.free_since, a.id)
                        <= (other.chats.len(), other.free_since, other.id),
                    "routing skipped a better agent"
                );
            }
            self.offer_checked(c.id, a.id);
            assert_eq!(self.w.conv(c.id).offered_to(), Some(a.id));
        }
    }

    fn offer_checked(&mut self, c: ConversationId, a: AgentId) {
        let conv = self.w.conv(c).clone();
        let agent = self.w.agent(a).clone();
        let r = self.w.cmd(c, ConversationCommand::Offer { agent: a });
        match r {
            Ok(d) => {
                assert!(conv.is_waiting(), "offered a chat that was not waiting");
                // The moment an offer succeeds, the agent was Available, connected, had no
                // offer and had room.
                assert_eq!(agent.presence, Presence::Available, "offered to {agent:#?}");
                assert!(agent.is_connected(), "offered to a disconnected agent");
                assert!(agent.offer.is_none(), "a second offer pending");
                assert!(load_of(&agent) < agent.capacity, "offered beyond capacity");
                assert_eq!(
                    d.conversation,
                    vec![ConversationEvent::Offered {
                        agent_id: a,
                        agent_name: agent.name.clone(),
                        deadline: self.w.now + self.w.policy.offer_timeout,
                        transfer: false,
                    }]
                );
                assert!(d.agents.is_empty());
            }
            Err(e) => {
                let expected = if !conv.is_waiting() {
                    DomainError::WrongConversationState
                } else if agent.presence != Presence::Available || !agent.is_connected() {
                    DomainError::AgentNotAvailable
                } else if agent.offer.is_some() {
                    DomainError::OfferAlreadyPending
                } else if load_of(&agent) >= agent.capacity {
                    DomainError::AgentAtCapacity
                } else {
                    panic!("an eligible agent was refused a waiting chat: {e:?}")
                };
                assert_eq!(e, expected);
            }
        }
    }

    fn accept_checked(&mut self, c: ConversationId, a: AgentId) {
        let conv = self.w.conv(c).clone();
        let load = load_of(self.w.agent(a));
        let r = self.w.cmd(c, ConversationCommand::Accept { agent: a });
        match conv.status {
            Status::Offered {
                agent_id, deadline, ..
            } if agent_id == a && self.w.now < deadline => {
                let d = r.expect("the offered agent accepts before the deadline");
                assert!(matches!(
                    d.conversation.as_slice(),
                    [ConversationEvent::Accepted { agent_id, .. }] if *agent_id == a
                ));
                let after = self.w.conv(c);
                assert_eq!(after.status, Status::Active { owner: a });
                assert_eq!(after.agents, vec![a]);
                let agent = self.w.agent(a);
                assert!(agent.offer.is_none() && agent.chats.contains(&c));
                assert_eq!(load_of(agent), load, "accepting turns an offer into a chat");
            }
            _ => assert_eq!(
                r.unwrap_err(),
                DomainError::NoSuchOffer,
                "accept of {c} by {a} in {:?} at {:?}",
                conv.status,
                self.w.now
            ),
        }
    }

    fn agent_send_checked(&mut self, c: ConversationId, a: AgentId) {
        let conv = self.w.conv(c).clone();
        let r = self.w.cmd(
            c,
            ConversationCommand::AgentSend {
                agent: a,
                text: agent_text("How can I help?"),
                template: None,
            },
        );
        let in_it = conv.agents.contains(&a);
        match (&conv.status, in_it) {
            (Status::Active { .. }, true) => {
                let d = r.expect("an agent in an active chat may write");
                assert!(matches!(
                    d.conversation.as_slice(),
                    [ConversationEvent::Message {
                        sender: Sender::Agent { agent_id, .. },
                        ..
                    }] if *agent_id == a
                ));
            }
            (Status::Closed, true) => assert_eq!(r.unwrap_err(), DomainError::ConversationClosed),
            _ => {
                let e = r.unwrap_err();
                if !conv.ever_agents.contains(&a) {
                    assert_eq!(e, DomainError::NotInConversation);
                }
            }
        }
    }

    fn end_checked(&mut self, c: ConversationId, a: AgentId) {
        let conv = self.w.conv(c).clone();
        let r = self.w.cmd(c, ConversationCommand::End { agent: a });
        let in_it = conv.agents.contains(&a);
        match (&conv.status, in_it) {
            (Status::Active { owner }, true) if *owner == a => {
                assert_eq!(r.unwrap().conversation, vec![ConversationEvent::Ended]);
            }
            (Status::Closed, true) => {
                // The last agent out ends it (there is one agent until conference lands).
                assert_eq!(r.unwrap().conversation, vec![ConversationEvent::Ended]);
            }
            (_, true) => panic!("an agent in {:?} could not end: {r:?}", conv.status),
            (_, false) => {
                let e = r.unwrap_err();
                if conv.wrapups.contains_key(&a) {
                    assert_eq!(e, DomainError::ConversationEnded);
                } else {
                    assert_eq!(e, DomainError::NotInConversation);
                }
                return;
            }
        }
        let after = self.w.conv(c);
        assert_eq!(after.status, Status::Ended);
        assert!(after.wrapups.contains_key(&a));
        let agent = self.w.agent(a);
        assert!(!agent.chats.contains(&c) && agent.wrapups.contains(&c));
    }

    fn wrap_up_checked(&mut self, c: ConversationId, a: AgentId) {
        let owes = self.w.conv(c).wrapups.contains_key(&a);
        let (reason_id, reason_name) = reason();
        let r = self.w.cmd(
            c,
            ConversationCommand::WrapUp {
                agent: a,
                reason_id,
                reason_name: reason_name.clone(),
            },
        );
        if owes {
            assert_eq!(
                r.unwrap().conversation,
                vec![ConversationEvent::WrappedUp {
                    agent_id: a,
                    reason_id,
                    reason_name,
                    auto: false
                }]
            );
            assert!(!self.w.conv(c).wrapups.contains_key(&a));
            assert!(!self.w.agent(a).wrapups.contains(&c));
        } else {
            assert_eq!(r.unwrap_err(), DomainError::NoWrapUpPending);
        }
    }

    /// Checks what changed in one step: the events applied and the snapshots before and after.
    fn check_step(&mut self, before: &Before, own: Option<AgentId>, wrap_up_op: bool) {
        let p = self.w.policy.clone();
        let new: Vec<Logged> = self.w.log[before.log_len..].to_vec();
        let mut per_conv: BTreeMap<ConversationId, u64> = BTreeMap::new();
        let logged_out_now: BTreeSet<AgentId> = new
            .iter()
            .filter_map(|l| match l {
                Logged::Agent(
                    a,
                    AgentEvent::PresenceChanged {
                        presence: Presence::LoggedOut,
                        reason: PresenceReason::ConnectionLost,
                    },
                    _,
                ) => Some(*a),
                _ => None,
            })
            .collect();
        let mut wrapped: BTreeSet<(ConversationId, AgentId)> = BTreeSet::new();
        let mut timed_out: BTreeSet<AgentId> = BTreeSet::new();

        for l in &new {
            match l {
                Logged::Conv(c, e, t) => {
                    let (c, t) = (*c, *t);
                    *per_conv.entry(c).or_default() += 1;
                    *self.kinds.entry(e.kind()).or_default() += 1;
                    // A customer never sees offers, RONAs, withdrawals or wrap-ups.
                    if matches!(
                        e,
                        ConversationEvent::Offered { .. }
                            | ConversationEvent::OfferTimedOut { .. }
                            | ConversationEvent::OfferWithdrawn { .. }
                            | ConversationEvent::WrappedUp { .. }
                    ) {
                        assert_eq!(e.audience(), Audience::AgentsOnly, "{e:?}");
                    }
                    use ConversationEvent as E;
                    match e {
                        E::Offered { deadline, .. } => {
                            assert_eq!(*deadline, t + p.offer_timeout);
                            self.offered_at.insert(c, t);
                        }
                        E::OfferTimedOut { agent_id } => {
                            assert!(
                                t >= self.offered_at[&c] + p.offer_timeout,
                                "RONA before the offer timed out"
                            );
                            timed_out.insert(*agent_id);
                        }
                        E::Accepted { agent_id, .. } => {
                            assert!(t < self.offered_at[&c] + p.offer_timeout);
                            self.members.entry(c).or_default().insert(*agent_id);
                        }
                        E::OfferWithdrawn {
                            agent_id,
                            reason: WithdrawReason::AgentDisconnected,
                        } => {
                            let grace = p.offer_disconnect_grace.min(p.signout_grace);
                            assert!(
                                t >= self.agent_connected_at[agent_id] + grace,
                                "offer withdrawn from an agent who was not away long enough"
                            );
                            assert!(!self.w.agents[agent_id].is_connected());
                        }
                        E::Abandoned {
                            reason: AbandonReason::CustomerGone,
                        } => {
                            assert!(
                                t >= self.customer_present_at[&c] + p.customer_grace,
                                "abandoned before the customer's grace ran out"
                            );
                        }
                        E::Closed {
                            reason: CloseReason::CustomerLeft,
                        } => {
                            assert!(
                                t >= self.customer_present_at[&c] + p.inactivity_timeout,
                                "closed before the customer was inactive long enough"
                            );
                        }
                        E::AgentLeft { agent_id, .. } => {
                            self.members.entry(c).or_default().remove(agent_id);
                            self.left_at.insert((c, *agent_id), t);
                        }
                        E::Ended => {
                            for a in std::mem::take(self.members.entry(c).or_default()) {
                                self.left_at.insert((c, a), t);
                            }
                        }
                        E::WrappedUp { agent_id, auto, .. } => {
                            wrapped.insert((c, *agent_id));
                            if *auto {
                                let by_timer = p.auto_wrapup_after.is_some_and(|after| {
                                    t >= self.left_at[&(c, *agent_id)] + after
                                });
                                assert!(
                                    by_timer || logged_out_now.contains(agent_id),
                                    "an automatic wrap-up neither due nor by a log-out"
                                );
                            } else {
                                assert!(wrap_up_op, "a wrap-up nobody submitted");
                            }
                        }
                        _ => {}
                    }
                }
                Logged::Agent(a, e, t) => {
                    if let AgentEvent::PresenceChanged { presence, reason } = e {
                        match reason {
                            PresenceReason::Agent => assert_eq!(
                                own,
                                Some(*a),
                                "a presence change for the agent not made by the agent"
                            ),
                            PresenceReason::Rona => {
                                assert_eq!(*presence, Presence::Rona);
                                assert!(timed_out.contains(a), "RONA without a timed-out offer");
                            }
                            PresenceReason::ConnectionLost => {
                                assert_eq!(*presence, Presence::LoggedOut);
                                let present = self.agent_connected_at[a].max(self.signed_in_at[a]);
                                assert!(
                                    *t >= present + p.signout_grace,
                                    "logged out {} ms after the agent was last present \
                                     (connected {:?}, signed in {:?}); the grace is {:?}",
                                    (*t - present).0,
                                    self.agent_connected_at[a],
                                    self.signed_in_at[a],
                                    p.signout_grace
                                );
                                assert!(!self.w.agents[a].is_connected());
                            }
                        }
                    }
                }
            }
        }

        // Every timed-out offer puts its agent in RONA.
        let rona: BTreeSet<AgentId> = new
            .iter()
            .filter_map(|l| match l {
                Logged::Agent(
                    a,
                    AgentEvent::PresenceChanged {
                        presence: Presence::Rona,
                        reason: PresenceReason::Rona,
                    },
                    _,
                ) => Some(*a),
                _ => None,
            })
            .collect();
        assert_eq!(rona, timed_out, "an offer timed out without RONA");

        // Sequence numbers go up by exactly the number of events applied, and match the log.
        for (id, c) in &self.w.convs {
            let was = before.convs.get(id).map_or(0, |b| b.head_seq);
            assert_eq!(
                c.head_seq,
                was + per_conv.get(id).copied().unwrap_or(0),
                "head_seq of {id}"
            );
            assert_eq!(c.head_seq, self.w.conv_logs[id].len() as u64);
        }

        for (id, a) in &self.w.agents {
            let b = &before.agents[id];
            // Load never rises above capacity (it may sit above it only after the capacity was
            // lowered, and then only fall).
            assert!(
                load_of(a) <= a.capacity || load_of(a) <= load_of(b),
                "load {} above capacity {} for {a:#?}",
                load_of(a),
                a.capacity
            );
            // A chat stops counting only after that agent's wrap-up.
            let held_before: BTreeSet<_> = b.chats.union(&b.wrapups).copied().collect();
            let held_after: BTreeSet<_> = a.chats.union(&a.wrapups).copied().collect();
            for c in held_before.difference(&held_after) {
                assert!(
                    wrapped.contains(&(*c, *id)),
                    "{c} stopped counting for {id} without a wrap-up"
                );
            }
            // RONA: entered only on a timed-out offer, left only by the agent's own change (or
            // the system's log-out of a desktop that is gone).
            if b.presence != Presence::Rona && a.presence == Presence::Rona {
                assert!(timed_out.contains(id), "RONA without a timed-out offer");
            }
            if b.presence == Presence::Rona && a.presence != Presence::Rona {
                assert!(
                    own == Some(*id) || logged_out_now.contains(id),
                    "RONA left without the agent's own change: now {:?}",
                    a.presence
                );
            }
            assert_eq!(a.log_seq, self.w.agent_log_len[id], "agent log_seq");
            // Routing prefers the agent free longest: freed (load down) or newly Available
            // means free from now on.
            assert!(a.free_since <= self.w.now);
            let became_available =
                b.presence != Presence::Available && a.presence == Presence::Available;
            if load_of(a) < load_of(b) || became_available {
                assert!(
                    a.free_since >= before.now,
                    "{id} got room or became Available but free_since stayed {:?}",
                    a.free_since
                );
            }
        }
        for (id, c) in &self.w.convs {
            // Back in the queue means back at its place: front_at never moves (no transfer yet).
            assert_eq!(c.front_at, c.arrived_at, "{id} lost its place in line");
            // A finished conversation stays finished (a customer may still open the widget).
            if let Some(b) = before.convs.get(id).filter(|b| b.is_finished()) {
                assert!(c.is_finished() && c.status == b.status && c.agents == b.agents);
            }
        }
    }

    /// The invariants of the whole world at rest.
    fn check_world(&self) {
        let w = &self.w;
        // No conversation is lost: every started one is in exactly one place.
        assert_eq!(w.convs.len(), self.started);
        assert_eq!(w.conv_logs.len(), self.started);
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for c in w.convs.values() {
            *by_status.entry(c.status.name()).or_default() += 1;
        }
        assert_eq!(by_status.values().sum::<usize>(), self.started);

        for c in w.convs.values() {
            let id = c.id;
            let in_chats: BTreeSet<AgentId> = w
                .agents
                .values()
                .filter(|a| a.chats.contains(&id))
                .map(|a| a.id)
                .collect();
            let in_wrapups: BTreeSet<AgentId> = w
                .agents
                .values()
                .filter(|a| a.wrapups.contains(&id))
                .map(|a| a.id)
                .collect();
            let offered: BTreeSet<AgentId> = w
                .agents
                .values()
                .filter(|a| a.offer.as_ref().is_some_and(|o| o.conversation_id == id))
                .map(|a| a.id)
                .collect();
            let agents: BTreeSet<AgentId> = c.agents.iter().copied().collect();
            let wrapups: BTreeSet<AgentId> = c.wrapups.keys().copied().collect();
            assert_eq!(agents.len(), c.agents.len(), "an agent twice in {id}");
            assert_eq!(
                in_chats, agents,
                "{id}: its agents and the agents' chats disagree"
            );
            assert_eq!(
                in_wrapups, wrapups,
                "{id}: its wrap-ups and the agents' wrap-ups disagree"
            );
            assert!(
                agents.is_disjoint(&wrapups),
                "{id}: in it and owing a wrap-up"
            );
            assert!(c.ever_agents.is_superset(&agents));
            assert!(c.ever_agents.is_superset(&wrapups));
            assert_eq!(
                c.customer_away_since.is_none(),
                !c.customer_connections.is_empty()
            );
            match &c.status {
                Status::Waiting => {
                    assert!(agents.is_empty() && offered.is_empty());
                }
                Status::Offered {
                    agent_id, deadline, ..
                } => {
                    assert!(agents.is_empty());
                    assert_eq!(
                        offered,
                        BTreeSet::from([*agent_id]),
                        "{id} offered to {agent_id} but the agents' offers say {offered:?}"
                    );
                    assert_eq!(
                        w.agents[agent_id].offer,
                        Some(PendingOffer {
                            conversation_id: id,
                            deadline: *deadline
                        })
                    );
                }
                Status::Active { owner } => {
                    assert_eq!(c.agents, vec![*owner]);
                    assert!(offered.is_empty());
                }
                Status::Closed => {
                    assert!(!agents.is_empty(), "closed with nobody left to end it");
                    assert!(offered.is_empty());
                }
                Status::Ended | Status::Abandoned | Status::Interrupted => {
                    assert!(agents.is_empty() && offered.is_empty());
                }
            }
            let loaded: BTreeSet<AgentId> = in_chats
                .iter()
                .chain(&in_wrapups)
                .chain(&offered)
                .copied()
                .collect();
            assert_eq!(c.loaded_agents(), loaded);
        }

        for a in w.agents.values() {
            assert_eq!(a.load(), load_of(a));
            // At most one offer pending, seen from the conversations too.
            let offered_here = w
                .convs
                .values()
                .filter(|c| c.offered_to() == Some(a.id))
                .count();
            assert_eq!(offered_here, a.offer.is_some() as usize);
            for c in &a.chats {
                assert!(w.convs[c].agents.contains(&a.id));
            }
            for c in &a.wrapups {
                assert!(w.convs[c].wrapups.contains_key(&a.id));
            }
            if a.presence == Presence::LoggedOut {
                assert_eq!(load_of(a), 0, "a logged-out agent holds chats: {a:#?}");
            }
            assert_eq!(a.disconnected_since.is_none(), a.is_connected());
        }
    }

    /// The folds are pure: replaying every log from scratch gives the same snapshots, and every
    /// event and snapshot survives JSON.
    fn check_replay(&self) {
        let w = &self.w;
        let mut agents = w.agents_at_creation.clone();
        let mut convs: BTreeMap<ConversationId, Conversation> = BTreeMap::new();
        for l in &w.log {
            match l {
                Logged::Conv(id, e, t) => {
                    match convs.get_mut(id) {
                        None => {
                            let c = Conversation::started(*id, e, w.queue_id, *t)
                                .expect("a log starts with Started");
                            convs.insert(*id, c);
                        }
                        Some(c) => c.apply(e, *t),
                    }
                    for a in agents.values_mut() {
                        a.apply_conversation(*id, e, *t);
                    }
                }
                Logged::Agent(id, e, t) => agents.get_mut(id).unwrap().apply(e, *t),
            }
        }
        assert_eq!(
            convs, w.convs,
            "conversations replayed from the logs differ"
        );
        for (id, log) in &w.conv_logs {
            check_log_grammar(*id, log);
        }
        assert_eq!(agents, w.agents, "agents replayed from the logs differ");
        for l in &w.log {
            match l {
                Logged::Conv(_, e, _) => {
                    let json = serde_json::to_string(e).unwrap();
                    let back: ConversationEvent = serde_json::from_str(&json).unwrap();
                    assert_eq!(&back, e, "{json}");
                }
                Logged::Agent(_, e, _) => {
                    let json = serde_json::to_string(e).unwrap();
                    let back: AgentEvent = serde_json::from_str(&json).unwrap();
                    assert_eq!(&back, e, "{json}");
                }
            }
        }
        for c in w.convs.values() {
            let back: Conversation =
                serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap();
            assert_eq!(&back, c);
        }
        for a in w.agents.values() {
            let back: Agent = serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap();
            assert_eq!(&back, a);
        }
    }

    /// Everyone goes away and a day passes: every conversation must finish and every agent be
    /// logged out with nothing held. Nothing is stuck, nothing is lost.
    fn drain(&mut self) {
        let ids: Vec<ConversationId> = self.w.convs.keys().copied().collect();
        for c in ids {
            for k in self.w.conv(c).customer_connections.clone() {
                self.step_cmd_disconnect_customer(c, k);
            }
        }
        for a in self.agent_ids.clone() {
            for k in self.w.agent(a).connections.clone() {
                self.w
                    .agent_cmd(a, AgentCommand::Disconnect { connection_id: k })
                    .unwrap();
            }
        }
        self.step(&Op::Advance {
            ms: 24 * 3600 * 1000,
            clock: Clock::Timely,
        });
        for c in self.w.convs.values() {
            assert!(c.is_finished(), "stuck after a day: {c:#?}");
            assert_eq!(decide::next_deadline(c, &self.w.policy), None);
        }
        for a in self.w.agents.values() {
            assert_eq!(a.presence, Presence::LoggedOut);
            assert_eq!(load_of(a), 0);
            assert_eq!(decide::agent_next_deadline(a, &self.w.policy), None);
        }
    }

    fn step_cmd_disconnect_customer(&mut self, c: ConversationId, connection_id: String) {
        self.w
            .cmd(
                c,
                ConversationCommand::CustomerDisconnected { connection_id },
            )
            .unwrap();
    }
}

/// The shape of a conversation's log: Started, Queued(Arrived), and every time the chat goes
/// back in line (RONA, withdrawn for a lost desktop, owner logged out) a `Queued` at once,
/// keeping its place; an offer withdrawn because the customer left ends in `Abandoned`.
fn check_log_grammar(id: ConversationId, log: &[(ConversationEvent, Timestamp)]) {
    use ConversationEvent as E;
    let events: Vec<&ConversationEvent> = log.iter().map(|(e, _)| e).collect();
    assert!(matches!(events[0], E::Started { .. }), "{id}: {events:?}");
    assert!(
        matches!(
            events[1],
            E::Queued {
                reason: QueueReason::Arrived,
                ..
            }
        ),
        "{id}: {events:?}"
    );
    let front_at = log[0].1;
    let mut status = "waiting";
    for (i, e) in events.iter().enumerate() {
        let next = events.get(i + 1).copied();
        let requeued = |reason: QueueReason| matches!(next, Some(E::Queued { reason: r, front_at: f, .. }) if *r == reason && *f == front_at);
        match e {
            E::Queued { front_at: f, .. } => {
                assert_eq!(*f, front_at, "{id}: requeued at a new place");
                status = "waiting";
            }
            E::Offered { .. } => status = "offered",
            E::OfferTimedOut { .. } => assert!(
                requeued(QueueReason::OfferTimedOut),
                "{id}: RONA not followed by a return to the front of the queue: {events:?}"
            ),
            E::OfferWithdrawn {
                reason: WithdrawReason::AgentDisconnected,
                ..
            } => assert!(
                requeued(QueueReason::OfferWithdrawn),
                "{id}: withdrawn offer not followed by a return to the queue: {events:?}"
            ),
            E::OfferWithdrawn {
                reason: WithdrawReason::CustomerLeft,
                ..
            } => assert!(
                matches!(next, Some(E::Abandoned { .. })),
                "{id}: {events:?}"
            ),
            E::Accepted { .. } => status = "active",
            E::AgentLeft {
                by_system: true, ..
            } if status == "active" => assert!(
                requeued(QueueReason::AgentLoggedOut),
                "{id}: a logged-out owner's chat not returned to the queue: {events:?}"
            ),
            E::Closed { .. } => status = "closed",
            E::Ended | E::Abandoned { .. } => status = "over",
            E::Message { .. } => assert!(
                matches!(status, "waiting" | "offered" | "active"),
                "{id}: a message while {status}"
            ),
            _ => {}
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_over_random_sequences(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let mut h = Harness::new(&setup);
        h.check_world();
        for op in &ops {
            h.step(op);
        }
        h.check_replay();
        h.drain();
        h.check_replay();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Whatever is typed, what is accepted obeys the message rules, and parsing is stable.
    #[test]
    fn accepted_text_obeys_the_message_rules(raw in "(?s).{0,1010}|[a-z<>\\r\\n\\t ]{0,20}") {
        if let Ok(t) = text::MessageText::parse(&raw) {
            let s = t.as_str();
            prop_assert!(!s.trim().is_empty());
            prop_assert!(s.chars().count() <= text::MAX_MESSAGE_CHARS);
            prop_assert!(!s.chars().any(|c| c.is_control() && c != '\n'));
            let again = text::MessageText::parse(s);
            prop_assert_eq!(again, Ok(t.clone()));
            match text::MessageText::parse_agent(&raw) {
                Ok(a) => {
                    prop_assert_eq!(&a, &t);
                    prop_assert!(!a.as_str().contains(['<', '>']));
                }
                Err(e) => {
                    prop_assert_eq!(e, DomainError::MessageReservedCharacter);
                    prop_assert!(s.contains(['<', '>']));
                }
            }
        } else {
            prop_assert!(text::MessageText::parse_agent(&raw).is_err());
        }
    }

    /// A filled template never shows a customer a raw `<parameter>` it had a value for.
    #[test]
    fn filled_templates_have_no_placeholders_left(
        parts in prop::collection::vec(prop_oneof![
            "[a-z \\n]{1,8}",
            Just("<customer_name>".to_string()),
            Just("<agent_name>".to_string()),
            Just("<unknown>".to_string()),
            Just("<".to_string()),
            Just(">".to_string()),
        ], 1..12),
    ) {
        let body: String = parts.concat();
        let values = BTreeMap::from([
            ("customer_name".to_string(), "Ana".to_string()),
            ("agent_name".to_string(), "Bo".to_string()),
        ]);
        if let Ok(t) = text::fill_template(&body, &values) {
            for p in ["<customer_name>", "<agent_name>", "<unknown>"] {
                prop_assert!(!t.as_str().contains(p), "{:?} -> {:?}", body, t.as_str());
            }
        }
    }
}

/// The generator reaches every kind of event: a property test that never offers, never times
/// out and never wraps up would prove nothing about those rules.
#[test]
fn the_random_sequences_reach_every_event() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for _ in 0..64 {
        let setup = setup().new_tree(&mut runner).unwrap().current();
        let ops = prop::collection::vec(op(), 150..200)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut h = Harness::new(&setup);
        for op in &ops {
            h.step(op);
        }
        for (k, n) in h.kinds {
            *kinds.entry(k).or_default() += n;
        }
    }
    eprintln!("events over 64 random sequences: {kinds:?}");
    for kind in [
        "queued",
        "offered",
        "offer_timed_out",
        "offer_withdrawn",
        "accepted",
        "message",
        "customer_connected",
        "customer_disconnected",
        "closed",
        "agent_left",
        "ended",
        "wrapped_up",
        "abandoned",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= 10,
            "the random sequences rarely produce {kind}: {kinds:?}"
        );
    }
}
