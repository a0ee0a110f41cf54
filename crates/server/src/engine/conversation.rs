//! Running a command about one conversation: decide, commit with every snapshot it touches,
//! publish.

use super::*;
use std::collections::BTreeMap;
use switchboard_core::decide::{decide, next_deadline, ConversationCommand, Decision};
use switchboard_core::text::MessageText;
use switchboard_store::ConversationWrite;

impl Engine {
    /// Runs a conversation command for `actor_agent` (if an agent issued it). The decision is
    /// made on the snapshots as stored, and committed only if none changed meanwhile;
    /// otherwise it is made again.
    pub async fn conversation_command(
        self: &Arc<Self>,
        cid: ConversationId,
        actor_agent: Option<AgentId>,
        client: Option<&ClientId>,
        command: ConversationCommand,
    ) -> Result<Outcome, EngineError> {
        self.check_accepting()?;
        let command = self.redact_at_rest(command).await?;
        // Commands on one conversation take turns on this node, so that they do not keep
        // deciding on the same stale state while a batch commits. (Only to spare retries:
        // correctness comes from the store's conditional commit, also across nodes.)
        let _turn = self.conversation_turn(cid).lock().await;
        for attempt in 0..MAX_ATTEMPTS {
            // A first attempt decides at once: a repeated id shows itself as a lost race (its
            // id is taken in the same commit), a refusal or a no-op, and only then is its first
            // answer looked up. That spares a read on every command that is not a repeat.
            if attempt > 0 {
                if let Some(replayed) = self.replay(client).await? {
                    return Ok(replayed);
                }
                // Routing picked the agent from the queue's members a moment ago, and an
                // offer's commit needs the agent to still serve the queue (`serve_queue`):
                // a lost race may be an administrator taking the agent out meanwhile, which
                // no retry cures. Read only then, as the repeat above.
                if let ConversationCommand::Offer { agent } = &command {
                    self.check_serves(cid, *agent).await?;
                }
            }
            match self
                .try_conversation(cid, actor_agent, client, &command)
                .await
            {
                Err(EngineError::Store(StoreError::Conflict)) => {
                    backoff(attempt).await;
                    continue;
                }
                other => return self.unless_repeat(client, other).await,
            }
        }
        Err(EngineError::Busy)
    }

    /// `AgentNotAvailable` unless the agent serves the conversation's queue.
    async fn check_serves(&self, cid: ConversationId, agent: AgentId) -> Result<(), EngineError> {
        let chat = self
            .store
            .conversation_shared(cid)
            .await?
            .ok_or(DomainError::ConversationNotFound)?;
        if self
            .store
            .queues_of_agent(agent)
            .await?
            .contains(&chat.queue_id)
        {
            Ok(())
        } else {
            Err(DomainError::AgentNotAvailable.into())
        }
    }

    async fn try_conversation(
        self: &Arc<Self>,
        cid: ConversationId,
        actor_agent: Option<AgentId>,
        client: Option<&ClientId>,
        command: &ConversationCommand,
    ) -> Result<Outcome, EngineError> {
        // Shared with the store's cache: the decision reads it, and the one copy made is the
        // snapshot after the events (a conversation's strings and sets made each copy cost).
        let before = self
            .store
            .conversation_shared(cid)
            .await?
            .ok_or(DomainError::ConversationNotFound)?;
        // The agents the decision reads or whose snapshot its events change. A message or a
        // customer's connection changes no agent: it reads at most the sender's name.
        let mut involved = match command {
            ConversationCommand::CustomerSend { .. }
            | ConversationCommand::CustomerConnected { .. }
            | ConversationCommand::CustomerDisconnected { .. }
            | ConversationCommand::AgentSend { .. } => Default::default(),
            _ => before.loaded_agents(),
        };
        involved.extend(actor_agent);
        match command {
            ConversationCommand::Offer { agent: target }
            | ConversationCommand::TransferToAgent { target, .. }
            | ConversationCommand::Invite { target, .. } => {
                involved.insert(*target);
            }
            _ => {}
        }
        let mut versions = BTreeMap::new();
        let mut agents: BTreeMap<AgentId, Agent> = BTreeMap::new();
        for aid in involved {
            if let Some(row) = self.store.agent(aid).await? {
                versions.insert(aid, row.version);
                agents.insert(aid, row.state);
            }
        }
        let config = self.config.get().await?;
        let policy = config.policy_for(before.queue_id, before.asset_id);
        let now = self.now();
        let decision = match decide(&before, &agents, command, now, &policy) {
            Ok(d) => d,
            Err(DomainError::NothingDue) if *command == ConversationCommand::Tick => {
                // The stored deadline was stale (the policy changed): store the right one.
                self.refresh_deadline(&before, next_deadline(&before, &policy), now)
                    .await?;
                return Ok(Outcome::Done { seq: None });
            }
            Err(e) => return Err(e.into()),
        };
        let connection = self.customer_connection(cid, command);
        if decision.is_empty() {
            return self.record_no_op(client, now, connection).await;
        }

        let Folded {
            after,
            numbered,
            mut agent_writes,
        } = fold(
            &before,
            &agents,
            &versions,
            decision,
            now,
            config.base_policy(),
        );
        if let ConversationCommand::Offer { agent } = command {
            serve_queue(&mut agent_writes, *agent, before.queue_id);
        }
        let seq = Some(after.head_seq);
        let deadline = next_deadline(&after, &policy);
        let after = Arc::new(after);
        let mut commit = Commit {
            now,
            conversation: Some(ConversationWrite {
                expected_head: Some(before.head_seq),
                deadline,
                state: after.clone(),
                events: numbered.clone(),
                token_hash: None,
            }),
            agents: agent_writes,
            command: client.map(|c| record(c, ack_json(&c.id, seq))),
            connection,
        };
        self.commit(&mut commit).await?;

        self.publish_conversation(&before, &after, numbered);
        for w in commit.agents {
            let previous = &agents[&w.state.id];
            self.after_agent_change(previous, Arc::new(w.state), w.expected_version + 1);
        }
        Ok(Outcome::Done { seq })
    }

    /// With "redact payment data at rest" on, a message's card numbers, IBANs and SSNs are
    /// masked before the message is decided on, so the clear values are never written.
    async fn redact_at_rest(
        &self,
        command: ConversationCommand,
    ) -> Result<ConversationCommand, EngineError> {
        let config = self.config.get().await?;
        let Some(m) = config.redactor() else {
            return Ok(command);
        };
        let redact = |text: MessageText| -> MessageText {
            MessageText::parse(&crate::masking::redact(m, text.as_str())).unwrap_or(text)
        };
        Ok(match command {
            ConversationCommand::CustomerSend { text } => {
                ConversationCommand::CustomerSend { text: redact(text) }
            }
            ConversationCommand::AgentSend {
                agent,
                text,
                template,
            } => ConversationCommand::AgentSend {
                agent,
                text: redact(text),
                template,
            },
            other => other,
        })
    }

    async fn refresh_deadline(
        &self,
        c: &Conversation,
        deadline: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let mut commit = Commit {
            now,
            conversation: Some(ConversationWrite {
                expected_head: Some(c.head_seq),
                deadline,
                state: Arc::new(c.clone()),
                events: vec![],
                token_hash: None,
            }),
            agents: vec![],
            command: None,
            connection: None,
        };
        self.commit(&mut commit).await?;
        Ok(())
    }

    /// Sends committed events to the customer and to every agent the conversation concerns
    /// (before or after them), on this node and the others, and wakes routing when the line
    /// changed.
    pub(crate) fn publish_conversation(
        self: &Arc<Self>,
        before: &Conversation,
        after: &Arc<Conversation>,
        events: Vec<(u64, Timestamp, ConversationEvent)>,
    ) {
        // One vector, not two sets merged (this runs for every message).
        let mut agents: Vec<AgentId> = (before.each_loaded_agent())
            .chain(after.each_loaded_agent())
            .collect();
        agents.sort_unstable();
        agents.dedup();
        let line_changed = before.is_queued() != after.is_queued()
            || events
                .iter()
                .any(|(_, _, e)| matches!(e, ConversationEvent::Queued { .. }));
        let mut lines = Vec::new();
        if line_changed {
            lines.push(after.queue_id);
            if before.queue_id != after.queue_id {
                lines.push(before.queue_id);
            }
        }
        self.tell_cluster(|| crate::bus::NoticeBody::Conversation {
            conversation: (**after).clone(),
            events: events.clone(),
            agents: agents.clone(),
            lines: lines.clone(),
        });
        for q in &lines {
            self.line_changed(*q);
        }
        let config = self.config.current();
        crate::bus::deliver_conversation(
            &self.hub,
            config.agent_masker(),
            after.clone(),
            events,
            &agents,
            &lines,
        );
        if after.is_waiting() {
            self.route_queue(after.queue_id);
        }
    }
}

/// A decision folded into the snapshots it changes.
pub(crate) struct Folded {
    /// The conversation after the decision's events.
    pub after: Conversation,
    /// Its events, numbered as they are written.
    pub numbered: Vec<(u64, Timestamp, ConversationEvent)>,
    /// The agents whose snapshot the events changed, each guarded by the version it was
    /// read at.
    pub agent_writes: Vec<AgentWrite>,
}

/// An offer goes through only if the agent still serves the chat's queue when it commits.
pub(crate) fn serve_queue(writes: &mut [AgentWrite], agent: AgentId, queue: QueueId) {
    for w in writes.iter_mut().filter(|w| w.state.id == agent) {
        w.serving = Some(queue);
    }
}

/// Folds a decision's events into the conversation and every agent they concern (`agents`,
/// read at `versions`).
pub(crate) fn fold(
    before: &Conversation,
    agents: &BTreeMap<AgentId, Agent>,
    versions: &BTreeMap<AgentId, i64>,
    decision: Decision,
    now: Timestamp,
    base: &Policy,
) -> Folded {
    // A message changes no agent (`Agent::apply_conversation`): the agents are copied only
    // for events that may.
    let mut after = before.clone();
    let may_change_agents =
        !decision.agents.is_empty() || decision.conversation.iter().any(|e| e.changes_snapshot());
    let mut after_agents = if may_change_agents {
        agents.clone()
    } else {
        BTreeMap::new()
    };
    let mut numbered = Vec::with_capacity(decision.conversation.len());
    for e in decision.conversation {
        after.apply(&e, now);
        for a in after_agents.values_mut() {
            a.apply_conversation(before.id, &e, now);
        }
        numbered.push((after.head_seq, now, e));
    }
    let mut agent_events: BTreeMap<AgentId, Vec<(u64, Timestamp, AgentEvent)>> = BTreeMap::new();
    for (aid, e) in decision.agents {
        if let Some(a) = after_agents.get_mut(&aid) {
            a.apply(&e, now);
            agent_events
                .entry(aid)
                .or_default()
                .push((a.log_seq, now, e));
        }
    }
    let agent_writes = after_agents
        .into_iter()
        .filter(|(id, a)| agents.get(id) != Some(a))
        .map(|(id, a)| AgentWrite {
            expected_version: versions[&id],
            events: agent_events.remove(&id).unwrap_or_default(),
            deadline: agent_next_deadline(&a, base),
            state: a,
            serving: None,
        })
        .collect();
    Folded {
        after,
        numbered,
        agent_writes,
    }
}
