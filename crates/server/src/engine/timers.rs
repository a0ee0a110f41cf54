//! The timers: offers that run out (RONA), grace periods, inactivity, auto wrap-up, agents
//! whose desktop stayed away. Deadlines live in the store, so they survive a restart and any
//! node may act on them; acting twice is harmless (the second finds nothing due).

use super::*;
use std::time::Duration;
use switchboard_core::decide::{agent_due, ConversationCommand};

/// How often a node checks for deadlines set by other nodes, and beats its heart.
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How often a node says it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);
/// A node whose heartbeat is older than this is taken for dead; its connections are closed.
const NODE_STALE: Millis = Millis::seconds(15);
/// Command ids are kept at least this long.
const KEEP_COMMAND_IDS: Millis = Millis::minutes(24 * 60 + 60);

impl Engine {
    /// Runs until the engine stops accepting work.
    pub async fn run_timers(self: Arc<Self>) {
        let mut last_housekeeping = Timestamp(0);
        while self.is_accepting() {
            // Awake: any commit that sets a deadline wakes the loop again (see `commit`).
            self.timers_asleep_until.store(0, Ordering::SeqCst);
            let next = match self.store.next_deadline().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read deadlines");
                    None
                }
            };
            let mut woken = false;
            if next.is_none_or(|at| at > self.now()) {
                // Only a commit with a sooner deadline than `next` wakes the loop early; a
                // notification sent since the read above is kept by `Notify` and wakes it
                // at once.
                let until = next.map_or(i64::MAX, |t| t.0);
                self.timers_asleep_until.store(until, Ordering::SeqCst);
                woken = match next {
                    Some(at) => tokio::select! {
                        _ = self.clock.sleep_until(at) => false,
                        _ = self.timer_wake.notified() => true,
                        _ = tokio::time::sleep(SCAN_EVERY) => false,
                    },
                    None => tokio::select! {
                        _ = self.timer_wake.notified() => true,
                        _ = tokio::time::sleep(SCAN_EVERY) => false,
                    },
                };
            }
            if !self.is_accepting() {
                break;
            }
            if woken {
                // A sooner deadline: read the next one again before acting on anything.
                continue;
            }
            // A deadline whose command keeps failing stays in the past: pause rather than
            // spin on it.
            match self.fire_due().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(SCAN_EVERY).await,
                Err(e) => {
                    tracing::warn!(error = %e, "timers failed");
                    tokio::time::sleep(SCAN_EVERY).await;
                }
            }
            let now = self.now();
            if now.0 - last_housekeeping.0 >= 5_000 || now < last_housekeeping {
                last_housekeeping = now;
                if let Err(e) = self.housekeeping(now).await {
                    tracing::warn!(error = %e, "housekeeping failed");
                }
            }
        }
    }

    /// Acts on every deadline that has come; false if any of them failed.
    pub async fn fire_due(self: &Arc<Self>) -> Result<bool, EngineError> {
        let now = self.now();
        let mut all_done = true;
        for cid in self.store.due_conversations(now, 500).await? {
            match self
                .conversation_command(cid, None, None, ConversationCommand::Tick)
                .await
            {
                Ok(_) | Err(EngineError::Domain(_)) => {}
                Err(e) => {
                    all_done = false;
                    tracing::warn!(%cid, error = %e, "conversation timer failed");
                }
            }
        }
        for aid in self.store.due_agents(now, 500).await? {
            if let Err(e) = self.agent_timers(aid).await {
                all_done = false;
                tracing::warn!(%aid, error = %e, "agent timer failed");
            }
        }
        Ok(all_done)
    }

    /// The rules changed (the desktop profile, an asset's inactivity timeout): every stored
    /// deadline is worked out again, and what is due now is done. Timers already running
    /// then follow the new values, shorter or longer.
    pub async fn refresh_deadlines(self: &Arc<Self>) -> Result<(), EngineError> {
        let mut conversations: std::collections::BTreeSet<ConversationId> = self
            .store
            .conversations_with_deadline()
            .await?
            .into_iter()
            .collect();
        let agents = self.store.busy_or_timed_agents().await?;
        for a in &agents {
            // A wrap-up may need a deadline it did not have (auto wrap-up turned on).
            conversations.extend(a.state.wrapups.iter().copied());
        }
        for cid in conversations {
            match self
                .conversation_command(cid, None, None, ConversationCommand::Tick)
                .await
            {
                Ok(_) | Err(EngineError::Domain(_)) => {}
                Err(e) => tracing::warn!(%cid, error = %e, "cannot refresh a deadline"),
            }
        }
        for a in agents {
            if let Err(e) = self.agent_timers(a.state.id).await {
                tracing::warn!(agent = %a.state.id, error = %e, "cannot refresh a deadline");
            }
        }
        self.timer_wake.notify_one();
        Ok(())
    }

    /// Beats this node's heart now and every few seconds, on its own so that a slow timer
    /// pass never makes the node look dead to the others.
    pub async fn run_heartbeat(self: Arc<Self>) {
        let mut every = tokio::time::interval(HEARTBEAT_EVERY);
        while self.is_accepting() {
            every.tick().await;
            if let Err(e) = self.store.heartbeat(&self.node_id, self.now()).await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
        }
    }

    /// An agent whose desktop is gone: withdraw its offer after the short grace; log it out
    /// after the sign-out grace, returning its chats to their queues and submitting its
    /// wrap-ups with the default reason first.
    async fn agent_timers(self: &Arc<Self>, aid: AgentId) -> Result<(), EngineError> {
        let Some(row) = self.store.agent(aid).await? else {
            return Ok(());
        };
        let policy = self.config.get().await?.base_policy().clone();
        let now = self.now();
        let due = agent_due(&row.state, now, &policy);
        if let Some(cid) = due.withdraw_offer {
            let _ = self
                .conversation_command(
                    cid,
                    None,
                    None,
                    ConversationCommand::WithdrawOffer { agent: aid },
                )
                .await;
        }
        if due.log_out {
            let a = &row.state;
            let mut chats: Vec<ConversationId> = a.chats.iter().copied().collect();
            chats.extend(a.wrapups.iter().copied());
            chats.extend(a.offer.as_ref().map(|o| o.conversation_id));
            for cid in chats {
                let _ = self
                    .conversation_command(
                        cid,
                        None,
                        None,
                        ConversationCommand::AgentLoggedOut { agent: aid },
                    )
                    .await;
            }
            // The session stays valid: a desktop that comes back signs the agent in again
            // (Idle), and an account used over REST alone is not cut off.
            match self
                .agent_command(aid, None, AgentCommand::LogOutLost)
                .await
            {
                Ok(_) | Err(EngineError::Domain(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // Whatever happened, store the agent's next deadline as it now stands (what is still
        // due after this pass, such as a chat that could not be returned yet, is retried
        // a second later rather than at once).
        if let Some(row) = self.store.agent(aid).await? {
            let deadline = agent_next_deadline(&row.state, &policy).map(|d| {
                if d <= now {
                    now + Millis::seconds(1)
                } else {
                    d
                }
            });
            let mut commit = Commit {
                now,
                conversation: None,
                agents: vec![AgentWrite {
                    expected_version: row.version,
                    state: row.state.clone(),
                    events: vec![],
                    deadline,
                    serving: None,
                }],
                command: None,
                connection: None,
            };
            let _ = self.commit(&mut commit).await;
        }
        Ok(())
    }

    /// Heartbeat; close the connections of dead nodes; forget old command ids.
    async fn housekeeping(self: &Arc<Self>, now: Timestamp) -> Result<(), EngineError> {
        let stale = Timestamp(now.0 - NODE_STALE.0);
        for (conn, agent, conversation) in self
            .store
            .orphaned_connections(&self.node_id, stale)
            .await?
        {
            if let Some(aid) = agent.and_then(|a| a.parse::<AgentId>().ok()) {
                let _ = self
                    .agent_command(
                        aid,
                        None,
                        AgentCommand::Disconnect {
                            connection_id: conn.clone(),
                        },
                    )
                    .await;
            }
            if let Some(cid) = conversation.and_then(|c| c.parse::<ConversationId>().ok()) {
                let _ = self
                    .conversation_command(
                        cid,
                        None,
                        None,
                        ConversationCommand::CustomerDisconnected {
                            connection_id: conn.clone(),
                        },
                    )
                    .await;
            }
            self.store.remove_connection(&conn).await?;
        }
        for cid in self.store.live_conversations_of_deleted_assets().await? {
            let _ = self
                .conversation_command(cid, None, None, ConversationCommand::Interrupt)
                .await;
        }
        self.store
            .prune(Timestamp(now.0 - KEEP_COMMAND_IDS.0), now)
            .await?;
        Ok(())
    }
}
