//! One test per rule of the domain (PRODUCT.md "Agent states", "A chat from start to end"), each
//! written as a user would notice it: what happens to the chat, to the agent, and what the log
//! says.

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
