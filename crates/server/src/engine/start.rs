//! A customer starts a chat through an asset.

use super::conversation::{fold, serve_queue, Folded};
use super::*;
use crate::auth;
use std::collections::BTreeMap;
use switchboard_core::config::Asset;
use switchboard_core::decide::{decide, next_deadline, start, ConversationCommand};
use switchboard_store::{CatalogKind, ConversationWrite};

/// Agents looked at for an offer on arrival: enough that chats arriving together each find
/// one not picked by another, and that one changed since the candidates were read is passed.
const ARRIVAL_CANDIDATES: u32 = 8;

/// Offers on arrival tried before a chat whose offers keep losing races simply queues.
const ARRIVAL_ATTEMPTS: usize = 3;

/// A queue as an offer on arrival sees it.
struct ArrivalLine {
    /// Some chat waits in it: a new one queues behind.
    waiting: bool,
    candidates: Vec<AgentId>,
}

/// An offer made with a chat's arrival, and the agents as read before it.
struct ArrivalOffer<'a> {
    folded: Folded,
    agents: BTreeMap<AgentId, Agent>,
    /// Held until the commit is done.
    picked: Picked<'a>,
}

/// An agent picked for an offer on arrival, until its commit is done. Chats arriving
/// together read the same best candidates: without this they would all be offered to the
/// first, one commit would win, and the others would lose their offer to the conflict (a
/// quarter of arrivals at 200 chats/s). Other nodes may still pick the same agent; the
/// store's version check settles that.
struct Picked<'a> {
    engine: &'a Engine,
    agent: AgentId,
}

impl<'a> Picked<'a> {
    fn pick(engine: &'a Engine, agent: AgentId) -> Option<Picked<'a>> {
        let fresh = engine.picked_on_arrival.lock().unwrap().insert(agent);
        // Lazily: a `Picked` made and dropped here would release the other's pick.
        fresh.then(|| Picked { engine, agent })
    }
}

impl Drop for Picked<'_> {
    fn drop(&mut self) {
        self.engine
            .picked_on_arrival
            .lock()
            .unwrap()
            .remove(&self.agent);
    }
}

/// What the widget sends to start a chat.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub email: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub phone: Option<String>,
    /// Free pre-chat fields.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The page the chat started from.
    #[serde(default)]
    #[ts(optional)]
    pub page_url: Option<String>,
    /// Started from a proactive invitation.
    #[serde(default)]
    pub proactive: bool,
    /// A token signed by the website with the asset's secret (see docs/protocol.md).
    #[serde(default)]
    #[ts(optional)]
    pub identity_token: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, ts_rs::TS)]
pub struct Started {
    pub conversation_id: ConversationId,
    /// The customer's token for this conversation: shown once, stored only as a hash.
    pub token: String,
}

fn clean(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, EngineError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim().to_string();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(EngineError::Invalid(format!(
            "{field} must be at most {max} characters, without control characters"
        )));
    }
    Ok(Some(v))
}

impl Engine {
    pub async fn start_conversation(
        self: &Arc<Self>,
        asset_id: AssetId,
        req: StartRequest,
    ) -> Result<Started, EngineError> {
        self.check_accepting()?;
        let config = self.config.get().await?;
        // Read from the store, not the cache: a deleted asset takes no new chat, whichever
        // node deleted it. The queue's line is read beside it, for the queue the cached
        // configuration names (read again below if the asset now names another).
        let cached_queue = config.assets.get(&asset_id).map(|a| a.queue_id);
        let (asset, line) = futures_util::future::join(
            self.store.entry(CatalogKind::Asset, &asset_id.to_string()),
            async {
                match cached_queue {
                    Some(q) => Some((q, self.arrival_line(q).await)),
                    None => None,
                }
            },
        )
        .await;
        let asset: Asset =
            asset?.ok_or(EngineError::NotFound("no such asset (or it was deleted)"))?;
        let asset = &asset;
        let queue = config
            .queues
            .get(&asset.queue_id)
            .ok_or(EngineError::NotFound("the asset's queue does not exist"))?;
        let now = self.now();

        let mut customer = CustomerInfo {
            name: clean("name", req.name, 100)?,
            email: clean("email", req.email, 200)?,
            phone: clean("phone", req.phone, 40)?,
            ..Default::default()
        };
        if req.fields.len() > 20 {
            return Err(EngineError::Invalid("at most 20 pre-chat fields".into()));
        }
        for (k, v) in req.fields {
            if k.is_empty() || k.len() > 64 || k.starts_with("system.") {
                return Err(EngineError::Invalid(format!(
                    "bad pre-chat field name: {k:?}"
                )));
            }
            if let Some(v) = clean(&k, Some(v), 500)? {
                customer.fields.insert(k, v);
            }
        }
        for field in asset.prechat_fields.iter().filter(|f| f.required) {
            let given = match field.key.as_str() {
                "name" => customer.name.is_some(),
                "email" => customer.email.is_some(),
                "phone" => customer.phone.is_some(),
                key => customer.fields.contains_key(key),
            };
            if !given {
                return Err(EngineError::Invalid(format!(
                    "the pre-chat field {:?} is required",
                    field.key
                )));
            }
        }
        if let Some(token) = req.identity_token {
            let claims = auth::verify_identity(&token, &asset.secret, now.0 / 1000)
                .map_err(|e| EngineError::Invalid(format!("identity token refused: {e:?}")))?;
            customer.identity = Some(claims.sub);
            if customer.name.is_none() {
                customer.name = clean("name", claims.name, 100)?;
            }
            if customer.email.is_none() {
                customer.email = clean("email", claims.email, 200)?;
            }
        }

        if let Some(m) = config.redactor() {
            // Payment data is masked before it is stored.
            let r = |v: &mut Option<String>| {
                if let Some(s) = v {
                    *s = crate::masking::redact(m, s);
                }
            };
            r(&mut customer.name);
            r(&mut customer.email);
            r(&mut customer.phone);
            for v in customer.fields.values_mut() {
                *v = crate::masking::redact(m, v);
            }
        }

        // The conversation's variables: pre-chat answers, and the system's own.
        let mut variables: BTreeMap<String, String> = customer.fields.clone();
        variables.insert("system.asset".into(), asset.name.clone());
        variables.insert("system.queue".into(), queue.name.clone());
        variables.insert("system.contact_start".into(), crate::rfc3339(now));
        if let Some(page) = clean("page_url", req.page_url, 2000)? {
            variables.insert("system.page_url".into(), page);
        }
        for (k, v) in [
            ("name", &customer.name),
            ("email", &customer.email),
            ("phone", &customer.phone),
        ] {
            if let Some(v) = v {
                variables.insert(format!("customer.{k}"), v.clone());
            }
        }

        let cid = ConversationId::new();
        let events = start(
            asset.id,
            &asset.name,
            queue.id,
            &queue.name,
            queue.priority,
            customer,
            variables,
            req.proactive,
            now,
        );
        let mut state = Conversation::started(cid, &events[0], queue.id, now)
            .expect("start() begins with Started");
        let mut numbered = vec![(1, now, events[0].clone())];
        for e in &events[1..] {
            state.apply(e, now);
            numbered.push((state.head_seq, now, e.clone()));
        }
        let token = auth::new_token("sbc_");
        let token_hash = auth::token_hash(&token);
        let policy = config.policy_for(queue.id, asset.id);
        let base = config.base_policy();
        let line = match line {
            Some((q, line)) if q == queue.id => line,
            _ => self.arrival_line(queue.id).await,
        };
        let mut offer = self
            .offer_on_arrival(&state, line, &policy, &base, now)
            .await;
        let mut attempts = 1;
        loop {
            let (after, events, agents, offered_to, picked) = match offer.take() {
                Some(o) => (
                    o.folded.after,
                    [&numbered[..], &o.folded.numbered[..]].concat(),
                    o.folded.agent_writes,
                    Some(o.agents),
                    Some(o.picked),
                ),
                None => (state.clone(), numbered.clone(), vec![], None, None),
            };
            let mut commit = Commit {
                now,
                conversation: Some(ConversationWrite {
                    expected_head: None,
                    deadline: next_deadline(&after, &policy),
                    state: Arc::new(after),
                    events,
                    token_hash: Some(token_hash.clone()),
                }),
                agents,
                command: None,
                connection: None,
            };
            match self.commit(&mut commit).await {
                Ok(()) => {}
                // The agent changed since it was read (often the best candidate is one who just
                // ended a chat and is wrapping it up): look again. After a few lost races the
                // chat enters its queue without an offer, and routing takes it from there.
                Err(StoreError::Conflict) if offered_to.is_some() => {
                    drop(picked);
                    if attempts < ARRIVAL_ATTEMPTS {
                        attempts += 1;
                        let line = self.arrival_line(queue.id).await;
                        offer = self
                            .offer_on_arrival(&state, line, &policy, &base, now)
                            .await;
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let written = commit.conversation.take().expect("written above");
            // Published as from the arrived state: no agent was in it before.
            self.publish_conversation(&state, &written.state, written.events);
            if let Some(before) = offered_to {
                for w in commit.agents {
                    let previous = &before[&w.state.id];
                    self.after_agent_change(previous, Arc::new(w.state), w.expected_version + 1);
                }
            }
            return Ok(Started {
                conversation_id: cid,
                token,
            });
        }
    }

    /// The offer a chat gets as it arrives, written in the same commit, when nothing waits in
    /// its queue and one of the queue's agents has room. The agent then sees it one commit
    /// after the customer asked, rather than after the arrival's commit, the routing pass's
    /// reads and the offer's own commit (and without waiting for the customer's connection,
    /// which commits on the same conversation just then). A chat arriving behind others
    /// waits its turn: routing offers the longest-waiting first.
    async fn offer_on_arrival(
        &self,
        arrived: &Conversation,
        line: Option<ArrivalLine>,
        policy: &Policy,
        base: &Policy,
        now: Timestamp,
    ) -> Option<ArrivalOffer<'_>> {
        let line = line?;
        if line.waiting {
            return None;
        }
        let candidates = line.candidates;
        for agent in candidates {
            let Some(picked) = Picked::pick(self, agent) else {
                continue;
            };
            let Ok(Some(row)) = self.store.agent(agent).await else {
                continue;
            };
            let agents = BTreeMap::from([(agent, row.state)]);
            let versions = BTreeMap::from([(agent, row.version)]);
            // The candidates' query may be a moment old: the decision checks the agent again.
            if let Ok(decision) = decide(
                arrived,
                &agents,
                &ConversationCommand::Offer { agent },
                now,
                policy,
            ) {
                let mut folded = fold(arrived, &agents, &versions, decision, now, base);
                serve_queue(&mut folded.agent_writes, agent, arrived.queue_id);
                return Some(ArrivalOffer {
                    folded,
                    agents,
                    picked,
                });
            }
        }
        None
    }

    /// What an offer on arrival needs to know of a queue: whether a chat waits in it, and its
    /// agents who have room, best first. `None` when the store cannot tell: the offer is only
    /// a shortcut, and the chat is then written without it and waits for routing, rather than
    /// the customer being refused.
    async fn arrival_line(&self, queue: QueueId) -> Option<ArrivalLine> {
        let reads = futures_util::future::try_join(
            self.store.waiting_in(queue, 1),
            self.store.candidate_agents(queue, ARRIVAL_CANDIDATES),
        );
        match reads.await {
            Ok((waiting, candidates)) => Some(ArrivalLine {
                waiting: !waiting.is_empty(),
                candidates,
            }),
            Err(e) => {
                tracing::warn!(%queue, error = %e, "no offer on arrival: cannot read the line");
                None
            }
        }
    }

    /// An asset was deleted: every chat that came through it and is not over is interrupted
    /// (closed for the agents in it, out of the line if it was waiting or offered).
    pub async fn interrupt_asset(self: &Arc<Self>, asset: AssetId) -> Result<(), EngineError> {
        for cid in self
            .store
            .live_conversations_of_asset(&asset.to_string())
            .await?
        {
            match self
                .conversation_command(cid, None, None, ConversationCommand::Interrupt)
                .await
            {
                Ok(_) | Err(EngineError::Domain(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
