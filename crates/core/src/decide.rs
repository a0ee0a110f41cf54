//! The decider: given the state a command touches, the command and the time, which events
//! happen — or why not. Nothing here performs IO; the engine loads the state, calls these
//! functions, and asks the store to commit the events only if the state has not changed since.

use crate::agent::{Agent, MAX_CAPACITY};
use crate::conversation::{Conversation, Status};
use crate::error::DomainError;
use crate::event::*;
use crate::ids::*;
use crate::policy::Policy;
use crate::text::MessageText;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// What a decision produced: events for the conversation's log, and for agents' own logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    pub conversation: Vec<ConversationEvent>,
    pub agents: Vec<(AgentId, AgentEvent)>,
}

impl Decision {
    fn conv(events: Vec<ConversationEvent>) -> Self {
        Decision {
            conversation: events,
            agents: Vec::new(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.conversation.is_empty() && self.agents.is_empty()
    }
}

/// A command about one conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConversationCommand {
    CustomerSend {
        text: MessageText,
    },
    CustomerEnd,
    CustomerConnected {
        connection_id: String,
    },
    CustomerDisconnected {
        connection_id: String,
    },
    /// Routing: offer this waiting chat to this agent.
    Offer {
        agent: AgentId,
    },
    Accept {
        agent: AgentId,
    },
    /// `text` is already parsed with the agent's rules, or filled from a template.
    AgentSend {
        agent: AgentId,
        text: MessageText,
        template: Option<String>,
    },
    End {
        agent: AgentId,
    },
    WrapUp {
        agent: AgentId,
        reason_id: WrapUpReasonId,
        reason_name: String,
    },
    /// The agent's desktop has been gone past the offer grace: withdraw its offer, no RONA.
    WithdrawOffer {
        agent: AgentId,
    },
    /// The agent is being logged out by the system: return the chat to its queue, submit
    /// the wrap-up with the default reason.
    AgentLoggedOut {
        agent: AgentId,
    },
    /// The timers: do whatever is due at `now`.
    Tick,
    /// The owner sends the chat to a queue; they leave it at once and owe a wrap-up.
    TransferToQueue {
        agent: AgentId,
        queue_id: QueueId,
        queue_name: String,
        priority: i32,
    },
    /// The owner sends the chat to another agent (offered with the queue's timeout); they
    /// leave it at once and owe a wrap-up.
    TransferToAgent {
        agent: AgentId,
        target: AgentId,
    },
    /// The owner invites a second agent into a conference.
    Invite {
        agent: AgentId,
        target: AgentId,
    },
    /// The owner cancels the pending invitation.
    CancelInvitation {
        agent: AgentId,
    },
    /// An agent leaves the conference (End conference); the chat goes on with the other.
    LeaveConference {
        agent: AgentId,
    },
    /// The chat's asset was deleted.
    Interrupt,
}

/// How many events [`start`] writes: a conversation's log begins with exactly these, so the
/// event numbered `START_EVENTS + 1` has nothing but them before it (no message).
pub const START_EVENTS: u64 = 2;

/// The events that start a conversation: it arrives and enters its queue.
pub fn start(
    asset_id: AssetId,
    asset_name: &str,
    queue_id: QueueId,
    queue_name: &str,
    priority: i32,
    customer: CustomerInfo,
    variables: BTreeMap<String, String>,
    proactive: bool,
    now: Timestamp,
) -> Vec<ConversationEvent> {
    vec![
        ConversationEvent::Started {
            asset_id,
            asset_name: asset_name.to_string(),
            customer,
            variables,
            proactive,
        },
        ConversationEvent::Queued {
            queue_id,
            queue_name: queue_name.to_string(),
            priority,
            front_at: now,
            reason: QueueReason::Arrived,
        },
    ]
}

fn requeue(c: &Conversation, reason: QueueReason) -> ConversationEvent {
    // Back to the front: its original place in line is kept.
    ConversationEvent::Queued {
        queue_id: c.queue_id,
        queue_name: c.queue_name.clone(),
        priority: c.priority,
        front_at: c.front_at,
        reason,
    }
}

fn name_of(agents: &BTreeMap<AgentId, Agent>, agent: &AgentId) -> String {
    agents
        .get(agent)
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

/// The invitation, cancelled first when the chat closes or ends under it.
fn cancel_invitation(c: &Conversation) -> Option<ConversationEvent> {
    c.invitation
        .as_ref()
        .map(|i| ConversationEvent::ConferenceCancelled {
            agent_id: i.agent_id,
        })
}

/// Transfers and invitations are the owner's, and only while no one else is in the chat
/// and no invitation is pending.
fn check_owner_alone(c: &Conversation, agent: AgentId) -> Result<(), DomainError> {
    match c.status {
        Status::Active { owner } if owner == agent => {
            if c.agents.len() > 1 {
                Err(DomainError::ConferenceInProgress)
            } else if c.invitation.is_some() {
                Err(DomainError::InvitationPending)
            } else {
                Ok(())
            }
        }
        Status::Active { .. } if c.agents.contains(&agent) => Err(DomainError::NotOwner),
        _ if !c.agents.contains(&agent) => Err(DomainError::NotInConversation),
        Status::Closed => Err(DomainError::ConversationClosed),
        _ => Err(DomainError::WrongConversationState),
    }
}

/// The agent a transfer or an invitation goes to: not oneself, not one who still owes a
/// wrap-up for this chat (they would be in it and owe its wrap-up at once), and able to take
/// it now.
fn check_target<'a>(
    c: &Conversation,
    agents: &'a BTreeMap<AgentId, Agent>,
    agent: AgentId,
    target: AgentId,
) -> Result<&'a Agent, DomainError> {
    if agent == target {
        return Err(DomainError::CannotTargetSelf);
    }
    let t = agents.get(&target).ok_or(DomainError::AgentNotAvailable)?;
    if c.wrapups.contains_key(&target) {
        return Err(DomainError::AgentNotAvailable);
    }
    check_can_take_offer(t)?;
    Ok(t)
}

fn closed_error(c: &Conversation) -> DomainError {
    match c.status {
        Status::Closed => DomainError::ConversationClosed,
        _ => DomainError::ConversationEnded,
    }
}

/// Decides a conversation command. `agents` holds (at least) every agent the command or the
/// conversation involves; the policy carries the timeouts in force.
pub fn decide(
    c: &Conversation,
    agents: &BTreeMap<AgentId, Agent>,
    command: &ConversationCommand,
    now: Timestamp,
    policy: &Policy,
) -> Result<Decision, DomainError> {
    use ConversationCommand as C;
    use ConversationEvent as E;
    match command {
        C::CustomerSend { text } => match c.status {
            Status::Waiting | Status::Offered { .. } | Status::Active { .. } => {
                Ok(Decision::conv(vec![E::Message {
                    sender: Sender::Customer,
                    text: text.as_str().to_string(),
                    template: None,
                }]))
            }
            _ => Err(closed_error(c)),
        },
        C::CustomerEnd => match c.status {
            Status::Waiting => Ok(Decision::conv(vec![E::Abandoned {
                reason: AbandonReason::CustomerEnded,
            }])),
            Status::Offered { agent_id, .. } => Ok(Decision::conv(vec![
                E::OfferWithdrawn {
                    agent_id,
                    reason: WithdrawReason::CustomerLeft,
                },
                E::Abandoned {
                    reason: AbandonReason::CustomerEnded,
                },
            ])),
            Status::Active { .. } => Ok(Decision::conv(
                cancel_invitation(c)
                    .into_iter()
                    .chain([E::Closed {
                        reason: CloseReason::CustomerEnded,
                    }])
                    .collect(),
            )),
            _ => Err(closed_error(c)),
        },
        C::CustomerConnected { connection_id } => {
            if c.customer_connections.contains(connection_id) {
                return Ok(Decision::default());
            }
            Ok(Decision::conv(vec![E::CustomerConnected {
                connection_id: connection_id.clone(),
            }]))
        }
        C::CustomerDisconnected { connection_id } => {
            if !c.customer_connections.contains(connection_id) {
                return Ok(Decision::default());
            }
            Ok(Decision::conv(vec![E::CustomerDisconnected {
                connection_id: connection_id.clone(),
            }]))
        }
        C::Offer { agent } => {
            if !c.is_waiting() {
                return Err(DomainError::WrongConversationState);
            }
            let a = agents.get(agent).ok_or(DomainError::AgentNotAvailable)?;
            if c.transferred_by.contains(agent) || c.wrapups.contains_key(agent) {
                // Whoever transferred a chat away is not offered it back; nor is whoever
                // left it (a conference) and still owes its wrap-up.
                return Err(DomainError::AgentNotAvailable);
            }
            check_can_take_offer(a)?;
            Ok(Decision::conv(vec![E::Offered {
                agent_id: *agent,
                agent_name: a.name.clone(),
                deadline: now + policy.offer_timeout,
                transfer: false,
            }]))
        }
        C::Accept { agent } => match c.status {
            Status::Offered {
                agent_id,
                deadline,
                transfer,
            } if agent_id == *agent && now < deadline => {
                let agent_name = name_of(agents, agent);
                Ok(Decision::conv(vec![if transfer {
                    E::TransferAccepted {
                        agent_id: *agent,
                        agent_name,
                    }
                } else {
                    E::Accepted {
                        agent_id: *agent,
                        agent_name,
                    }
                }]))
            }
            Status::Active { .. }
                if c.invitation
                    .as_ref()
                    .is_some_and(|i| i.agent_id == *agent && now < i.deadline) =>
            {
                Ok(Decision::conv(vec![E::ConferenceJoined {
                    agent_id: *agent,
                    agent_name: name_of(agents, agent),
                }]))
            }
            _ => Err(DomainError::NoSuchOffer),
        },
        C::AgentSend {
            agent,
            text,
            template,
        } => {
            if !c.agents.contains(agent) {
                let was_in = c.ever_agents.contains(agent);
                return Err(match c.status {
                    Status::Closed | Status::Ended if was_in => closed_error(c),
                    _ => DomainError::NotInConversation,
                });
            }
            match c.status {
                Status::Active { .. } => {
                    let name = agents
                        .get(agent)
                        .map(|a| a.name.clone())
                        .unwrap_or_default();
                    Ok(Decision::conv(vec![E::Message {
                        sender: Sender::Agent {
                            agent_id: *agent,
                            name,
                        },
                        text: text.as_str().to_string(),
                        template: template.clone(),
                    }]))
                }
                _ => Err(closed_error(c)),
            }
        }
        C::End { agent } => {
            if !c.agents.contains(agent) {
                return Err(if c.wrapups.contains_key(agent) {
                    DomainError::ConversationEnded
                } else {
                    DomainError::NotInConversation
                });
            }
            match c.status {
                Status::Active { owner } if owner == *agent => Ok(Decision::conv(
                    cancel_invitation(c).into_iter().chain([E::Ended]).collect(),
                )),
                Status::Active { .. } => Err(DomainError::NotOwner),
                Status::Closed => Ok(Decision::conv(leave_closed(c, *agent, agents, false))),
                _ => Err(DomainError::WrongConversationState),
            }
        }
        C::WrapUp {
            agent,
            reason_id,
            reason_name,
        } => {
            if !c.wrapups.contains_key(agent) {
                return Err(DomainError::NoWrapUpPending);
            }
            Ok(Decision::conv(vec![E::WrappedUp {
                agent_id: *agent,
                reason_id: *reason_id,
                reason_name: reason_name.clone(),
                auto: false,
            }]))
        }
        C::WithdrawOffer { agent } => match c.status {
            Status::Offered { agent_id, .. } if agent_id == *agent => Ok(Decision::conv(vec![
                E::OfferWithdrawn {
                    agent_id,
                    reason: WithdrawReason::AgentDisconnected,
                },
                requeue(c, QueueReason::OfferWithdrawn),
            ])),
            _ if c.invitation.as_ref().is_some_and(|i| i.agent_id == *agent) => {
                Ok(Decision::conv(vec![E::ConferenceCancelled {
                    agent_id: *agent,
                }]))
            }
            _ => Err(DomainError::NothingDue),
        },
        C::AgentLoggedOut { agent } => {
            let mut events = Vec::new();
            let name = agents
                .get(agent)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            match c.status {
                Status::Offered { agent_id, .. } if agent_id == *agent => {
                    events.push(E::OfferWithdrawn {
                        agent_id,
                        reason: WithdrawReason::AgentDisconnected,
                    });
                    events.push(requeue(c, QueueReason::OfferWithdrawn));
                }
                Status::Active { owner } if c.agents.contains(agent) && c.agents.len() > 1 => {
                    // In a conference the chat goes on with the other agent.
                    events.push(E::ConferenceLeft {
                        agent_id: *agent,
                        agent_name: name,
                    });
                    if owner == *agent {
                        let other = c.conference_agent().expect("a conference has two agents");
                        events.push(E::OwnerChanged {
                            agent_id: other,
                            agent_name: name_of(agents, &other),
                        });
                    }
                }
                Status::Active { .. } if c.agents.contains(agent) => {
                    // No customer is stranded: the chat goes back to the front of its queue.
                    events.extend(cancel_invitation(c));
                    events.push(E::AgentLeft {
                        agent_id: *agent,
                        agent_name: name,
                        by_system: true,
                    });
                    events.push(requeue(c, QueueReason::AgentLoggedOut));
                }
                Status::Active { .. }
                    if c.invitation.as_ref().is_some_and(|i| i.agent_id == *agent) =>
                {
                    events.push(E::ConferenceCancelled { agent_id: *agent });
                }
                Status::Closed if c.agents.contains(agent) => {
                    events.extend(leave_closed(c, *agent, agents, true));
                }
                _ => {}
            }
            let owes_wrapup = c.wrapups.contains_key(agent)
                || events.iter().any(|e| {
                    matches!(e, E::AgentLeft { agent_id, .. } | E::ConferenceLeft { agent_id, .. } if agent_id == agent)
                        || matches!(e, E::Ended)
                });
            if owes_wrapup {
                events.push(E::WrappedUp {
                    agent_id: *agent,
                    reason_id: policy.default_wrapup.id,
                    reason_name: policy.default_wrapup.name.clone(),
                    auto: true,
                });
            }
            if events.is_empty() {
                return Err(DomainError::NothingDue);
            }
            Ok(Decision::conv(events))
        }
        C::Tick => tick(c, now, policy),
        C::TransferToQueue {
            agent,
            queue_id,
            queue_name,
            priority,
        } => {
            check_owner_alone(c, *agent)?;
            let agent_name = name_of(agents, agent);
            Ok(Decision::conv(vec![
                E::TransferRequested {
                    agent_id: *agent,
                    agent_name: agent_name.clone(),
                    target: TransferTarget::Queue {
                        queue_id: *queue_id,
                        queue_name: queue_name.clone(),
                    },
                },
                E::AgentLeft {
                    agent_id: *agent,
                    agent_name,
                    by_system: false,
                },
                // It waits there like a new chat: its place in line is the transfer time.
                E::Queued {
                    queue_id: *queue_id,
                    queue_name: queue_name.clone(),
                    priority: *priority,
                    front_at: now,
                    reason: QueueReason::Transferred,
                },
            ]))
        }
        C::TransferToAgent { agent, target } => {
            check_owner_alone(c, *agent)?;
            let t = check_target(c, agents, *agent, *target)?;
            let agent_name = name_of(agents, agent);
            Ok(Decision::conv(vec![
                E::TransferRequested {
                    agent_id: *agent,
                    agent_name: agent_name.clone(),
                    target: TransferTarget::Agent {
                        agent_id: *target,
                        agent_name: t.name.clone(),
                    },
                },
                E::AgentLeft {
                    agent_id: *agent,
                    agent_name,
                    by_system: false,
                },
                E::Offered {
                    agent_id: *target,
                    agent_name: t.name.clone(),
                    deadline: now + policy.offer_timeout,
                    transfer: true,
                },
            ]))
        }
        C::Invite { agent, target } => {
            check_owner_alone(c, *agent)?;
            let t = check_target(c, agents, *agent, *target)?;
            Ok(Decision::conv(vec![E::ConferenceRequested {
                agent_id: *target,
                agent_name: t.name.clone(),
                deadline: now + policy.offer_timeout,
            }]))
        }
        C::CancelInvitation { agent } => match (&c.status, &c.invitation) {
            (Status::Active { owner }, Some(i)) if owner == agent => {
                Ok(Decision::conv(vec![E::ConferenceCancelled {
                    agent_id: i.agent_id,
                }]))
            }
            (Status::Active { owner }, None) if owner == agent => Err(DomainError::NoInvitation),
            _ => check_owner_alone(c, *agent).map(|_| Decision::default()),
        },
        C::LeaveConference { agent } => match c.status {
            Status::Active { owner } if c.agents.contains(agent) && c.agents.len() > 1 => {
                let mut events = vec![E::ConferenceLeft {
                    agent_id: *agent,
                    agent_name: name_of(agents, agent),
                }];
                if owner == *agent {
                    let other = c.conference_agent().expect("a conference has two agents");
                    events.push(E::OwnerChanged {
                        agent_id: other,
                        agent_name: name_of(agents, &other),
                    });
                }
                Ok(Decision::conv(events))
            }
            Status::Active { .. } if c.agents.contains(agent) => Err(DomainError::NotInConference),
            _ if !c.agents.contains(agent) => Err(DomainError::NotInConversation),
            _ => Err(closed_error(c)),
        },
        C::Interrupt => match c.status {
            Status::Waiting => Ok(Decision::conv(vec![E::Interrupted])),
            Status::Offered { agent_id, .. } => Ok(Decision::conv(vec![
                E::OfferWithdrawn {
                    agent_id,
                    reason: WithdrawReason::Interrupted,
                },
                E::Interrupted,
            ])),
            Status::Active { .. } => Ok(Decision::conv(
                cancel_invitation(c)
                    .into_iter()
                    .chain([E::Closed {
                        reason: CloseReason::Interrupted,
                    }])
                    .collect(),
            )),
            _ => Err(DomainError::NothingDue),
        },
    }
}

/// An agent leaves a closed chat: the last one out ends it.
fn leave_closed(
    c: &Conversation,
    agent: AgentId,
    agents: &BTreeMap<AgentId, Agent>,
    by_system: bool,
) -> Vec<ConversationEvent> {
    if c.agents.len() <= 1 {
        vec![ConversationEvent::Ended]
    } else {
        vec![ConversationEvent::AgentLeft {
            agent_id: agent,
            agent_name: agents
                .get(&agent)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            by_system,
        }]
    }
}

fn check_can_take_offer(a: &Agent) -> Result<(), DomainError> {
    if a.presence != Presence::Available || !a.is_connected() {
        return Err(DomainError::AgentNotAvailable);
    }
    if a.offer.is_some() {
        return Err(DomainError::OfferAlreadyPending);
    }
    if !a.has_room() {
        return Err(DomainError::AgentAtCapacity);
    }
    Ok(())
}

/// What the timers do to a conversation at `now`.
fn tick(c: &Conversation, now: Timestamp, policy: &Policy) -> Result<Decision, DomainError> {
    use ConversationEvent as E;
    let mut d = Decision::default();
    let customer_gone = c
        .customer_away_since
        .is_some_and(|since| since + policy.customer_grace <= now);
    match c.status {
        Status::Offered { agent_id, .. } if customer_gone => {
            d.conversation.push(E::OfferWithdrawn {
                agent_id,
                reason: WithdrawReason::CustomerLeft,
            });
            d.conversation.push(E::Abandoned {
                reason: AbandonReason::CustomerGone,
            });
        }
        Status::Offered {
            agent_id,
            deadline,
            transfer,
        } if deadline <= now => {
            if transfer {
                // The transfer is rejected: back to the front of the queue it was in.
                d.conversation.push(E::TransferRejected { agent_id });
                d.conversation
                    .push(requeue(c, QueueReason::TransferRejected));
            } else {
                d.conversation.push(E::OfferTimedOut { agent_id });
                d.conversation.push(requeue(c, QueueReason::OfferTimedOut));
            }
            d.agents.push((
                agent_id,
                AgentEvent::PresenceChanged {
                    presence: Presence::Rona,
                    reason: PresenceReason::Rona,
                },
            ));
        }
        Status::Waiting if customer_gone => d.conversation.push(E::Abandoned {
            reason: AbandonReason::CustomerGone,
        }),
        Status::Active { .. }
            if c.customer_away_since
                .is_some_and(|since| since + policy.inactivity_timeout <= now) =>
        {
            d.conversation.extend(cancel_invitation(c));
            d.conversation.push(E::Closed {
                reason: CloseReason::CustomerLeft,
            })
        }
        Status::Active { .. } => {
            if let Some(i) = c.invitation.as_ref().filter(|i| i.deadline <= now) {
                // Not accepted in time: withdrawn, the owner is told, the invited agent RONA.
                d.conversation.push(E::ConferenceWithdrawn {
                    agent_id: i.agent_id,
                });
                d.agents.push((
                    i.agent_id,
                    AgentEvent::PresenceChanged {
                        presence: Presence::Rona,
                        reason: PresenceReason::Rona,
                    },
                ));
            }
        }
        _ => {}
    }
    if let Some(after) = policy.auto_wrapup_after {
        for (agent, since) in &c.wrapups {
            if *since + after <= now {
                d.conversation.push(E::WrappedUp {
                    agent_id: *agent,
                    reason_id: policy.default_wrapup.id,
                    reason_name: policy.default_wrapup.name.clone(),
                    auto: true,
                });
            }
        }
    }
    if d.is_empty() {
        Err(DomainError::NothingDue)
    } else {
        Ok(d)
    }
}

/// When the timers next have something to do for this conversation.
pub fn next_deadline(c: &Conversation, policy: &Policy) -> Option<Timestamp> {
    let mut next: Option<Timestamp> = None;
    let mut consider = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
    match c.status {
        Status::Offered { deadline, .. } => consider(deadline),
        Status::Active { .. } => {
            if let Some(since) = c.customer_away_since {
                consider(since + policy.inactivity_timeout);
            }
            if let Some(i) = &c.invitation {
                consider(i.deadline);
            }
        }
        _ => {}
    }
    if c.is_queued() {
        if let Some(since) = c.customer_away_since {
            consider(since + policy.customer_grace);
        }
    }
    if let Some(after) = policy.auto_wrapup_after {
        for since in c.wrapups.values() {
            consider(*since + after);
        }
    }
    next
}

/// A command about an agent alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentCommand {
    SignIn,
    /// Available, or Idle with a code. (RONA and Logged out are not chosen this way.)
    SetPresence(Presence),
    SignOut,
    Connect {
        connection_id: String,
    },
    Disconnect {
        connection_id: String,
    },
    SetCapacity(u32),
    /// The system logs out an agent whose desktop stayed away; their chats were returned and
    /// their wrap-ups submitted first, one conversation at a time.
    LogOutLost,
}

pub fn decide_agent(
    a: &Agent,
    command: &AgentCommand,
    now: Timestamp,
    policy: &Policy,
) -> Result<Vec<AgentEvent>, DomainError> {
    use AgentCommand as C;
    let change =
        |presence: Presence, reason| vec![AgentEvent::PresenceChanged { presence, reason }];
    match command {
        C::SignIn => Ok(if a.presence == Presence::LoggedOut {
            change(
                Presence::Idle {
                    code_id: None,
                    code_name: None,
                },
                PresenceReason::Agent,
            )
        } else {
            vec![]
        }),
        C::SetPresence(presence) => {
            if a.presence == Presence::LoggedOut {
                return Err(DomainError::LoggedOut);
            }
            match presence {
                Presence::Available => {}
                Presence::Idle {
                    code_id: Some(_), ..
                } => {}
                Presence::Idle { code_id: None, .. } => return Err(DomainError::IdleCodeRequired),
                _ => return Err(DomainError::WrongConversationState),
            }
            Ok(if a.presence == *presence {
                vec![]
            } else {
                change(presence.clone(), PresenceReason::Agent)
            })
        }
        C::SignOut => {
            if a.load() > 0 {
                return Err(DomainError::ChatsOpen);
            }
            Ok(if a.presence == Presence::LoggedOut {
                vec![]
            } else {
                change(Presence::LoggedOut, PresenceReason::Agent)
            })
        }
        C::Connect { connection_id } => Ok(if a.connections.contains(connection_id) {
            vec![]
        } else {
            vec![AgentEvent::Connected {
                connection_id: connection_id.clone(),
            }]
        }),
        C::Disconnect { connection_id } => Ok(if a.connections.contains(connection_id) {
            vec![AgentEvent::Disconnected {
                connection_id: connection_id.clone(),
            }]
        } else {
            vec![]
        }),
        C::SetCapacity(capacity) => {
            if !(1..=MAX_CAPACITY).contains(capacity) {
                return Err(DomainError::InvalidCapacity);
            }
            Ok(if a.capacity == *capacity {
                vec![]
            } else {
                vec![AgentEvent::CapacityChanged {
                    capacity: *capacity,
                }]
            })
        }
        C::LogOutLost => {
            let due = agent_due(a, now, policy);
            if !due.log_out || a.load() > 0 {
                return Err(DomainError::NothingDue);
            }
            Ok(change(Presence::LoggedOut, PresenceReason::ConnectionLost))
        }
    }
}

/// What the timers owe an agent at `now`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentDue {
    /// Withdraw the pending offer of this conversation (the desktop is gone).
    pub withdraw_offer: Option<ConversationId>,
    /// The desktop is gone past the sign-out grace: return chats, submit wrap-ups, log out.
    pub log_out: bool,
}

pub fn agent_due(a: &Agent, now: Timestamp, policy: &Policy) -> AgentDue {
    let Some(since) = a.disconnected_since else {
        return AgentDue::default();
    };
    AgentDue {
        withdraw_offer: a
            .offer
            .as_ref()
            .filter(|_| since + policy.offer_disconnect_grace <= now)
            .map(|o| o.conversation_id),
        log_out: a.presence != Presence::LoggedOut && since + policy.signout_grace <= now,
    }
}

/// When the timers next have something to do for this agent.
pub fn agent_next_deadline(a: &Agent, policy: &Policy) -> Option<Timestamp> {
    let since = a.disconnected_since?;
    let mut next = None;
    if a.offer.is_some() {
        next = Some(since + policy.offer_disconnect_grace);
    }
    if a.presence != Presence::LoggedOut {
        let t = since + policy.signout_grace;
        next = Some(next.map_or(t, |n: Timestamp| n.min(t)));
    }
    next
}
