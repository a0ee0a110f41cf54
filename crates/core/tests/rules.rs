//! One test per rule of the domain (PRODUCT.md "Agent states", "A chat from start to end"; issue
//! 3: transfer, conference, asset deleted), each written as a user would notice it: what
//! happens to the chat, to the agent, and what the log says.

mod common;

use common::*;
use std::collections::BTreeSet;
use switchboard_core::decide::{self, AgentCommand, AgentDue, ConversationCommand as C};
use switchboard_core::routing;
use switchboard_core::*;

use ConversationEvent as E;

fn world() -> World {
    World::new(Policy::default())
}

fn secs(s: i64) -> i64 {
    s * 1000
}

fn queued(w: &World, c: ConversationId, reason: QueueReason) -> ConversationEvent {
    E::Queued {
        queue_id: w.queue_id,
        queue_name: "Support".into(),
        priority: w.conv(c).priority,
        front_at: w.conv(c).arrived_at,
        reason,
    }
}

fn auto_wrapup(agent: AgentId) -> ConversationEvent {
    let default = Policy::default().default_wrapup;
    E::WrappedUp {
        agent_id: agent,
        reason_id: default.id,
        reason_name: default.name,
        auto: true,
    }
}

fn wrap_up(agent: AgentId) -> C {
    let (reason_id, reason_name) = reason();
    C::WrapUp {
        agent,
        reason_id,
        reason_name,
    }
}

/// A ready agent (capacity 1) with a connected customer's chat offered to them.
fn offered(w: &mut World) -> (AgentId, ConversationId) {
    let a = w.ready_agent(1);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    (a, c)
}

/// A ready agent (capacity 1) in an accepted chat.
fn active(w: &mut World) -> (AgentId, ConversationId) {
    let (a, c) = offered(w);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    (a, c)
}

fn disconnect(w: &mut World, a: AgentId) {
    w.agent_cmd(
        a,
        AgentCommand::Disconnect {
            connection_id: "desk-0".into(),
        },
    )
    .unwrap();
}

fn customer_disconnect(w: &mut World, c: ConversationId) {
    w.cmd(
        c,
        C::CustomerDisconnected {
            connection_id: "widget-0".into(),
        },
    )
    .unwrap();
}

fn customer_connect(w: &mut World, c: ConversationId) {
    w.cmd(
        c,
        C::CustomerConnected {
            connection_id: "widget-0".into(),
        },
    )
    .unwrap();
}

fn tick(w: &World, c: ConversationId) -> Result<decide::Decision, DomainError> {
    w.decide(c, &C::Tick)
}

// ---------------------------------------------------------------------------------------------
// Offers, RONA

#[test]
fn an_offer_that_times_out_puts_the_agent_in_rona_and_the_chat_back_at_the_front() {
    let mut w = world();
    let (a, c1) = offered(&mut w);
    w.advance_clock(secs(1));
    let c2 = w.start_connected_chat(0);
    let deadline = T0 + Policy::default().offer_timeout;
    assert_eq!(
        w.conv(c1).status,
        Status::Offered {
            agent_id: a,
            deadline,
            transfer: false,
        }
    );

    // One millisecond before the deadline nothing is due.
    w.now = Timestamp(deadline.0 - 1);
    assert_eq!(tick(&w, c1), Err(DomainError::NothingDue));

    w.now = deadline;
    let d = w.cmd(c1, C::Tick).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferTimedOut { agent_id: a },
            queued(&w, c1, QueueReason::OfferTimedOut)
        ]
    );
    assert_eq!(
        d.agents,
        vec![(
            a,
            AgentEvent::PresenceChanged {
                presence: Presence::Rona,
                reason: PresenceReason::Rona
            }
        )]
    );
    assert_eq!(w.presence(a), Presence::Rona);
    assert_eq!(w.agent(a).offer, None);
    assert_eq!(w.agent(a).load(), 0);
    assert_eq!(w.status(c1), Status::Waiting);
    assert_eq!(w.conv(c1).front_at, T0, "the chat keeps its place in line");

    // The RONA agent is offered nothing; the next agent gets the timed-out chat before the
    // chat that arrived after it.
    assert!(routing::pick_agent(w.agents.values()).is_none());
    assert_eq!(
        w.decide(c1, &C::Offer { agent: a }),
        Err(DomainError::AgentNotAvailable)
    );
    let b = w.ready_agent(1);
    assert_eq!(w.route(), vec![(c1, b)]);
    assert_eq!(w.status(c2), Status::Waiting);
}

#[test]
fn accept_before_the_deadline_is_taken_and_at_the_deadline_refused() {
    let deadline = T0 + Policy::default().offer_timeout;

    let mut w = world();
    let (a, c) = offered(&mut w);
    w.now = Timestamp(deadline.0 - 1);
    let d = w.cmd(c, C::Accept { agent: a }).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::Accepted {
            agent_id: a,
            agent_name: "Agent 1".into()
        }]
    );
    assert_eq!(w.status(c), Status::Active { owner: a });
    assert_eq!(w.agent(a).chats, BTreeSet::from([c]));
    assert_eq!(w.agent(a).offer, None);
    assert_eq!(w.agent(a).load(), 1);

    let mut w = world();
    let (a, c) = offered(&mut w);
    w.now = deadline;
    assert_eq!(
        w.decide(c, &C::Accept { agent: a }),
        Err(DomainError::NoSuchOffer),
        "an accept that arrives after the deadline (before the timer) is refused"
    );
    w.now = Timestamp(deadline.0 + secs(5));
    assert_eq!(
        w.decide(c, &C::Accept { agent: a }),
        Err(DomainError::NoSuchOffer)
    );
    // Once the timer has run, the offer is gone for good.
    w.cmd(c, C::Tick).unwrap();
    assert_eq!(
        w.decide(c, &C::Accept { agent: a }),
        Err(DomainError::NoSuchOffer)
    );
}

#[test]
fn accept_by_another_agent_is_refused_and_changes_nothing() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    let b = w.ready_agent(1);
    let before = (w.conv(c).clone(), w.agents.clone());
    assert_eq!(
        w.cmd(c, C::Accept { agent: b }).unwrap_err(),
        DomainError::NoSuchOffer
    );
    assert_eq!((w.conv(c).clone(), w.agents.clone()), before);
    // The right agent still can.
    w.cmd(c, C::Accept { agent: a }).unwrap();
    // And a chat nobody offered cannot be accepted at all.
    let c2 = w.start_connected_chat(0);
    assert_eq!(
        w.decide(c2, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
}

#[test]
fn an_offer_is_withdrawn_without_rona_when_the_customer_ends() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    let d = w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferWithdrawn {
                agent_id: a,
                reason: WithdrawReason::CustomerLeft
            },
            E::Abandoned {
                reason: AbandonReason::CustomerEnded
            }
        ]
    );
    assert!(d.agents.is_empty(), "no RONA");
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.agent(a).load(), 0);
    assert_eq!(w.status(c), Status::Abandoned);
    assert!(w.conv(c).is_finished());
}

#[test]
fn an_offer_is_withdrawn_without_rona_when_the_desktop_is_gone_past_the_grace() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    w.advance_clock(secs(2));
    let gone_at = w.now;
    disconnect(&mut w, a);
    let grace = Policy::default().offer_disconnect_grace;
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &w.policy),
        Some(gone_at + grace)
    );

    w.now = Timestamp((gone_at + grace).0 - 1);
    assert_eq!(
        decide::agent_due(w.agent(a), w.now, &w.policy),
        AgentDue::default()
    );
    // The customer's side has nothing due yet either: the offer still stands.
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));

    w.now = gone_at + grace;
    let due = decide::agent_due(w.agent(a), w.now, &w.policy);
    assert_eq!(due.withdraw_offer, Some(c));
    assert!(!due.log_out);
    // Only the offered agent's offer can be withdrawn.
    let b = w.add_agent(1);
    assert_eq!(
        w.decide(c, &C::WithdrawOffer { agent: b }),
        Err(DomainError::NothingDue)
    );
    let d = w.cmd(c, C::WithdrawOffer { agent: a }).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferWithdrawn {
                agent_id: a,
                reason: WithdrawReason::AgentDisconnected
            },
            queued(&w, c, QueueReason::OfferWithdrawn)
        ]
    );
    assert!(d.agents.is_empty(), "no RONA");
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.agent(a).offer, None);
    assert_eq!(w.status(c), Status::Waiting);
    assert_eq!(w.conv(c).front_at, T0);
    // A disconnected agent is offered nothing.
    assert!(routing::pick_agent(w.agents.values()).is_none());
    assert_eq!(
        w.decide(c, &C::Offer { agent: a }),
        Err(DomainError::AgentNotAvailable)
    );
}

#[test]
fn a_desktop_back_within_the_offer_grace_keeps_the_offer() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    disconnect(&mut w, a);
    w.advance(secs(9), true);
    w.agent_cmd(
        a,
        AgentCommand::Connect {
            connection_id: "desk-1".into(),
        },
    )
    .unwrap();
    w.advance(secs(20), true);
    assert_eq!(w.conv(c).offered_to(), Some(a));
    w.cmd(c, C::Accept { agent: a }).unwrap();
}

#[test]
fn an_agent_has_at_most_one_offer_pending() {
    let mut w = world();
    let a = w.ready_agent(3);
    let c1 = w.start_connected_chat(0);
    let c2 = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c1, a)]);
    assert_eq!(
        w.decide(c2, &C::Offer { agent: a }),
        Err(DomainError::OfferAlreadyPending)
    );
    // Accepting frees the agent for the next offer.
    w.cmd(c1, C::Accept { agent: a }).unwrap();
    assert_eq!(w.route(), vec![(c2, a)]);
}

#[test]
fn a_chat_is_never_offered_twice() {
    let mut w = world();
    let (_, c) = offered(&mut w);
    let b = w.ready_agent(1);
    assert_eq!(
        w.decide(c, &C::Offer { agent: b }),
        Err(DomainError::WrongConversationState)
    );
    assert!(routing::pick_conversation(w.convs.values()).is_none());
}

#[test]
fn only_available_connected_agents_with_room_are_offered() {
    let mut w = world();
    let c = w.start_connected_chat(0);

    let logged_out = w.add_agent(1);
    w.agent_cmd(
        logged_out,
        AgentCommand::Connect {
            connection_id: "desk-0".into(),
        },
    )
    .unwrap();
    let idle = w.ready_agent(1);
    w.agent_cmd(idle, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    let disconnected = w.ready_agent(1);
    disconnect(&mut w, disconnected);
    for a in [logged_out, idle, disconnected] {
        assert_eq!(
            w.decide(c, &C::Offer { agent: a }),
            Err(DomainError::AgentNotAvailable)
        );
    }
    assert_eq!(
        w.decide(
            c,
            &C::Offer {
                agent: agent_id(99)
            }
        ),
        Err(DomainError::AgentNotAvailable),
        "an unknown agent"
    );
    assert!(routing::pick_agent(w.agents.values()).is_none());

    // A wrap-up still owed counts against capacity.
    let busy = w.ready_agent(1);
    let c0 = w.start_connected_chat(0);
    // c (older) is routed first; take it, end it, keep the wrap-up pending.
    assert_eq!(w.route(), vec![(c, busy)]);
    w.cmd(c, C::Accept { agent: busy }).unwrap();
    w.cmd(c, C::End { agent: busy }).unwrap();
    assert_eq!(w.agent(busy).load(), 1);
    assert_eq!(
        w.decide(c0, &C::Offer { agent: busy }),
        Err(DomainError::AgentAtCapacity)
    );
    assert!(w.route().is_empty());
    w.cmd(c, wrap_up(busy)).unwrap();
    assert_eq!(w.route(), vec![(c0, busy)]);
}

#[test]
fn rona_is_left_only_by_the_agents_own_change() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    w.advance(secs(30), true);
    assert_eq!(w.presence(a), Presence::Rona);
    assert_eq!(w.status(c), Status::Waiting);

    // Time passing, timers and routing do not take the agent out of RONA.
    w.advance(secs(3600), true);
    w.route();
    assert_eq!(w.presence(a), Presence::Rona);
    assert!(w.agent(a).offer.is_none());
    // Nor can anything choose RONA or Logged out as a presence.
    assert!(w
        .decide_agent(a, &AgentCommand::SetPresence(Presence::Rona))
        .is_err());
    assert!(w
        .decide_agent(a, &AgentCommand::SetPresence(Presence::LoggedOut))
        .is_err());

    // The agent's own change does; being Available again makes them the newest free agent.
    let back_at = w.now;
    w.agent_cmd(a, AgentCommand::SetPresence(Presence::Available))
        .unwrap();
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.agent(a).free_since, back_at);
    assert_eq!(w.route(), vec![(c, a)]);

    // From RONA the agent may also go Idle with a code.
    let mut w = world();
    let (a, _) = offered(&mut w);
    w.advance(secs(30), true);
    assert_eq!(w.presence(a), Presence::Rona);
    w.agent_cmd(a, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    assert_eq!(w.presence(a), idle_code());
}

// ---------------------------------------------------------------------------------------------
// Agent states

#[test]
fn signing_in_makes_the_agent_idle_and_idle_needs_a_code() {
    let mut w = world();
    let a = w.add_agent(2);
    assert_eq!(w.presence(a), Presence::LoggedOut);
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SetPresence(Presence::Available)),
        Err(DomainError::LoggedOut)
    );
    w.agent_cmd(a, AgentCommand::SignIn).unwrap();
    assert_eq!(
        w.presence(a),
        Presence::Idle {
            code_id: None,
            code_name: None
        }
    );
    assert_eq!(
        w.decide_agent(
            a,
            &AgentCommand::SetPresence(Presence::Idle {
                code_id: None,
                code_name: None
            })
        ),
        Err(DomainError::IdleCodeRequired)
    );
    let events = w
        .agent_cmd(a, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    assert_eq!(
        events,
        vec![AgentEvent::PresenceChanged {
            presence: idle_code(),
            reason: PresenceReason::Agent
        }]
    );
    // The same state again is no change (and no event).
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SetPresence(idle_code())),
        Ok(vec![])
    );
    assert_eq!(w.decide_agent(a, &AgentCommand::SignIn), Ok(vec![]));
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SetCapacity(0)),
        Err(DomainError::InvalidCapacity)
    );
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SetCapacity(21)),
        Err(DomainError::InvalidCapacity)
    );
    w.agent_cmd(a, AgentCommand::SetCapacity(20)).unwrap();
    assert_eq!(w.agent(a).capacity, 20);
}

#[test]
fn an_idle_agent_keeps_the_chats_already_open() {
    let mut w = world();
    let (a, c) = active(&mut w);
    w.agent_cmd(a, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    assert_eq!(w.status(c), Status::Active { owner: a });
    w.cmd(
        c,
        C::AgentSend {
            agent: a,
            text: agent_text("Still here"),
            template: None,
        },
    )
    .unwrap();
}

#[test]
fn sign_out_is_refused_with_chats_offers_or_wrap_ups_open() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SignOut),
        Err(DomainError::ChatsOpen),
        "an offer pending"
    );
    w.cmd(c, C::Accept { agent: a }).unwrap();
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SignOut),
        Err(DomainError::ChatsOpen),
        "a chat open"
    );
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(
        w.decide_agent(a, &AgentCommand::SignOut),
        Err(DomainError::ChatsOpen),
        "a wrap-up pending"
    );
    w.cmd(c, wrap_up(a)).unwrap();
    let events = w.agent_cmd(a, AgentCommand::SignOut).unwrap();
    assert_eq!(
        events,
        vec![AgentEvent::PresenceChanged {
            presence: Presence::LoggedOut,
            reason: PresenceReason::Agent
        }]
    );
    assert_eq!(w.presence(a), Presence::LoggedOut);
}

#[test]
fn a_desktop_gone_past_the_sign_out_grace_logs_the_agent_out_returns_chats_and_wraps_up() {
    let mut w = world();
    let a = w.ready_agent(3);
    // c1: active.
    let c1 = w.start_connected_chat(0);
    w.route();
    w.cmd(c1, C::Accept { agent: a }).unwrap();
    // c2: ended by the agent, wrap-up pending.
    w.advance_clock(secs(1));
    let c2 = w.start_connected_chat(0);
    w.route();
    w.cmd(c2, C::Accept { agent: a }).unwrap();
    w.cmd(c2, C::End { agent: a }).unwrap();
    // c3: the customer ended it; the agent has not.
    w.advance_clock(secs(1));
    let c3 = w.start_connected_chat(0);
    w.route();
    w.cmd(c3, C::Accept { agent: a }).unwrap();
    w.cmd(c3, C::CustomerEnd).unwrap();
    assert_eq!(w.status(c3), Status::Closed);
    assert_eq!(w.agent(a).load(), 3);

    w.advance_clock(secs(1));
    let gone_at = w.now;
    disconnect(&mut w, a);
    let grace = Policy::default().signout_grace;
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &w.policy),
        Some(gone_at + grace)
    );
    w.now = Timestamp((gone_at + grace).0 - 1);
    assert!(!decide::agent_due(w.agent(a), w.now, &w.policy).log_out);

    w.now = gone_at + grace;
    assert!(decide::agent_due(w.agent(a), w.now, &w.policy).log_out);
    // The agent is logged out only once everything is returned.
    assert_eq!(
        w.decide_agent(a, &AgentCommand::LogOutLost),
        Err(DomainError::NothingDue)
    );

    let d1 = w.cmd(c1, C::AgentLoggedOut { agent: a }).unwrap();
    assert_eq!(
        d1.conversation,
        vec![
            E::AgentLeft {
                agent_id: a,
                agent_name: "Agent 1".into(),
                by_system: true
            },
            queued(&w, c1, QueueReason::AgentLoggedOut),
            auto_wrapup(a),
        ]
    );
    assert_eq!(w.status(c1), Status::Waiting);
    assert_eq!(w.conv(c1).front_at, T0, "back at the front of the queue");
    assert!(w.conv(c1).agents.is_empty() && w.conv(c1).wrapups.is_empty());

    let d2 = w.cmd(c2, C::AgentLoggedOut { agent: a }).unwrap();
    assert_eq!(d2.conversation, vec![auto_wrapup(a)]);

    let d3 = w.cmd(c3, C::AgentLoggedOut { agent: a }).unwrap();
    assert_eq!(d3.conversation, vec![E::Ended, auto_wrapup(a)]);
    assert!(w.conv(c3).is_finished());

    assert_eq!(w.agent(a).load(), 0);
    assert_eq!(
        w.decide(c1, &C::AgentLoggedOut { agent: a }),
        Err(DomainError::NothingDue)
    );
    let events = w.agent_cmd(a, AgentCommand::LogOutLost).unwrap();
    assert_eq!(
        events,
        vec![AgentEvent::PresenceChanged {
            presence: Presence::LoggedOut,
            reason: PresenceReason::ConnectionLost
        }]
    );
    assert_eq!(decide::agent_next_deadline(w.agent(a), &w.policy), None);
    assert_eq!(
        w.decide_agent(a, &AgentCommand::LogOutLost),
        Err(DomainError::NothingDue)
    );

    // The returned chat is answered before a chat that arrived after it.
    let c4 = w.start_connected_chat(0);
    let b = w.ready_agent(1);
    assert_eq!(w.route(), vec![(c1, b)]);
    assert_eq!(w.status(c4), Status::Waiting);
}

#[test]
fn a_desktop_back_within_the_sign_out_grace_keeps_everything() {
    let mut w = world();
    let (a, c) = active(&mut w);
    disconnect(&mut w, a);
    w.advance(secs(119), true);
    w.agent_cmd(
        a,
        AgentCommand::Connect {
            connection_id: "desk-1".into(),
        },
    )
    .unwrap();
    w.advance(secs(3600), true);
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.status(c), Status::Active { owner: a });
}

#[test]
fn the_sign_out_grace_counts_from_sign_in_for_an_agent_not_yet_connected() {
    // An agent created long ago signs in (over REST) before the desktop's socket opens: they
    // must not be logged out at once for having been "disconnected" since their creation.
    let mut w = world();
    let a = w.add_agent(1);
    w.advance(secs(24 * 3600), true);
    let signed_in = w.now;
    w.agent_cmd(a, AgentCommand::SignIn).unwrap();
    let grace = Policy::default().signout_grace;
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &w.policy),
        Some(signed_in + grace)
    );
    assert_eq!(
        decide::agent_due(w.agent(a), w.now, &w.policy),
        AgentDue::default()
    );
    w.advance(secs(1), true);
    assert_ne!(w.presence(a), Presence::LoggedOut);
    // If the desktop never comes, the grace runs out from the sign-in.
    w.advance(grace.0, true);
    assert_eq!(w.presence(a), Presence::LoggedOut);
    assert_eq!(
        w.log.last(),
        Some(&Logged::Agent(
            a,
            AgentEvent::PresenceChanged {
                presence: Presence::LoggedOut,
                reason: PresenceReason::ConnectionLost
            },
            signed_in + grace
        ))
    );
}

// ---------------------------------------------------------------------------------------------
// Ending and wrap-up

#[test]
fn a_customer_end_closes_an_active_chat_and_the_agents_end_then_ends_it() {
    let mut w = world();
    let (a, c) = active(&mut w);
    let d = w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::Closed {
            reason: CloseReason::CustomerEnded
        }]
    );
    assert_eq!(w.status(c), Status::Closed);
    // Nobody may send on a closed chat; the agent still has it and it still counts.
    assert_eq!(
        w.decide(c, &C::CustomerSend { text: text("hi") }),
        Err(DomainError::ConversationClosed)
    );
    assert_eq!(
        w.decide(
            c,
            &C::AgentSend {
                agent: a,
                text: agent_text("hi"),
                template: None
            }
        ),
        Err(DomainError::ConversationClosed)
    );
    assert_eq!(
        w.decide(c, &C::CustomerEnd),
        Err(DomainError::ConversationClosed)
    );
    assert_eq!(w.agent(a).chats, BTreeSet::from([c]));
    assert_eq!(w.agent(a).load(), 1);
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);

    let d = w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(d.conversation, vec![E::Ended]);
    assert_eq!(w.status(c), Status::Ended);
    assert!(w.conv(c).wrapups.contains_key(&a));
    assert!(w.agent(a).chats.is_empty());
    assert_eq!(w.agent(a).wrapups, BTreeSet::from([c]));
    assert_eq!(w.agent(a).load(), 1, "counts until the wrap-up");
    assert!(!w.conv(c).is_finished());
    assert_eq!(
        w.decide(c, &C::End { agent: a }),
        Err(DomainError::ConversationEnded)
    );

    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(w.agent(a).load(), 0);
    assert!(w.conv(c).is_finished());
}

#[test]
fn the_agents_end_ends_an_active_chat_for_everyone() {
    let mut w = world();
    let (a, c) = active(&mut w);
    let stranger = w.ready_agent(1);
    assert_eq!(
        w.decide(c, &C::End { agent: stranger }),
        Err(DomainError::NotInConversation)
    );
    assert_eq!(
        w.decide(
            c,
            &C::AgentSend {
                agent: stranger,
                text: agent_text("hi"),
                template: None
            }
        ),
        Err(DomainError::NotInConversation)
    );
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(
        w.decide(c, &C::CustomerSend { text: text("hi") }),
        Err(DomainError::ConversationEnded)
    );
    assert_eq!(
        w.decide(c, &C::CustomerEnd),
        Err(DomainError::ConversationEnded)
    );
    assert_eq!(
        w.decide(
            c,
            &C::AgentSend {
                agent: a,
                text: agent_text("hi"),
                template: None
            }
        ),
        Err(DomainError::ConversationEnded)
    );
    // Ending before answering is not a thing: a waiting chat has no agent to end it.
    let c2 = w.start_connected_chat(0);
    assert_eq!(
        w.decide(c2, &C::End { agent: a }),
        Err(DomainError::NotInConversation)
    );
}

#[test]
fn a_wrap_up_is_submitted_once() {
    let mut w = world();
    let (a, c) = active(&mut w);
    assert_eq!(
        w.decide(c, &wrap_up(a)),
        Err(DomainError::NoWrapUpPending),
        "not before leaving the chat"
    );
    w.cmd(c, C::End { agent: a }).unwrap();
    let (reason_id, reason_name) = reason();
    let d = w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::WrappedUp {
            agent_id: a,
            reason_id,
            reason_name,
            auto: false
        }]
    );
    let before = w.conv(c).clone();
    assert_eq!(
        w.cmd(c, wrap_up(a)).unwrap_err(),
        DomainError::NoWrapUpPending
    );
    assert_eq!(w.conv(c), &before);
    let other = w.ready_agent(1);
    assert_eq!(
        w.decide(c, &wrap_up(other)),
        Err(DomainError::NoWrapUpPending)
    );
}

#[test]
fn wrap_up_is_automatic_after_the_timeout_when_configured() {
    let after = Millis::seconds(60);
    let mut w = World::new(Policy {
        auto_wrapup_after: Some(after),
        ..Policy::default()
    });
    let (a, c) = active(&mut w);
    w.advance_clock(secs(5));
    let ended_at = w.now;
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(
        decide::next_deadline(w.conv(c), &w.policy),
        Some(ended_at + after)
    );
    w.now = Timestamp((ended_at + after).0 - 1);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.now = ended_at + after;
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(d.conversation, vec![auto_wrapup(a)]);
    assert_eq!(w.agent(a).load(), 0);
    assert!(w.conv(c).is_finished());
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
}

#[test]
fn wrap_up_is_never_automatic_when_off() {
    let mut w = world();
    assert_eq!(w.policy.auto_wrapup_after, None);
    let (a, c) = active(&mut w);
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
    w.advance(secs(30 * 24 * 3600), true);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    assert!(w.conv(c).wrapups.contains_key(&a));
    assert_eq!(w.agent(a).load(), 1);
}

// ---------------------------------------------------------------------------------------------
// Customers who go away

#[test]
fn a_waiting_customer_away_past_the_grace_abandons_the_chat() {
    let mut w = world();
    let c = w.start_connected_chat(0);
    w.advance_clock(secs(10));
    let away = w.now;
    customer_disconnect(&mut w, c);
    let grace = Policy::default().customer_grace;
    assert_eq!(
        decide::next_deadline(w.conv(c), &w.policy),
        Some(away + grace)
    );
    w.now = Timestamp((away + grace).0 - 1);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.now = away + grace;
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::Abandoned {
            reason: AbandonReason::CustomerGone
        }]
    );
    assert!(w.conv(c).is_finished());
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
}

#[test]
fn a_chat_whose_widget_never_connects_is_abandoned_after_the_grace() {
    let mut w = world();
    let c = w.start_chat(0);
    assert_eq!(
        decide::next_deadline(w.conv(c), &w.policy),
        Some(T0 + Policy::default().customer_grace)
    );
    w.advance(Policy::default().customer_grace.0, true);
    assert_eq!(w.status(c), Status::Abandoned);
}

#[test]
fn a_waiting_customer_back_within_the_grace_keeps_their_place() {
    let mut w = world();
    let c1 = w.start_connected_chat(0);
    w.advance_clock(secs(1));
    let c2 = w.start_connected_chat(0);
    customer_disconnect(&mut w, c1);
    w.advance(Policy::default().customer_grace.0 - 1, true);
    customer_connect(&mut w, c1);
    assert_eq!(decide::next_deadline(w.conv(c1), &w.policy), None);
    w.advance(secs(3600), true);
    assert_eq!(w.status(c1), Status::Waiting);
    assert_eq!(w.conv(c1).front_at, T0);
    let a = w.ready_agent(1);
    assert_eq!(w.route(), vec![(c1, a)]);
    assert_eq!(w.status(c2), Status::Waiting);
}

#[test]
fn a_customer_with_another_tab_open_is_not_away() {
    let mut w = world();
    let c = w.start_connected_chat(0);
    w.cmd(
        c,
        C::CustomerConnected {
            connection_id: "widget-1".into(),
        },
    )
    .unwrap();
    customer_disconnect(&mut w, c);
    assert_eq!(w.conv(c).customer_away_since, None);
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
    // Connecting the same tab again, or closing one that is not open, is no event.
    assert!(w
        .decide(
            c,
            &C::CustomerConnected {
                connection_id: "widget-1".into()
            }
        )
        .unwrap()
        .is_empty());
    assert!(w
        .decide(
            c,
            &C::CustomerDisconnected {
                connection_id: "widget-0".into()
            }
        )
        .unwrap()
        .is_empty());
}

#[test]
fn an_offered_customer_away_past_the_grace_withdraws_the_offer_without_rona() {
    // A long offer timeout, so the customer's grace runs out first.
    let mut w = World::new(Policy {
        offer_timeout: Millis::minutes(5),
        ..Policy::default()
    });
    let (a, c) = offered(&mut w);
    customer_disconnect(&mut w, c);
    let grace = Policy::default().customer_grace;
    assert_eq!(
        decide::next_deadline(w.conv(c), &w.policy),
        Some(T0 + grace)
    );
    w.now = T0 + grace;
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferWithdrawn {
                agent_id: a,
                reason: WithdrawReason::CustomerLeft
            },
            E::Abandoned {
                reason: AbandonReason::CustomerGone
            }
        ]
    );
    assert!(d.agents.is_empty(), "no RONA for a customer who left");
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.agent(a).load(), 0);
}

#[test]
fn when_both_are_due_the_customers_absence_wins_over_rona() {
    // The engine was late: the offer timed out and the customer's grace ran out too. The
    // customer is gone, so nobody is put in RONA for not answering them.
    let mut w = world();
    let (a, c) = offered(&mut w);
    customer_disconnect(&mut w, c);
    w.advance(secs(3600), false);
    assert_eq!(w.status(c), Status::Abandoned);
    assert_eq!(w.presence(a), Presence::Available);
    // On time, the offer times out first (30 s), then the waiting chat is abandoned (2 min).
    let mut w = world();
    let (a, c) = offered(&mut w);
    customer_disconnect(&mut w, c);
    w.advance(secs(3600), true);
    assert_eq!(w.status(c), Status::Abandoned);
    assert_eq!(w.presence(a), Presence::Rona);
}

#[test]
fn an_active_customer_away_past_the_inactivity_timeout_closes_the_chat() {
    let mut w = world();
    let (a, c) = active(&mut w);
    w.advance_clock(secs(30));
    let away = w.now;
    customer_disconnect(&mut w, c);
    let inactivity = Policy::default().inactivity_timeout;
    assert_eq!(
        decide::next_deadline(w.conv(c), &w.policy),
        Some(away + inactivity),
        "the customer grace does not apply to an answered chat"
    );
    w.now = Timestamp((away + inactivity).0 - 1);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.now = away + inactivity;
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::Closed {
            reason: CloseReason::CustomerLeft
        }]
    );
    assert_eq!(w.status(c), Status::Closed);
    assert_eq!(w.conv(c).agents, vec![a]);
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
    // The agent ends it and wraps up as usual.
    w.cmd(c, C::End { agent: a }).unwrap();
    w.cmd(c, wrap_up(a)).unwrap();
    assert!(w.conv(c).is_finished());
}

#[test]
fn an_active_customer_back_before_the_inactivity_timeout_keeps_the_chat() {
    let mut w = world();
    let (a, c) = active(&mut w);
    customer_disconnect(&mut w, c);
    w.advance(Policy::default().inactivity_timeout.0 - 1, true);
    customer_connect(&mut w, c);
    w.advance(secs(24 * 3600), true);
    assert_eq!(w.status(c), Status::Active { owner: a });
}

// ---------------------------------------------------------------------------------------------
// Routing order

#[test]
fn the_queue_serves_higher_priority_first_then_the_earliest_place() {
    let mut w = world();
    let low_early = w.start_connected_chat(0);
    w.advance_clock(secs(1));
    let high_late = w.start_connected_chat(2);
    let mid = w.start_connected_chat(1);
    w.now = Timestamp(T0.0 + 500);
    let high_early = w.start_connected_chat(2);
    w.now = Timestamp(T0.0 + secs(2));
    let order: Vec<ConversationId> = std::iter::from_fn(|| {
        let c = routing::pick_conversation(w.convs.values())?.id;
        w.cmd(c, C::CustomerEnd).unwrap();
        Some(c)
    })
    .collect();
    assert_eq!(order, vec![high_early, high_late, mid, low_early]);

    // Only waiting chats are picked: an offered one is not in line.
    let mut w = world();
    let (_, offered_high) = {
        let a = w.ready_agent(1);
        let c = w.start_connected_chat(5);
        w.route();
        (a, c)
    };
    let waiting = w.start_connected_chat(0);
    assert_eq!(w.conv(offered_high).offered_to().is_some(), true);
    assert_eq!(
        routing::pick_conversation(w.convs.values()).map(|c| c.id),
        Some(waiting)
    );
}

#[test]
fn agents_are_chosen_by_fewest_chats_then_free_longest_then_id() {
    let mk = |n: u128, chats: u32, free_since: i64| {
        let mut a = Agent::new(agent_id(n), format!("A{n}"), 3, T0);
        a.presence = Presence::Available;
        a.connections.insert("desk".into());
        a.disconnected_since = None;
        for i in 0..chats {
            a.chats.insert(conversation_id(1000 * n + i as u128));
        }
        a.free_since = Timestamp(T0.0 + free_since);
        a
    };
    let busy = mk(1, 1, 0);
    let fresh = mk(2, 0, 10);
    let free_longest = mk(3, 0, 5);
    let twin = mk(4, 0, 5);
    let all = [
        busy.clone(),
        fresh.clone(),
        free_longest.clone(),
        twin.clone(),
    ];
    let pick = |agents: &[Agent]| routing::pick_agent(agents.iter()).map(|a| a.id);
    assert_eq!(
        pick(&all),
        Some(free_longest.id),
        "fewest chats, then free longest"
    );
    assert_eq!(
        pick(&[twin.clone(), free_longest.clone()]),
        Some(free_longest.id),
        "then the smaller id"
    );
    assert_eq!(pick(&[busy.clone(), fresh.clone()]), Some(fresh.id));

    // Anyone who may not be offered is skipped, however good their place.
    let mut idle = free_longest.clone();
    idle.presence = idle_code();
    let mut rona = free_longest.clone();
    rona.presence = Presence::Rona;
    let mut logged_out = free_longest.clone();
    logged_out.presence = Presence::LoggedOut;
    let mut gone = free_longest.clone();
    gone.connections.clear();
    gone.disconnected_since = Some(T0);
    let mut pending = free_longest.clone();
    pending.offer = Some(PendingOffer {
        conversation_id: conversation_id(77),
        deadline: T0,
    });
    let mut full = free_longest.clone();
    full.capacity = 2;
    full.wrapups.insert(conversation_id(78));
    full.wrapups.insert(conversation_id(79));
    for skipped in [idle, rona, logged_out, gone, pending, full] {
        assert!(!skipped.can_take_offer());
        assert_eq!(pick(&[skipped, busy.clone()]), Some(busy.id));
    }
}

#[test]
fn the_agent_free_longest_is_the_one_who_got_room_or_became_available_first() {
    let mut w = world();
    let a = w.ready_agent(1);
    w.advance_clock(secs(1));
    let b = w.ready_agent(1);
    w.advance_clock(secs(1));
    let c1 = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c1, a)], "A has been Available longer");
    w.cmd(c1, C::Accept { agent: a }).unwrap();
    w.cmd(c1, C::End { agent: a }).unwrap();
    w.advance_clock(secs(1));
    w.cmd(c1, wrap_up(a)).unwrap();
    assert_eq!(w.agent(a).free_since, w.now, "A got room again just now");
    let c2 = w.start_connected_chat(0);
    assert_eq!(
        w.route(),
        vec![(c2, b)],
        "B has been free longer than A now"
    );
}

// ---------------------------------------------------------------------------------------------
// Deadlines, sequence numbers, audiences

#[test]
fn next_deadline_is_the_earliest_thing_the_timers_owe_a_conversation() {
    let p = Policy {
        auto_wrapup_after: Some(Millis::seconds(90)),
        ..Policy::default()
    };
    let mut w = World::new(p.clone());
    // Waiting, customer here: nothing.
    let c = w.start_connected_chat(0);
    assert_eq!(decide::next_deadline(w.conv(c), &p), None);
    // Waiting, customer away: the grace.
    customer_disconnect(&mut w, c);
    assert_eq!(
        decide::next_deadline(w.conv(c), &p),
        Some(T0 + p.customer_grace)
    );
    customer_connect(&mut w, c);
    // Offered: the offer's deadline, or the customer's grace if earlier.
    let a = w.ready_agent(1);
    w.advance_clock(secs(3));
    w.route();
    let deadline = w.now + p.offer_timeout;
    assert_eq!(decide::next_deadline(w.conv(c), &p), Some(deadline));
    customer_disconnect(&mut w, c);
    assert_eq!(decide::next_deadline(w.conv(c), &p), Some(deadline));
    let tight = Policy {
        customer_grace: Millis::seconds(10),
        ..p.clone()
    };
    assert_eq!(
        decide::next_deadline(w.conv(c), &tight),
        Some(w.now + Millis::seconds(10))
    );
    customer_connect(&mut w, c);
    // Active: nothing while the customer is here; the inactivity timeout while away.
    w.cmd(c, C::Accept { agent: a }).unwrap();
    assert_eq!(decide::next_deadline(w.conv(c), &p), None);
    customer_disconnect(&mut w, c);
    assert_eq!(
        decide::next_deadline(w.conv(c), &p),
        Some(w.now + p.inactivity_timeout)
    );
    // Closed: nothing until the agent ends it; ended: the auto wrap-up.
    w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(decide::next_deadline(w.conv(c), &p), None);
    w.advance_clock(secs(7));
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(
        decide::next_deadline(w.conv(c), &p),
        Some(w.now + Millis::seconds(90))
    );
    assert_eq!(decide::next_deadline(w.conv(c), &Policy::default()), None);
    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(decide::next_deadline(w.conv(c), &p), None);
    // Abandoned: nothing.
    let c2 = w.start_chat(0);
    w.cmd(c2, C::CustomerEnd).unwrap();
    assert_eq!(decide::next_deadline(w.conv(c2), &p), None);
}

#[test]
fn agent_next_deadline_is_the_offer_grace_then_the_sign_out_grace() {
    let p = Policy::default();
    let mut w = world();
    let (a, _) = offered(&mut w);
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &p),
        None,
        "connected"
    );
    w.advance_clock(secs(4));
    let gone = w.now;
    disconnect(&mut w, a);
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &p),
        Some(gone + p.offer_disconnect_grace)
    );
    w.advance(p.offer_disconnect_grace.0, true);
    assert!(w.agent(a).offer.is_none());
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &p),
        Some(gone + p.signout_grace)
    );
    w.advance(secs(3600), true);
    assert_eq!(w.presence(a), Presence::LoggedOut);
    assert_eq!(
        decide::agent_next_deadline(w.agent(a), &p),
        None,
        "logged out"
    );
}

#[test]
fn sequence_numbers_count_every_event_and_the_customer_never_sees_offers_or_wrap_ups() {
    let mut w = world();
    let (a, c) = offered(&mut w);
    w.advance(secs(30), true); // RONA
    w.agent_cmd(a, AgentCommand::SetPresence(Presence::Available))
        .unwrap();
    w.route();
    w.cmd(c, C::Accept { agent: a }).unwrap();
    w.cmd(c, C::CustomerSend { text: text("Hi") }).unwrap();
    w.cmd(
        c,
        C::AgentSend {
            agent: a,
            text: agent_text("Hello"),
            template: None,
        },
    )
    .unwrap();
    w.cmd(c, C::End { agent: a }).unwrap();
    w.cmd(c, wrap_up(a)).unwrap();

    let kinds: Vec<&str> = w.events(c).iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            "started",
            "queued",
            "customer_connected",
            "offered",
            "offer_timed_out",
            "queued",
            "offered",
            "accepted",
            "message",
            "message",
            "ended",
            "wrapped_up"
        ]
    );
    assert_eq!(w.conv(c).head_seq, kinds.len() as u64);
    let customer: Vec<&str> = w
        .events(c)
        .iter()
        .filter(|e| e.audience() == Audience::Everyone)
        .map(|e| e.kind())
        .collect();
    assert_eq!(
        customer,
        vec!["started", "queued", "queued", "accepted", "message", "message", "ended"]
    );
    for e in w.events(c) {
        if matches!(
            e,
            E::Offered { .. }
                | E::OfferTimedOut { .. }
                | E::OfferWithdrawn { .. }
                | E::WrappedUp { .. }
        ) {
            assert_eq!(e.audience(), Audience::AgentsOnly);
        }
    }
}

#[test]
fn a_refused_command_changes_nothing() {
    let mut w = world();
    let (a, c) = active(&mut w);
    let before = (w.conv(c).clone(), w.agents.clone(), w.log.len());
    assert!(w.cmd(c, C::Accept { agent: a }).is_err());
    assert!(w.cmd(c, wrap_up(a)).is_err());
    assert!(w.cmd(c, C::Tick).is_err());
    assert!(w.cmd(c, C::WithdrawOffer { agent: a }).is_err());
    assert!(w.agent_cmd(a, AgentCommand::SignOut).is_err());
    assert_eq!((w.conv(c).clone(), w.agents.clone(), w.log.len()), before);
}

// ---------------------------------------------------------------------------------------------
// Transfer, conference, asset deleted (issue 3)

fn everyone(e: &ConversationEvent) -> bool {
    e.audience() == Audience::Everyone
}

/// Two ready agents (capacity 2 each) and a chat the first has accepted.
fn owned_with_colleague(w: &mut World) -> (AgentId, AgentId, ConversationId) {
    let a = w.ready_agent(2);
    let b = w.ready_agent(2);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    (a, b, c)
}

/// A conference: the first agent owns the chat, the second has joined it.
fn conference(w: &mut World) -> (AgentId, AgentId, ConversationId) {
    let (a, b, c) = owned_with_colleague(w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    w.cmd(c, C::Accept { agent: b }).unwrap();
    assert_eq!(w.conv(c).agents, vec![a, b]);
    (a, b, c)
}

fn send_as(w: &World, c: ConversationId, agent: AgentId) -> Result<decide::Decision, DomainError> {
    w.decide(
        c,
        &C::AgentSend {
            agent,
            text: agent_text("Hello"),
            template: None,
        },
    )
}

#[test]
fn transfer_and_invitation_are_the_owners_alone_with_no_invitation_pending() {
    let mut w = world();
    let a = w.ready_agent(3);
    let b = w.ready_agent(3);
    let x = w.ready_agent(3);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    let to_queue = |w: &World, by| w.transfer_to_queue(by, w.sales_queue_id, 0);
    let refusals = |w: &World, by: AgentId, target: AgentId| {
        vec![
            w.decide(c, &to_queue(w, by)).unwrap_err(),
            w.decide(c, &C::TransferToAgent { agent: by, target })
                .unwrap_err(),
            w.decide(c, &C::Invite { agent: by, target }).unwrap_err(),
        ]
    };
    // Not before the chat is accepted.
    assert_eq!(refusals(&w, a, x), vec![DomainError::NotInConversation; 3]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    // Not by an agent who is not in it.
    assert_eq!(refusals(&w, x, b), vec![DomainError::NotInConversation; 3]);
    // Not while an invitation is pending: one at a time.
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    assert_eq!(refusals(&w, a, x), vec![DomainError::InvitationPending; 3]);
    // Not by the other agent of a conference, and not by the owner while two are in it.
    w.cmd(c, C::Accept { agent: b }).unwrap();
    assert_eq!(refusals(&w, b, x), vec![DomainError::NotOwner; 3]);
    assert_eq!(
        w.decide(c, &C::CancelInvitation { agent: b }),
        Err(DomainError::NotOwner)
    );
    assert_eq!(
        refusals(&w, a, x),
        vec![DomainError::ConferenceInProgress; 3]
    );
    // Not once the chat is closed.
    w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(refusals(&w, a, x), vec![DomainError::ConversationClosed; 3]);
}

#[test]
fn a_transfer_or_an_invitation_goes_only_to_another_agent_who_can_take_it_now() {
    let mut w = world();
    let a = w.ready_agent(3);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();

    let idle = w.ready_agent(1);
    w.agent_cmd(idle, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    let gone = w.ready_agent(1);
    disconnect(&mut w, gone);
    let logged_out = w.add_agent(1);
    let unknown = agent_id(99);
    let busy = w.ready_agent(1);
    let c2 = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c2, busy)]);

    let refused = |w: &World, target: AgentId| {
        let t = w.decide(c, &C::TransferToAgent { agent: a, target });
        let i = w.decide(c, &C::Invite { agent: a, target });
        assert_eq!(t.clone().map(|_| ()), i.map(|_| ()));
        t.unwrap_err()
    };
    assert_eq!(refused(&w, a), DomainError::CannotTargetSelf);
    assert_eq!(refused(&w, idle), DomainError::AgentNotAvailable);
    assert_eq!(refused(&w, gone), DomainError::AgentNotAvailable);
    assert_eq!(refused(&w, logged_out), DomainError::AgentNotAvailable);
    assert_eq!(refused(&w, unknown), DomainError::AgentNotAvailable);
    // An offer pending (one at a time), then no room once it is accepted.
    assert_eq!(refused(&w, busy), DomainError::OfferAlreadyPending);
    w.cmd(c2, C::Accept { agent: busy }).unwrap();
    assert_eq!(refused(&w, busy), DomainError::AgentAtCapacity);
    // Inviting an agent who went Idle a moment ago.
    let b = w.ready_agent(2);
    w.agent_cmd(b, AgentCommand::SetPresence(idle_code()))
        .unwrap();
    assert_eq!(refused(&w, b), DomainError::AgentNotAvailable);
    w.agent_cmd(b, AgentCommand::SetPresence(Presence::Available))
        .unwrap();
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
}

#[test]
fn a_chat_transferred_to_a_queue_waits_there_like_a_new_chat_placed_by_the_transfer_time() {
    let mut w = world();
    let sales = w.sales_queue_id;
    w.offer_timeouts.insert(sales, Millis::seconds(12));
    let a = w.ready_agent(2);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    w.cmd(c, C::CustomerSend { text: text("Hi") }).unwrap();
    w.advance_clock(secs(10));
    let earlier = w.start_connected_chat(0);
    w.advance_clock(secs(10));
    let transfer_at = w.now;

    let d = w.cmd(c, w.transfer_to_queue(a, sales, 0)).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::TransferRequested {
                agent_id: a,
                agent_name: "Agent 1".into(),
                target: TransferTarget::Queue {
                    queue_id: sales,
                    queue_name: "Sales".into()
                }
            },
            E::AgentLeft {
                agent_id: a,
                agent_name: "Agent 1".into(),
                by_system: false
            },
            E::Queued {
                queue_id: sales,
                queue_name: "Sales".into(),
                priority: 0,
                front_at: transfer_at,
                reason: QueueReason::Transferred
            }
        ]
    );
    assert!(d.agents.is_empty());
    // The customer is told they are being transferred.
    assert!(d.conversation.iter().all(everyone));
    let conv = w.conv(c);
    assert_eq!(conv.status, Status::Waiting);
    assert_eq!((conv.queue_id, conv.queue_name.as_str()), (sales, "Sales"));
    assert_eq!(
        conv.arrived_at, T0,
        "the first arrival is kept for reporting"
    );
    assert_eq!(
        conv.front_at, transfer_at,
        "its place in line: the transfer time"
    );
    assert!(conv.agents.is_empty());
    // Its history stays with it.
    assert!(w.events(c).iter().any(|e| matches!(e, E::Message { .. })));
    // The transferring agent left at once and owes a wrap-up; it still counts until then.
    assert_eq!(w.agent(a).chats, BTreeSet::new());
    assert_eq!(w.agent(a).wrapups, BTreeSet::from([c]));
    assert_eq!(w.agent(a).load(), 1);
    assert_eq!(
        w.agent_cmd(a, AgentCommand::SignOut),
        Err(DomainError::ChatsOpen)
    );
    // Two transfers of the same chat: the second is refused.
    assert_eq!(
        w.decide(c, &w.transfer_to_queue(a, w.queue_id, 0)),
        Err(DomainError::NotInConversation)
    );

    // In line: behind the chat that arrived before the transfer, ahead of one after it.
    w.advance_clock(secs(10));
    let later = w.start_connected_chat(0);
    let b = w.ready_agent(3);
    assert_eq!(w.route(), vec![(earlier, a), (c, b)]);
    assert_eq!(w.status(later), Status::Waiting);
    // Offered with its new queue's timeout, as a new chat (not a transfer offer).
    assert_eq!(
        w.status(c),
        Status::Offered {
            agent_id: b,
            deadline: w.now + Millis::seconds(12),
            transfer: false
        }
    );
    w.cmd(c, C::Accept { agent: b }).unwrap();
    assert_eq!(w.status(c), Status::Active { owner: b });
    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(w.agent(a).wrapups, BTreeSet::new());
    assert_eq!(w.conv(c).ever_agents, BTreeSet::from([a, b]));
}

#[test]
fn a_chat_is_not_offered_back_to_whoever_transferred_it_nor_to_an_agent_owing_its_wrap_up() {
    let mut w = world();
    let a = w.ready_agent(2);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    w.cmd(c, w.transfer_to_queue(a, w.queue_id, 0)).unwrap();
    // a is Available with room, and first for routing, but is not offered it back.
    assert_eq!(
        routing::pick_agent(w.agents.values()).map(|x| x.id),
        Some(a)
    );
    assert_eq!(
        w.decide(c, &C::Offer { agent: a }),
        Err(DomainError::AgentNotAvailable)
    );
    assert_eq!(w.route(), vec![]);
    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(
        w.decide(c, &C::Offer { agent: a }),
        Err(DomainError::AgentNotAvailable)
    );
    let b = w.ready_agent(2);
    assert_eq!(w.route(), vec![(c, b)]);
    w.cmd(c, C::Accept { agent: b }).unwrap();

    // An agent who left a conference and still owes its wrap-up is not brought back into
    // it (they would be in it and owe its wrap-up at once): not invited, not transferred
    // to, not offered it.
    let x = w.ready_agent(2);
    w.cmd(
        c,
        C::Invite {
            agent: b,
            target: x,
        },
    )
    .unwrap();
    w.cmd(c, C::Accept { agent: x }).unwrap();
    w.cmd(c, C::LeaveConference { agent: x }).unwrap();
    assert!(w.agent(x).can_take_offer());
    for command in [
        C::Invite {
            agent: b,
            target: x,
        },
        C::TransferToAgent {
            agent: b,
            target: x,
        },
    ] {
        assert_eq!(w.decide(c, &command), Err(DomainError::AgentNotAvailable));
    }
    w.cmd(c, w.transfer_to_queue(b, w.queue_id, 0)).unwrap();
    assert_eq!(
        w.decide(c, &C::Offer { agent: x }),
        Err(DomainError::AgentNotAvailable)
    );
    assert_eq!(w.route(), vec![]);
    // Once x has wrapped up, the chat may go to them.
    w.cmd(c, wrap_up(x)).unwrap();
    assert_eq!(w.route(), vec![(c, x)]);
}

#[test]
fn a_chat_transferred_to_an_agent_is_offered_with_the_queues_timeout_and_accepting_owns_it() {
    let mut w = world();
    w.offer_timeouts.insert(w.queue_id, Millis::seconds(20));
    let a = w.ready_agent(1);
    let b = w.ready_agent(1);
    let x = w.ready_agent(1);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    w.cmd(c, C::CustomerSend { text: text("Hi") }).unwrap();
    w.advance_clock(secs(5));

    let d = w
        .cmd(
            c,
            C::TransferToAgent {
                agent: a,
                target: b,
            },
        )
        .unwrap();
    let deadline = w.now + Millis::seconds(20);
    assert_eq!(
        d.conversation,
        vec![
            E::TransferRequested {
                agent_id: a,
                agent_name: "Agent 1".into(),
                target: TransferTarget::Agent {
                    agent_id: b,
                    agent_name: "Agent 2".into()
                }
            },
            E::AgentLeft {
                agent_id: a,
                agent_name: "Agent 1".into(),
                by_system: false
            },
            E::Offered {
                agent_id: b,
                agent_name: "Agent 2".into(),
                deadline,
                transfer: true
            }
        ]
    );
    assert_eq!(
        w.status(c),
        Status::Offered {
            agent_id: b,
            deadline,
            transfer: true
        }
    );
    assert_eq!(w.conv(c).front_at, T0);
    assert_eq!(
        w.agent(b).offer,
        Some(PendingOffer {
            conversation_id: c,
            deadline
        })
    );
    // The transferring agent left at once; their capacity is freed only by their wrap-up.
    assert_eq!(w.agent(a).wrapups, BTreeSet::from([c]));
    assert_eq!(w.agent(a).load(), 1);
    // Only the agent it is offered to may accept it.
    for other in [a, x] {
        assert_eq!(
            w.decide(c, &C::Accept { agent: other }),
            Err(DomainError::NoSuchOffer)
        );
    }
    w.now = Timestamp(deadline.0 - 1);
    let d = w.cmd(c, C::Accept { agent: b }).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::TransferAccepted {
            agent_id: b,
            agent_name: "Agent 2".into()
        }]
    );
    assert!(everyone(&d.conversation[0]));
    assert_eq!(w.status(c), Status::Active { owner: b });
    assert_eq!(w.conv(c).agents, vec![b]);
    // They may read the whole thread and write; the one who left may not.
    assert!(w.conv(c).ever_agents.contains(&b));
    send_as(&w, c, b).unwrap();
    assert_eq!(send_as(&w, c, a), Err(DomainError::NotInConversation));
    assert_eq!(w.agent(b).chats, BTreeSet::from([c]));
    assert_eq!(w.agent(b).load(), 1);
    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(w.agent(a).load(), 0);
}

#[test]
fn a_transfer_not_accepted_in_time_is_rejected_with_rona_and_the_chat_back_at_the_front() {
    let mut w = world();
    let a = w.ready_agent(1);
    let b = w.ready_agent(1);
    let c = w.start_connected_chat(0);
    assert_eq!(w.route(), vec![(c, a)]);
    w.cmd(c, C::Accept { agent: a }).unwrap();
    w.advance_clock(secs(10));
    let later = w.start_connected_chat(0);
    w.advance_clock(secs(10));
    w.cmd(
        c,
        C::TransferToAgent {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let deadline = w.now + Policy::default().offer_timeout;
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), Some(deadline));

    w.now = Timestamp(deadline.0 - 1);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.now = deadline;
    // Accepting a transfer after it timed out (before the timer) is refused.
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::TransferRejected { agent_id: b },
            queued(&w, c, QueueReason::TransferRejected)
        ]
    );
    assert_eq!(
        d.agents,
        vec![(
            b,
            AgentEvent::PresenceChanged {
                presence: Presence::Rona,
                reason: PresenceReason::Rona
            }
        )]
    );
    assert!(!everyone(&d.conversation[0]), "the customer never sees it");
    assert_eq!(w.presence(b), Presence::Rona);
    assert_eq!(w.agent(b).load(), 0);
    assert_eq!(w.status(c), Status::Waiting);
    assert_eq!(w.conv(c).queue_id, w.queue_id, "the queue it was in");
    assert_eq!(
        w.conv(c).front_at,
        T0,
        "back to the front: the place it had"
    );
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
    // The next agent gets it before the chat that arrived after it.
    let x = w.ready_agent(1);
    assert_eq!(w.route(), vec![(c, x)]);
    assert_eq!(w.status(later), Status::Waiting);
}

#[test]
fn an_invitation_reads_conference_requested_until_accepted_then_conference() {
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    let x = w.ready_agent(2);
    assert_eq!(w.conv(c).control_state(), "active");
    let d = w
        .cmd(
            c,
            C::Invite {
                agent: a,
                target: b,
            },
        )
        .unwrap();
    let deadline = w.now + Policy::default().offer_timeout;
    assert_eq!(
        d.conversation,
        vec![E::ConferenceRequested {
            agent_id: b,
            agent_name: "Agent 2".into(),
            deadline
        }]
    );
    assert!(!everyone(&d.conversation[0]));
    assert_eq!(w.conv(c).control_state(), "conference_requested");
    assert_eq!(w.status(c), Status::Active { owner: a });
    assert_eq!(w.conv(c).agents, vec![a]);
    assert_eq!(
        w.agent(b).offer,
        Some(PendingOffer {
            conversation_id: c,
            deadline
        })
    );
    assert_eq!(w.agent(b).load(), 1, "an invitation counts as an offer");
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), Some(deadline));
    // One invitation at a time.
    assert_eq!(
        w.decide(
            c,
            &C::Invite {
                agent: a,
                target: x
            }
        ),
        Err(DomainError::InvitationPending)
    );
    // Only the invited agent may accept.
    for other in [a, x] {
        assert_eq!(
            w.decide(c, &C::Accept { agent: other }),
            Err(DomainError::NoSuchOffer)
        );
    }

    w.now = Timestamp(deadline.0 - 1);
    let d = w.cmd(c, C::Accept { agent: b }).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::ConferenceJoined {
            agent_id: b,
            agent_name: "Agent 2".into()
        }]
    );
    // Every participant, the customer too, sees that the agent joined.
    assert!(everyone(&d.conversation[0]));
    let conv = w.conv(c);
    assert_eq!(conv.control_state(), "conference");
    assert_eq!(conv.status, Status::Active { owner: a });
    assert_eq!(conv.agents, vec![a, b], "owner first");
    assert_eq!(conv.conference_agent(), Some(b));
    assert_eq!(conv.invitation, None);
    // Both read and send; it counts against each one's capacity.
    send_as(&w, c, a).unwrap();
    send_as(&w, c, b).unwrap();
    w.cmd(c, C::CustomerSend { text: text("Hi") }).unwrap();
    assert_eq!(w.agent(a).chats, BTreeSet::from([c]));
    assert_eq!(w.agent(b).chats, BTreeSet::from([c]));
    assert_eq!((w.agent(a).load(), w.agent(b).load()), (1, 1));
    assert_eq!(w.agent(b).offer, None);
    // At most two agents.
    assert_eq!(
        w.decide(
            c,
            &C::Invite {
                agent: a,
                target: x
            }
        ),
        Err(DomainError::ConferenceInProgress)
    );
}

#[test]
fn an_invitation_not_accepted_in_time_is_withdrawn_and_the_invited_agent_goes_to_rona() {
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let deadline = w.now + Policy::default().offer_timeout;
    w.now = Timestamp(deadline.0 - 1);
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.now = deadline;
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer),
        "too late, even before the timer"
    );
    let d = w.cmd(c, C::Tick).unwrap();
    assert_eq!(d.conversation, vec![E::ConferenceWithdrawn { agent_id: b }]);
    assert_eq!(
        d.agents,
        vec![(
            b,
            AgentEvent::PresenceChanged {
                presence: Presence::Rona,
                reason: PresenceReason::Rona
            }
        )]
    );
    // The owner is told (the agents' audience); the customer is not.
    assert!(!everyone(&d.conversation[0]));
    assert_eq!(w.presence(b), Presence::Rona);
    assert_eq!(w.agent(b).offer, None);
    assert_eq!(w.agent(b).load(), 0);
    let conv = w.conv(c);
    assert_eq!(conv.status, Status::Active { owner: a });
    assert_eq!(conv.agents, vec![a]);
    assert_eq!(conv.control_state(), "active");
    assert_eq!(decide::next_deadline(conv, &w.policy), None);
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
}

#[test]
fn the_owner_cancels_a_pending_invitation_without_rona() {
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    assert_eq!(
        w.decide(c, &C::CancelInvitation { agent: a }),
        Err(DomainError::NoInvitation)
    );
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let deadline = w.now + Policy::default().offer_timeout;
    assert_eq!(
        w.decide(c, &C::CancelInvitation { agent: b }),
        Err(DomainError::NotInConversation)
    );
    let d = w.cmd(c, C::CancelInvitation { agent: a }).unwrap();
    assert_eq!(d.conversation, vec![E::ConferenceCancelled { agent_id: b }]);
    assert!(d.agents.is_empty(), "no RONA");
    assert!(!everyone(&d.conversation[0]));
    assert_eq!(w.presence(b), Presence::Available);
    assert_eq!(w.agent(b).offer, None);
    assert_eq!(w.conv(c).control_state(), "active");
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
    assert_eq!(
        w.decide(c, &C::CancelInvitation { agent: a }),
        Err(DomainError::NoInvitation)
    );
    // Nothing is due at the old deadline; the owner may invite again.
    w.now = deadline;
    assert_eq!(tick(&w, c), Err(DomainError::NothingDue));
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
}

#[test]
fn the_other_agent_leaving_a_conference_wraps_up_and_the_chat_goes_on() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    // The other agent cannot end the whole chat; End conference makes them leave.
    assert_eq!(
        w.decide(c, &C::End { agent: b }),
        Err(DomainError::NotOwner)
    );
    let d = w.cmd(c, C::LeaveConference { agent: b }).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::ConferenceLeft {
            agent_id: b,
            agent_name: "Agent 2".into()
        }]
    );
    assert!(
        everyone(&d.conversation[0]),
        "the owner and the customer see it"
    );
    let conv = w.conv(c);
    assert_eq!(conv.status, Status::Active { owner: a });
    assert_eq!(conv.agents, vec![a]);
    assert_eq!(conv.control_state(), "active");
    assert!(conv.wrapups.contains_key(&b));
    assert_eq!(w.agent(b).chats, BTreeSet::new());
    assert_eq!(w.agent(b).wrapups, BTreeSet::from([c]));
    assert_eq!(w.agent(b).load(), 1, "counts until the wrap-up");
    send_as(&w, c, a).unwrap();
    assert_eq!(send_as(&w, c, b), Err(DomainError::NotInConversation));
    w.cmd(
        c,
        C::CustomerSend {
            text: text("Still here"),
        },
    )
    .unwrap();
    // Alone, the owner ends rather than leaves.
    assert_eq!(
        w.decide(c, &C::LeaveConference { agent: a }),
        Err(DomainError::NotInConference)
    );
    w.cmd(c, wrap_up(b)).unwrap();
    assert_eq!(w.agent(b).load(), 0);
    assert_eq!(w.status(c), Status::Active { owner: a });
}

#[test]
fn the_owner_leaving_a_conference_makes_the_other_agent_the_owner() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    let d = w.cmd(c, C::LeaveConference { agent: a }).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::ConferenceLeft {
                agent_id: a,
                agent_name: "Agent 1".into()
            },
            E::OwnerChanged {
                agent_id: b,
                agent_name: "Agent 2".into()
            }
        ]
    );
    assert!(everyone(&d.conversation[0]));
    assert!(!everyone(&d.conversation[1]));
    let conv = w.conv(c);
    assert_eq!(conv.status, Status::Active { owner: b });
    assert_eq!(conv.agents, vec![b]);
    assert_eq!(conv.owner(), Some(b));
    assert_eq!(w.agent(a).wrapups, BTreeSet::from([c]));
    // The new owner transfers, invites and ends; the one who left no longer can.
    assert_eq!(
        w.decide(c, &w.transfer_to_queue(a, w.queue_id, 0)),
        Err(DomainError::NotInConversation)
    );
    w.decide(c, &w.transfer_to_queue(b, w.queue_id, 0)).unwrap();
    assert_eq!(
        w.cmd(c, C::End { agent: b }).unwrap().conversation,
        vec![E::Ended]
    );
    assert_eq!(w.conv(c).wrapups.keys().copied().collect::<Vec<_>>(), {
        let mut v = vec![a, b];
        v.sort();
        v
    });
}

#[test]
fn the_owner_ending_a_conference_ends_it_for_both_and_both_wrap_up() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    let d = w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(d.conversation, vec![E::Ended]);
    assert_eq!(w.status(c), Status::Ended);
    for x in [a, b] {
        assert!(w.conv(c).wrapups.contains_key(&x));
        assert_eq!(w.agent(x).chats, BTreeSet::new());
        assert_eq!(w.agent(x).wrapups, BTreeSet::from([c]));
        assert_eq!(w.agent(x).load(), 1);
    }
    w.cmd(c, wrap_up(a)).unwrap();
    assert!(!w.conv(c).is_finished());
    w.cmd(c, wrap_up(b)).unwrap();
    assert!(w.conv(c).is_finished());
    assert_eq!((w.agent(a).load(), w.agent(b).load()), (0, 0));
}

#[test]
fn the_customer_ending_while_an_invitation_is_pending_cancels_it_and_closes_the_chat() {
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let d = w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::ConferenceCancelled { agent_id: b },
            E::Closed {
                reason: CloseReason::CustomerEnded
            }
        ]
    );
    assert!(d.agents.is_empty(), "no RONA");
    assert_eq!(w.status(c), Status::Closed);
    assert_eq!(w.conv(c).invitation, None);
    assert_eq!(w.presence(b), Presence::Available);
    assert_eq!(w.agent(b).load(), 0);
    assert_eq!(
        w.decide(c, &C::Accept { agent: b }),
        Err(DomainError::NoSuchOffer)
    );
    assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
    assert_eq!(
        w.cmd(c, C::End { agent: a }).unwrap().conversation,
        vec![E::Ended]
    );
    w.cmd(c, wrap_up(a)).unwrap();
    assert!(w.conv(c).is_finished());
}

#[test]
fn a_closed_conference_is_ended_by_each_agent_and_both_wrap_up() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    w.cmd(c, C::CustomerEnd).unwrap();
    assert_eq!(w.status(c), Status::Closed);
    for x in [a, b] {
        assert_eq!(send_as(&w, c, x), Err(DomainError::ConversationClosed));
        assert_eq!(
            w.decide(c, &C::LeaveConference { agent: x }),
            Err(DomainError::ConversationClosed)
        );
    }
    // The other agent may end it too: the first one out leaves, the last one ends it.
    let d = w.cmd(c, C::End { agent: b }).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::AgentLeft {
            agent_id: b,
            agent_name: "Agent 2".into(),
            by_system: false
        }]
    );
    assert_eq!(w.status(c), Status::Closed);
    assert_eq!(w.conv(c).agents, vec![a]);
    assert_eq!(
        w.cmd(c, C::End { agent: a }).unwrap().conversation,
        vec![E::Ended]
    );
    w.cmd(c, wrap_up(a)).unwrap();
    w.cmd(c, wrap_up(b)).unwrap();
    assert!(w.conv(c).is_finished());
}

#[test]
fn deleting_the_asset_takes_a_waiting_or_offered_chat_out_of_line_as_interrupted() {
    let mut w = world();
    let (a, offered_chat) = offered(&mut w);
    let waiting = w.start_connected_chat(0);
    let d = w.cmd(offered_chat, C::Interrupt).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferWithdrawn {
                agent_id: a,
                reason: WithdrawReason::Interrupted
            },
            E::Interrupted
        ]
    );
    assert!(d.agents.is_empty(), "withdrawn without RONA");
    assert_eq!(w.presence(a), Presence::Available);
    assert_eq!(w.agent(a).offer, None);
    assert_eq!(w.status(offered_chat), Status::Interrupted, "not abandoned");
    assert!(w.conv(offered_chat).is_finished());
    assert!(
        everyone(&E::Interrupted),
        "the customer is told the chat has ended"
    );

    let d = w.cmd(waiting, C::Interrupt).unwrap();
    assert_eq!(d.conversation, vec![E::Interrupted]);
    assert_eq!(w.status(waiting), Status::Interrupted);
    for c in [offered_chat, waiting] {
        assert_eq!(w.decide(c, &C::Interrupt), Err(DomainError::NothingDue));
        assert_eq!(
            w.decide(c, &C::CustomerSend { text: text("hi") }),
            Err(DomainError::ConversationEnded)
        );
        assert_eq!(decide::next_deadline(w.conv(c), &w.policy), None);
    }
    assert_eq!(w.route(), vec![]);

    // A chat offered to an agent by a transfer: withdrawn too (no RONA); the agent who
    // transferred it still wraps up.
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::TransferToAgent {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let d = w.cmd(c, C::Interrupt).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::OfferWithdrawn {
                agent_id: b,
                reason: WithdrawReason::Interrupted
            },
            E::Interrupted
        ]
    );
    assert!(d.agents.is_empty());
    assert_eq!(w.status(c), Status::Interrupted);
    assert_eq!(w.agent(b).load(), 0);
    assert_eq!(w.agent(a).wrapups, BTreeSet::from([c]));
    assert!(!w.conv(c).is_finished());
    w.cmd(c, wrap_up(a)).unwrap();
    assert!(w.conv(c).is_finished());
}

#[test]
fn deleting_the_asset_of_an_answered_chat_closes_it_and_each_agent_ends_and_wraps_up() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    let d = w.cmd(c, C::Interrupt).unwrap();
    assert_eq!(
        d.conversation,
        vec![E::Closed {
            reason: CloseReason::Interrupted
        }]
    );
    assert!(everyone(&d.conversation[0]));
    assert_eq!(w.status(c), Status::Closed);
    assert_eq!(w.conv(c).agents, vec![a, b]);
    // Nobody can send; transfers and invitations are over.
    for x in [a, b] {
        assert_eq!(send_as(&w, c, x), Err(DomainError::ConversationClosed));
    }
    assert_eq!(
        w.decide(c, &C::CustomerSend { text: text("hi") }),
        Err(DomainError::ConversationClosed)
    );
    assert_eq!(
        w.decide(c, &w.transfer_to_queue(a, w.queue_id, 0)),
        Err(DomainError::ConversationClosed)
    );
    assert_eq!(w.decide(c, &C::Interrupt), Err(DomainError::NothingDue));
    // Each agent ends it and wraps up; until then it counts.
    assert_eq!((w.agent(a).load(), w.agent(b).load()), (1, 1));
    w.cmd(c, C::End { agent: a }).unwrap();
    w.cmd(c, C::End { agent: b }).unwrap();
    assert_eq!(w.status(c), Status::Ended);
    w.cmd(c, wrap_up(a)).unwrap();
    w.cmd(c, wrap_up(b)).unwrap();
    assert!(w.conv(c).is_finished());

    // With an invitation pending: it is cancelled first, without RONA.
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let d = w.cmd(c, C::Interrupt).unwrap();
    assert_eq!(
        d.conversation,
        vec![
            E::ConferenceCancelled { agent_id: b },
            E::Closed {
                reason: CloseReason::Interrupted
            }
        ]
    );
    assert!(d.agents.is_empty());
    assert_eq!(w.presence(b), Presence::Available);
    assert_eq!(w.agent(b).load(), 0);
    assert_eq!(
        w.cmd(c, C::End { agent: a }).unwrap().conversation,
        vec![E::Ended]
    );
}

#[test]
fn deleting_the_asset_of_a_chat_already_closed_or_over_does_nothing() {
    let mut w = world();
    let (a, c) = active(&mut w);
    w.cmd(c, C::CustomerEnd).unwrap();
    let before = (w.conv(c).clone(), w.agents.clone());
    assert_eq!(w.cmd(c, C::Interrupt).unwrap_err(), DomainError::NothingDue);
    assert_eq!((w.conv(c).clone(), w.agents.clone()), before);
    w.cmd(c, C::End { agent: a }).unwrap();
    assert_eq!(w.decide(c, &C::Interrupt), Err(DomainError::NothingDue));
    w.cmd(c, wrap_up(a)).unwrap();
    assert_eq!(w.decide(c, &C::Interrupt), Err(DomainError::NothingDue));
    // An abandoned chat stays abandoned.
    let c2 = w.start_connected_chat(0);
    w.cmd(c2, C::CustomerEnd).unwrap();
    assert_eq!(w.decide(c2, &C::Interrupt), Err(DomainError::NothingDue));
    assert!(matches!(w.status(c2), Status::Abandoned));
}

#[test]
fn a_transfer_offer_or_an_invitation_to_a_desktop_that_is_gone_is_withdrawn_without_rona() {
    let grace = Policy::default().offer_disconnect_grace;

    // A transfer offer: withdrawn, the chat back to its place in line.
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::TransferToAgent {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    disconnect(&mut w, b);
    w.advance(grace.0, true);
    let events = w.events(c);
    assert_eq!(
        events[events.len() - 2..],
        [
            E::OfferWithdrawn {
                agent_id: b,
                reason: WithdrawReason::AgentDisconnected
            },
            queued(&w, c, QueueReason::OfferWithdrawn)
        ]
    );
    assert_eq!(w.status(c), Status::Waiting);
    assert_eq!(w.presence(b), Presence::Available, "no RONA");
    assert_eq!(w.agent(b).offer, None);

    // An invitation: cancelled (the agent timers deliver it as for any offer).
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    disconnect(&mut w, b);
    assert_eq!(
        decide::agent_next_deadline(w.agent(b), &w.policy),
        Some(w.now + grace)
    );
    w.advance(grace.0, true);
    assert_eq!(
        w.events(c).last(),
        Some(&E::ConferenceCancelled { agent_id: b })
    );
    assert_eq!(w.presence(b), Presence::Available, "no RONA");
    assert_eq!(w.agent(b).offer, None);
    assert_eq!(w.status(c), Status::Active { owner: a });
    assert_eq!(w.conv(c).invitation, None);
}

#[test]
fn an_agent_logged_out_in_a_conference_leaves_the_chat_to_the_other() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    disconnect(&mut w, a);
    w.advance(Policy::default().signout_grace.0, true);
    assert_eq!(w.presence(a), Presence::LoggedOut);
    assert_eq!(w.agent(a).load(), 0);
    let events = w.events(c);
    assert_eq!(
        events[events.len() - 3..],
        [
            E::ConferenceLeft {
                agent_id: a,
                agent_name: "Agent 1".into()
            },
            E::OwnerChanged {
                agent_id: b,
                agent_name: "Agent 2".into()
            },
            auto_wrapup(a)
        ]
    );
    assert_eq!(w.status(c), Status::Active { owner: b });
    assert_eq!(w.conv(c).agents, vec![b]);

    // The invited agent logged out: the invitation is cancelled (no RONA).
    let mut w = world();
    let (a, b, c) = owned_with_colleague(&mut w);
    w.cmd(
        c,
        C::Invite {
            agent: a,
            target: b,
        },
    )
    .unwrap();
    let d = w.cmd(c, C::AgentLoggedOut { agent: b }).unwrap();
    assert_eq!(d.conversation, vec![E::ConferenceCancelled { agent_id: b }]);
    assert!(d.agents.is_empty());
}

#[test]
fn transfers_and_conferences_are_numbered_and_the_customer_sees_only_their_part() {
    let mut w = world();
    let (a, b, c) = conference(&mut w);
    let x = w.ready_agent(2);
    w.cmd(c, C::LeaveConference { agent: b }).unwrap();
    w.cmd(c, wrap_up(b)).unwrap();
    w.cmd(
        c,
        C::TransferToAgent {
            agent: a,
            target: x,
        },
    )
    .unwrap();
    w.cmd(c, C::Accept { agent: x }).unwrap();
    w.cmd(c, wrap_up(a)).unwrap();
    w.cmd(
        c,
        C::Invite {
            agent: x,
            target: b,
        },
    )
    .unwrap();
    w.advance(Policy::default().offer_timeout.0, true);
    assert_eq!(w.presence(b), Presence::Rona);
    w.cmd(c, C::End { agent: x }).unwrap();
    w.cmd(c, wrap_up(x)).unwrap();

    let kinds: Vec<&str> = w.events(c).iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            "started",
            "queued",
            "customer_connected",
            "offered",
            "accepted",
            "conference_requested",
            "conference_joined",
            "conference_left",
            "wrapped_up",
            "transfer_requested",
            "agent_left",
            "offered",
            "transfer_accepted",
            "wrapped_up",
            "conference_requested",
            "conference_withdrawn",
            "ended",
            "wrapped_up",
        ]
    );
    assert_eq!(w.conv(c).head_seq, kinds.len() as u64);
    let customer: Vec<&str> = w
        .events(c)
        .iter()
        .filter(|e| everyone(e))
        .map(|e| e.kind())
        .collect();
    assert_eq!(
        customer,
        vec![
            "started",
            "queued",
            "accepted",
            "conference_joined",
            "conference_left",
            "transfer_requested",
            "agent_left",
            "transfer_accepted",
            "ended"
        ]
    );
    assert!(w.conv(c).is_finished());
}

// ---------------------------------------------------------------------------------------------
// Message text

mod message_text {
    use std::collections::BTreeMap;
    use switchboard_core::text::{fill_template, MessageText, MAX_MESSAGE_CHARS};
    use switchboard_core::DomainError;

    #[test]
    fn a_message_is_at_most_1000_characters_counted_as_code_points() {
        assert_eq!(MAX_MESSAGE_CHARS, 1000);
        assert!(MessageText::parse(&"a".repeat(1000)).is_ok());
        assert!(
            MessageText::parse(&"😀".repeat(1000)).is_ok(),
            "4 bytes each"
        );
        assert_eq!(
            MessageText::parse(&"a".repeat(1001)),
            Err(DomainError::MessageTooLong { chars: 1001 })
        );
        assert_eq!(
            MessageText::parse_agent(&"a".repeat(1001)),
            Err(DomainError::MessageTooLong { chars: 1001 })
        );
    }

    #[test]
    fn a_message_is_not_blank_and_carries_no_control_characters_but_line_breaks() {
        assert_eq!(MessageText::parse(""), Err(DomainError::MessageEmpty));
        assert_eq!(MessageText::parse(" \n\n "), Err(DomainError::MessageEmpty));
        assert_eq!(
            MessageText::parse("bell\u{7}"),
            Err(DomainError::MessageControlCharacter)
        );
        assert_eq!(
            MessageText::parse("\u{1b}[2J"),
            Err(DomainError::MessageControlCharacter)
        );
        // Line breaks (Shift+Enter) are kept, normalised to \n.
        assert_eq!(
            MessageText::parse("one\ntwo\r\nthree\rfour")
                .unwrap()
                .as_str(),
            "one\ntwo\nthree\nfour"
        );
        assert_eq!(
            MessageText::parse_agent("one\ntwo").unwrap().as_str(),
            "one\ntwo"
        );
    }

    #[test]
    fn agents_cannot_send_angle_brackets_customers_can() {
        for raw in ["a < b", "a > b", "<customer_name>"] {
            assert_eq!(
                MessageText::parse_agent(raw),
                Err(DomainError::MessageReservedCharacter),
                "{raw}"
            );
            assert_eq!(MessageText::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn a_template_is_filled_by_the_server_line_breaks_included() {
        let values = BTreeMap::from([
            ("customer_name".to_string(), "Melissa".to_string()),
            ("agent_name".to_string(), "Bo".to_string()),
        ]);
        let text = fill_template(
            "Hello <customer_name>,\nthis is <agent_name>.\n<no_value>Bye",
            &values,
        )
        .unwrap();
        assert_eq!(text.as_str(), "Hello Melissa,\nthis is Bo.\nBye");
        // Only well-formed parameter names are placeholders.
        assert_eq!(
            fill_template("1 < 2 and <not a param>", &values)
                .unwrap()
                .as_str(),
            "1 < 2 and <not a param>"
        );
        // The filled-in text must still be a valid message.
        let long = BTreeMap::from([("customer_name".to_string(), "x".repeat(1000))]);
        assert_eq!(
            fill_template("Hi <customer_name>", &long),
            Err(DomainError::TemplateInvalid)
        );
        assert_eq!(
            fill_template("<no_value>", &values),
            Err(DomainError::TemplateInvalid)
        );
    }
}

#[test]
fn a_chat_starts_with_start_events_and_no_message() {
    // The agent's desktop relies on this: an offer numbered START_EVENTS + 1 (one written
    // with the arrival) has no message before it to show.
    let events = decide::start(
        AssetId::new(),
        "Website",
        QueueId::new(),
        "Support",
        0,
        CustomerInfo::default(),
        Default::default(),
        false,
        Timestamp(1_000),
    );
    assert_eq!(events.len() as u64, decide::START_EVENTS);
    assert!(!events
        .iter()
        .any(|e| matches!(e, ConversationEvent::Message { .. })));
}
