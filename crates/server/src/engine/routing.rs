//! Routing: offer the longest-waiting chat of a queue to its best available agent, at once
//! when something changes (a chat is queued, an agent gets room), never on a polling
//! interval. Passes over one queue are coalesced on this node; across nodes the store
//! settles who gets what.

use super::*;
use switchboard_core::decide::ConversationCommand;

/// Enough candidates that a few lost races do not end a pass early.
const CANDIDATES: u32 = 8;
/// Chats offered together in one round of a pass.
const BATCH: usize = 16;

impl Engine {
    /// Starts a routing pass over a queue (or asks the running one to go again).
    pub fn route_queue(self: &Arc<Self>, queue: QueueId) {
        {
            let mut running = self.routing.lock().unwrap();
            if let Some(again) = running.get_mut(&queue) {
                *again = true;
                return;
            }
            running.insert(queue, false);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.route_pass(queue).await {
                    tracing::warn!(%queue, error = %e, "routing pass failed; trying again");
                    // Chats may wait beside free agents: try again shortly.
                    let again = engine.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        again.route_queue(queue);
                    });
                }
                let mut running = engine.routing.lock().unwrap();
                match running.get_mut(&queue) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&queue);
                        break;
                    }
                }
            }
        });
    }

    /// Routes every queue an agent serves (the agent got room or became Available). The
    /// agent is first offered the best chat waiting in any of its queues (higher priority
    /// first, then the one waiting longest): passes over its queues run side by side, so
    /// which of them came first must not decide what the agent gets. When nothing waits in
    /// any of them (the usual case: chats are offered as they arrive while agents have
    /// room), that one read is all.
    pub fn route_agent(self: &Arc<Self>, agent: AgentId) {
        let engine = self.clone();
        tokio::spawn(async move {
            match engine.offer_best_to(agent).await {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => tracing::warn!(%agent, error = %e, "routing to an agent failed"),
            }
            match engine.store.queues_of_agent(agent).await {
                Ok(queues) => queues.into_iter().for_each(|q| engine.route_queue(q)),
                Err(e) => tracing::warn!(%agent, error = %e, "cannot read the agent's queues"),
            }
        });
    }

    /// Offers the agent the chat that comes first across its queues, if it can take one.
    /// Whether any chat was waiting there.
    async fn offer_best_to(self: &Arc<Self>, agent: AgentId) -> Result<bool, EngineError> {
        if !self.is_accepting() {
            return Ok(false);
        }
        for round in 0..100 {
            let Some(chat) = self.store.next_waiting_for(agent).await? else {
                return Ok(round > 0);
            };
            match self
                .conversation_command(chat, None, None, ConversationCommand::Offer { agent })
                .await
            {
                // Taken or gone meanwhile: look at the line again.
                Err(EngineError::Domain(DomainError::WrongConversationState)) => continue,
                // Offered, or the agent cannot take one after all.
                Ok(_) | Err(EngineError::Domain(_)) => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Offers waiting chats of `queue` until none waits or no agent can take one.
    async fn route_pass(self: &Arc<Self>, queue: QueueId) -> Result<(), EngineError> {
        if !self.is_accepting() {
            return Ok(());
        }
        // Chats that none of the free agents may take (they transferred it away, or still owe
        // its wrap-up) stay at the front without blocking the line behind them.
        let mut passed_over = std::collections::HashSet::new();
        // Bounded, so that a pathological case cannot spin forever.
        for _ in 0..10_000 {
            let line = self
                .store
                .waiting_in(queue, passed_over.len() as u32 + BATCH as u32)
                .await?;
            let chats: Vec<ConversationId> = line
                .into_iter()
                .filter(|c| !passed_over.contains(c))
                .take(BATCH)
                .collect();
            let Some(&chat) = chats.first() else {
                return Ok(());
            };
            let candidates = self
                .store
                .candidate_agents(queue, CANDIDATES.max(BATCH as u32))
                .await?;
            if candidates.is_empty() {
                return Ok(());
            }
            // Several chats at once, the longest-waiting to the best agent, the next to the
            // next: their commits share one fsync. Whatever does not go through is looked at
            // again on the next round.
            let n = chats.len().min(candidates.len());
            if n > 1 {
                let offers = chats.iter().zip(&candidates).map(|(c, a)| {
                    self.conversation_command(
                        *c,
                        None,
                        None,
                        ConversationCommand::Offer { agent: *a },
                    )
                });
                let results = futures_util::future::join_all(offers).await;
                let mut progress = false;
                for r in results {
                    match r {
                        Ok(_) => progress = true,
                        Err(EngineError::Domain(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                if progress {
                    continue;
                }
            }
            let mut offered = false;
            let mut chat_gone = false;
            for agent in candidates {
                match self
                    .conversation_command(chat, None, None, ConversationCommand::Offer { agent })
                    .await
                {
                    Ok(_) => {
                        offered = true;
                        break;
                    }
                    // The chat is no longer waiting (taken, abandoned): look at the line again.
                    Err(EngineError::Domain(DomainError::WrongConversationState)) => {
                        chat_gone = true;
                        break;
                    }
                    // This agent cannot take it any more: try the next.
                    Err(EngineError::Domain(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            if !offered && !chat_gone {
                passed_over.insert(chat);
            }
        }
        Ok(())
    }
}
