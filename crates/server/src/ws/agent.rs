//! An agent desktop's socket: a snapshot on open, then the agent's state, offers and every
//! event of its chats, in order, with no gap and no repeat.

use super::*;
use crate::bus::TopicName;
use crate::engine::SharedEngine;
use crate::http::auth::account_for_token;
use crate::hub::{typing_frame, Item, PublishedEvent, Topic};
use crate::wire::*;
use axum::extract::State;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use switchboard_core::config::Account;
use switchboard_core::decide::{AgentCommand, ConversationCommand, START_EVENTS};
use switchboard_core::text::{fill_template, MessageText};
use switchboard_core::*;
use switchboard_store::LOG_PAGE;

const KNOWN: &[&str] = &[
    "hello",
    "set_presence",
    "accept",
    "send",
    "send_template",
    "typing",
    "end",
    "wrap_up",
    "sync",
    "sign_out",
    "ping",
    "transfer",
    "invite",
    "cancel_invitation",
    "leave",
];

pub async fn upgrade(State(engine): State<SharedEngine>, ws: WebSocketUpgrade) -> Response {
    configure(ws).on_upgrade(move |socket| async move {
        let mut socket = Socket::new(socket);
        let Some(AgentCommandFrame::Hello { token, resume }) = read_hello(&mut socket, KNOWN).await
        else {
            return;
        };
        let account = match account_for_token(&engine, &token).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                socket
                    .send_error(
                        None,
                        "unauthorized",
                        "the session token is unknown or expired",
                    )
                    .await;
                socket.close(CLOSE_UNAUTHORIZED, "unauthorized").await;
                return;
            }
            // Not the token's fault: the client should try again with the same token.
            Err(_) => return store_unavailable(&mut socket).await,
        };
        Session {
            engine,
            account,
            cursors: HashMap::new(),
            agent_version: 0,
            conversations: HashMap::new(),
            connection_id: uuid::Uuid::now_v7().to_string(),
        }
        .run(socket, resume)
        .await;
    })
}

struct Session {
    engine: SharedEngine,
    account: Account,
    /// Per chat the agent is in (or owes a wrap-up for): the last `seq` sent.
    cursors: HashMap<ConversationId, u64>,
    /// The latest snapshot seen of each of those chats.
    conversations: HashMap<ConversationId, Arc<Conversation>>,
    connection_id: String,
    /// The agent row's version this desktop has shown: an older snapshot is not shown after it.
    agent_version: i64,
}

impl Session {
    fn me(&self) -> AgentId {
        self.account.id
    }

    async fn run(mut self, mut socket: Socket, resume: BTreeMap<ConversationId, u64>) {
        let engine = self.engine.clone();
        let (mailbox, mut rx) = engine.hub.mailbox();
        let topic = Topic::Agent(self.me());
        // Subscribe before reading the snapshot: what commits after the read arrives here,
        // and what the cursors already cover is skipped.
        engine.hub.subscribe(topic, &mailbox);
        let opened = Box::pin(self.open(&mut socket, resume)).await;
        if opened {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.tick().await;
            socket.hold();
            loop {
                // What was sent goes out once nothing more is queued for this connection.
                if rx.is_idle() && !socket.write_held().await {
                    break;
                }
                tokio::select! {
                    message = socket.stream.next() => {
                        match Box::pin(socket.accept(message, KNOWN)).await {
                            Incoming::Frame(v) => {
                                // What is held does not wait for the command's commit.
                                if !socket.write_held().await { break; }
                                if !Box::pin(self.command(&mut socket, v)).await { break; }
                            }
                            Incoming::Handled => {}
                            Incoming::Closed => break,
                        }
                    }
                    item = rx.recv() => {
                        let Some(item) = item else { break };
                        if !Box::pin(self.item(&mut socket, item)).await { break; }
                    }
                    _ = mailbox.wake.notified() => {
                        if let Some(reason) = mailbox.closing() {
                            socket.close(CLOSE_GOING_AWAY, reason).await;
                            break;
                        }
                        if mailbox.take_lagged() && !Box::pin(self.resync(&mut socket)).await { break; }
                    }
                    _ = ping.tick() => {
                        if socket.last_heard.elapsed() > DEAD_AFTER {
                            socket.close(CLOSE_GOING_AWAY, "no heartbeat").await;
                            break;
                        }
                        if !socket.ping().await { break; }
                    }
                }
            }
        }
        engine.hub.remove(&mailbox, &[topic]);
        // While the node stops, commands are refused: the connection's row stays, and once
        // this node's heartbeat is stale another node (or this one restarted) disconnects it.
        if engine.is_accepting() {
            let disconnect = AgentCommand::Disconnect {
                connection_id: self.connection_id.clone(),
            };
            // The connection's row goes with the event.
            let _ = engine.agent_command(self.me(), None, disconnect).await;
        }
    }

    /// Registers the connection and sends the snapshot and what the desktop missed.
    async fn open(&mut self, socket: &mut Socket, resume: BTreeMap<ConversationId, u64>) -> bool {
        let engine = self.engine.clone();
        let me = self.me();
        // The connection's row (which node holds it) is written with its event.
        let connect = AgentCommand::Connect {
            connection_id: self.connection_id.clone(),
        };
        if let Err(e) = engine.agent_command(me, None, connect).await {
            let (code, message) = engine_error_code(&e);
            socket.send_error(None, code, message).await;
            return false;
        }
        // Opening the desktop signs a logged-out agent in (Idle), as signing in over REST does.
        if let Err(e) = engine.agent_command(me, None, AgentCommand::SignIn).await {
            let (code, message) = engine_error_code(&e);
            socket.send_error(None, code, message).await;
            return false;
        }
        let Ok(Some(row)) = engine.store.agent(me).await else {
            return false;
        };
        self.agent_version = row.version;
        let agent = row.state;
        let mut chats = Vec::new();
        for cid in agent.chats.iter().chain(agent.wrapups.iter()) {
            if let Ok(Some(c)) = engine.store.conversation(*cid).await {
                let view = ChatView::of(&c, me);
                chats.push(match engine.config.current().agent_masker() {
                    Some(m) => crate::masking::chat(m, view),
                    None => view,
                });
                self.cursors.insert(c.id, c.head_seq);
                self.conversations.insert(c.id, Arc::new(c));
            }
        }
        let offer = match &agent.offer {
            Some(o) => self.offer_view(o.conversation_id, None).await,
            None => None,
        };
        if !socket
            .send(&ServerFrame::Snapshot {
                agent: AgentView::of(&agent),
                offer,
                chats,
            })
            .await
        {
            return false;
        }
        // What each chat's log holds beyond what the desktop has.
        let heads: Vec<(ConversationId, u64)> =
            self.cursors.iter().map(|(c, h)| (*c, *h)).collect();
        for (cid, head) in heads {
            let from = resume.get(&cid).copied().unwrap_or(0).min(head);
            if !self.send_range(socket, cid, from, head).await {
                return false;
            }
        }
        true
    }

    /// Sends events `from+1 ..= to` of a chat from the log.
    async fn send_range(
        &mut self,
        socket: &mut Socket,
        cid: ConversationId,
        from: u64,
        to: u64,
    ) -> bool {
        let config = self.engine.config.current();
        let masker = config.agent_masker();
        let mut after = from;
        while after < to {
            let Ok(events) = self.engine.store.events_after(cid, after, LOG_PAGE).await else {
                return false;
            };
            if events.is_empty() {
                break;
            }
            for e in events {
                if e.seq > to {
                    return true;
                }
                after = e.seq;
                let masked = masker.map(|m| crate::masking::event(m, &e.event));
                let frame = EventFrame {
                    kind: "event",
                    conversation_id: cid,
                    seq: e.seq,
                    at: e.at.0,
                    event: masked.as_ref().unwrap_or(&e.event),
                };
                let text = serde_json::to_string(&frame).expect("events serialise");
                if !socket.send_text(text).await {
                    return false;
                }
            }
        }
        true
    }

    /// The mailbox overflowed: fetch from the log whatever may have been dropped.
    async fn resync(&mut self, socket: &mut Socket) -> bool {
        let cids: Vec<ConversationId> = self.cursors.keys().copied().collect();
        for cid in cids {
            let Ok(Some(c)) = self.engine.store.conversation(cid).await else {
                continue;
            };
            let cursor = self.cursors[&cid];
            if !self.send_range(socket, cid, cursor, c.head_seq).await {
                return false;
            }
            self.cursors.insert(cid, c.head_seq);
            self.conversations.insert(cid, Arc::new(c));
        }
        if let Ok(Some(row)) = self.engine.store.agent(self.me()).await {
            self.agent_version = self.agent_version.max(row.version);
            if !self.adopt_missing(socket, &row.state).await {
                return false;
            }
            let offer = match &row.state.offer {
                Some(o) => self.offer_view(o.conversation_id, None).await,
                None => None,
            };
            if let Some(offer) = offer {
                socket.send(&ServerFrame::Offer { offer }).await;
            }
            return socket
                .send(&ServerFrame::Presence {
                    agent: AgentView::of(&row.state),
                })
                .await;
        }
        true
    }

    /// Chats the agent is in (or owes a wrap-up for) that this desktop does not follow — their
    /// `accepted` notice was lost (a full mailbox, a lost bus notice): sends their log and
    /// follows them from now on.
    async fn adopt_missing(&mut self, socket: &mut Socket, agent: &Agent) -> bool {
        let missing: Vec<ConversationId> = agent
            .chats
            .iter()
            .chain(agent.wrapups.iter())
            .filter(|c| !self.cursors.contains_key(c))
            .copied()
            .collect();
        for cid in missing {
            let Ok(Some(c)) = self.engine.store.conversation(cid).await else {
                continue;
            };
            if !self.send_range(socket, cid, 0, c.head_seq).await {
                return false;
            }
            self.cursors.insert(cid, c.head_seq);
            self.conversations.insert(cid, Arc::new(c));
        }
        true
    }

    /// The offer pending for this agent on `cid`. `offered`: the event that made it, when
    /// this is sent because of it.
    async fn offer_view(
        &self,
        cid: ConversationId,
        offered: Option<&PublishedEvent>,
    ) -> Option<OfferView> {
        // Read now, not taken from the event: an offer already withdrawn is not shown.
        let c = self.engine.store.conversation(cid).await.ok()??;
        let me = self.me();
        // A chat offered by routing or by a transfer, or an invitation into a conference.
        let (kind, deadline) = match (&c.status, &c.invitation) {
            (
                Status::Offered {
                    agent_id,
                    deadline,
                    transfer,
                },
                _,
            ) if *agent_id == me => (if *transfer { "transfer" } else { "chat" }, *deadline),
            (Status::Active { .. }, Some(i)) if i.agent_id == me => ("conference", i.deadline),
            _ => return None,
        };
        // An offer numbered right after the start's events (one written with the chat's
        // arrival, as most are while agents have room) has no message before it: nothing to
        // read.
        let (log, offered_at) = match offered {
            Some(pe)
                if pe.seq == START_EVENTS + 1
                    && matches!(pe.event, ConversationEvent::Offered { .. }) =>
            {
                (Vec::new(), Some(pe.at.0))
            }
            _ => {
                let log = self.engine.store.events_after(cid, 0, 1000).await.ok()?;
                let at = log
                    .iter()
                    .rev()
                    .find(|e| {
                        matches!(
                            e.event,
                            ConversationEvent::Offered { .. }
                                | ConversationEvent::ConferenceRequested { .. }
                        )
                    })
                    .map(|e| e.at.0);
                (log, at)
            }
        };
        let offered_at = offered_at.unwrap_or(deadline.0);
        let messages = log
            .into_iter()
            .filter_map(|e| match e.event {
                ConversationEvent::Message { sender, text, .. } => Some(MessageView {
                    seq: e.seq,
                    at: e.at.0,
                    sender,
                    text,
                }),
                _ => None,
            })
            .collect();
        let view = OfferView {
            kind: kind.to_string(),
            conversation_id: cid,
            customer_name: customer_label(&c.customer),
            customer: (*c.customer).clone(),
            queue_id: c.queue_id,
            queue_name: c.queue_name.clone(),
            agent_name: self.account.name.clone(),
            offered_at,
            arrived_at: c.arrived_at.0,
            deadline: deadline.0,
            proactive: c.proactive,
            variables: c.variables.to_map(),
            messages,
        };
        Some(match self.engine.config.current().agent_masker() {
            Some(m) => crate::masking::offer(m, view),
            None => view,
        })
    }

    /// Something was published for this agent.
    async fn item(&mut self, socket: &mut Socket, item: Item) -> bool {
        match item {
            Item::Event(pe) => self.event(socket, &pe).await,
            Item::Agent(agent, version) => {
                if version <= self.agent_version {
                    // Older than what this desktop shows (queued before its snapshot).
                    return true;
                }
                self.agent_version = version;
                // The name an administrator gave the agent since this desktop opened.
                self.account.name.clone_from(&agent.name);
                socket
                    .send(&ServerFrame::Presence {
                        agent: AgentView::of(&agent),
                    })
                    .await
                    && self.adopt_missing(socket, &agent).await
            }
            Item::Typing {
                conversation_id,
                from_customer,
                frame,
            } => {
                if from_customer && self.cursors.contains_key(&conversation_id) {
                    socket.send_text(frame).await
                } else {
                    true
                }
            }
            Item::LineChanged(_) => true,
            Item::Close(reason) => {
                socket.close(CLOSE_GOING_AWAY, reason).await;
                false
            }
        }
    }

    async fn event(&mut self, socket: &mut Socket, pe: &PublishedEvent) -> bool {
        let me = self.me();
        let cid = pe.conversation.id;
        if let Some(&cursor) = self.cursors.get(&cid) {
            if pe.seq <= cursor {
                return true;
            }
            if pe.seq > cursor + 1 && !self.send_range(socket, cid, cursor, pe.seq - 1).await {
                return false;
            }
            if !socket.send_text(pe.agent_frame.clone()).await {
                return false;
            }
            self.cursors.insert(cid, pe.seq);
            self.conversations.insert(cid, pe.conversation.clone());
            // Done with it once the agent's own wrap-up is in.
            if matches!(&pe.event, ConversationEvent::WrappedUp { agent_id, .. } if *agent_id == me)
            {
                self.cursors.remove(&cid);
                self.conversations.remove(&cid);
            }
            return true;
        }
        use ConversationEvent as E;
        match &pe.event {
            E::Accepted { agent_id, .. }
            | E::TransferAccepted { agent_id, .. }
            | E::ConferenceJoined { agent_id, .. }
                if *agent_id == me =>
            {
                // Accepting opens the chat: its whole history, then live events.
                if !self.send_range(socket, cid, 0, pe.seq).await {
                    return false;
                }
                self.cursors.insert(cid, pe.seq);
                self.conversations.insert(cid, pe.conversation.clone());
                true
            }
            E::Offered { agent_id, .. } | E::ConferenceRequested { agent_id, .. }
                if *agent_id == me =>
            {
                match self.offer_view(cid, Some(pe)).await {
                    Some(offer) => socket.send(&ServerFrame::Offer { offer }).await,
                    None => true,
                }
            }
            E::OfferTimedOut { agent_id }
            | E::TransferRejected { agent_id }
            | E::ConferenceWithdrawn { agent_id }
                if *agent_id == me =>
            {
                socket
                    .send(&ServerFrame::OfferEnded {
                        conversation_id: cid,
                        reason: "timed_out".into(),
                    })
                    .await
            }
            E::OfferWithdrawn { agent_id, .. } | E::ConferenceCancelled { agent_id }
                if *agent_id == me =>
            {
                socket
                    .send(&ServerFrame::OfferEnded {
                        conversation_id: cid,
                        reason: "withdrawn".into(),
                    })
                    .await
            }
            _ => true,
        }
    }

    /// Runs one command; false when the socket should close.
    async fn command(&mut self, socket: &mut Socket, value: serde_json::Value) -> bool {
        let frame = match parse_frame::<AgentCommandFrame>(&value) {
            Ok(f) => f,
            Err(e) => {
                let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
                return socket.send_error(id, "invalid_command", e).await;
            }
        };
        let engine = self.engine.clone();
        let me = self.me();
        let scope = format!("agent:{me}");
        use AgentCommandFrame as F;
        match frame {
            F::Hello { .. } => {
                socket
                    .send_error(None, "already_said_hello", "hello comes once, first")
                    .await
            }
            F::Ping => socket.send(&ServerFrame::Pong).await,
            F::SetPresence {
                id,
                presence,
                idle_code_id,
            } => {
                let client = client_id(scope, &id, &value);
                // A repeat gets its first answer even if what it names is gone since.
                if let Some(done) = self.replayed(socket, &id, &client).await {
                    return done;
                }
                let presence = match (presence.as_str(), idle_code_id) {
                    ("available", None) => Presence::Available,
                    ("idle", Some(code)) => {
                        let config = match engine.config.get().await {
                            Ok(c) => c,
                            Err(e) => return socket.answer(&id, Err(e.into())).await,
                        };
                        let Some(c) = config.idle_codes.get(&code) else {
                            return socket
                                .send_error(
                                    Some(id),
                                    "unknown_idle_code",
                                    "there is no such idle code",
                                )
                                .await;
                        };
                        Presence::Idle {
                            code_id: Some(c.id),
                            code_name: Some(c.name.clone()),
                        }
                    }
                    ("idle", None) => {
                        return socket
                            .send_error(
                                Some(id),
                                "idle_code_required",
                                "going Idle needs an idle_code_id",
                            )
                            .await
                    }
                    _ => {
                        return socket
                            .send_error(
                                Some(id),
                                "invalid_command",
                                "presence is \"available\" or \"idle\" (with idle_code_id)",
                            )
                            .await
                    }
                };
                let r = engine
                    .agent_command(me, Some(&client), AgentCommand::SetPresence(presence))
                    .await;
                socket.answer(&id, r).await
            }
            F::Accept {
                id,
                conversation_id,
            } => {
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::Accept { agent: me },
                )
                .await
            }
            F::Send {
                id,
                conversation_id,
                text,
            } => {
                let text = match MessageText::parse_agent(&text) {
                    Ok(t) => t,
                    Err(e) => return socket.answer(&id, Err(e.into())).await,
                };
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::AgentSend {
                        agent: me,
                        text,
                        template: None,
                    },
                )
                .await
            }
            F::SendTemplate {
                id,
                conversation_id,
                template,
            } => {
                let client = client_id(scope, &id, &value);
                // A repeat gets its first answer even if what it names is gone since.
                if let Some(done) = self.replayed(socket, &id, &client).await {
                    return done;
                }
                let text = match self.fill(conversation_id, &template).await {
                    Ok(t) => t,
                    Err((code, message)) => {
                        return socket.send_error(Some(id), code, message).await
                    }
                };
                let r = engine
                    .conversation_command(
                        conversation_id,
                        Some(me),
                        Some(&client),
                        ConversationCommand::AgentSend {
                            agent: me,
                            text,
                            template: Some(template),
                        },
                    )
                    .await;
                socket.answer(&id, r).await
            }
            F::Transfer {
                id,
                conversation_id,
                queue_id,
                agent_id,
            } => {
                let client = client_id(scope, &id, &value);
                // A repeat gets its first answer even if what it names is gone since.
                if let Some(done) = self.replayed(socket, &id, &client).await {
                    return done;
                }
                let command = match (queue_id, agent_id) {
                    (Some(q), None) => {
                        let config = match engine.config.get().await {
                            Ok(c) => c,
                            Err(e) => return socket.answer(&id, Err(e.into())).await,
                        };
                        let Some(queue) = config.queues.get(&q) else {
                            return socket
                                .send_error(Some(id), "unknown_queue", "there is no such queue")
                                .await;
                        };
                        ConversationCommand::TransferToQueue {
                            agent: me,
                            queue_id: queue.id,
                            queue_name: queue.name.clone(),
                            priority: queue.priority,
                        }
                    }
                    (None, Some(target)) => {
                        ConversationCommand::TransferToAgent { agent: me, target }
                    }
                    _ => {
                        return socket
                            .send_error(
                                Some(id),
                                "invalid_command",
                                "a transfer names exactly one of queue_id and agent_id",
                            )
                            .await
                    }
                };
                let r = engine
                    .conversation_command(conversation_id, Some(me), Some(&client), command)
                    .await;
                socket.answer(&id, r).await
            }
            F::Invite {
                id,
                conversation_id,
                agent_id,
            } => {
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::Invite {
                        agent: me,
                        target: agent_id,
                    },
                )
                .await
            }
            F::CancelInvitation {
                id,
                conversation_id,
            } => {
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::CancelInvitation { agent: me },
                )
                .await
            }
            F::Leave {
                id,
                conversation_id,
            } => {
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::LeaveConference { agent: me },
                )
                .await
            }
            F::Typing { conversation_id } => {
                if let Some(c) = self.conversations.get(&conversation_id) {
                    if matches!(c.status, Status::Active { .. }) && c.agents.contains(&me) {
                        engine.publish_typing(
                            vec![TopicName::Customer(conversation_id)],
                            conversation_id,
                            false,
                            typing_frame(conversation_id, &self.account.name),
                        );
                    }
                }
                true
            }
            F::End {
                id,
                conversation_id,
            } => {
                self.answer_command(
                    socket,
                    &value,
                    &id,
                    conversation_id,
                    ConversationCommand::End { agent: me },
                )
                .await
            }
            F::WrapUp {
                id,
                conversation_id,
                reason_id,
            } => {
                let client = client_id(scope, &id, &value);
                // A repeat gets its first answer even if what it names is gone since.
                if let Some(done) = self.replayed(socket, &id, &client).await {
                    return done;
                }
                let config = match engine.config.get().await {
                    Ok(c) => c,
                    Err(e) => return socket.answer(&id, Err(e.into())).await,
                };
                let Some(reason) = config.wrapup_reasons.get(&reason_id) else {
                    return socket
                        .send_error(
                            Some(id),
                            "unknown_wrapup_reason",
                            "there is no such wrap-up reason",
                        )
                        .await;
                };
                let r = engine
                    .conversation_command(
                        conversation_id,
                        Some(me),
                        Some(&client),
                        ConversationCommand::WrapUp {
                            agent: me,
                            reason_id,
                            reason_name: reason.name.clone(),
                        },
                    )
                    .await;
                socket.answer(&id, r).await
            }
            F::Sync {
                id,
                conversation_id,
                after_seq,
            } => {
                let c = match engine.store.conversation(conversation_id).await {
                    Ok(Some(c))
                        if c.ever_agents.contains(&me) || c.loaded_agents().contains(&me) =>
                    {
                        c
                    }
                    Ok(_) => {
                        return socket
                            .send_error(
                                Some(id),
                                "not_in_conversation",
                                "you are not in this conversation",
                            )
                            .await
                    }
                    Err(e) => return socket.answer(&id, Err(e.into())).await,
                };
                let upto = self
                    .cursors
                    .get(&conversation_id)
                    .copied()
                    .unwrap_or(c.head_seq);
                if !self
                    .send_range(socket, conversation_id, after_seq, upto)
                    .await
                {
                    return false;
                }
                socket
                    .answer(&id, Ok(crate::engine::Outcome::Done { seq: Some(upto) }))
                    .await
            }
            F::SignOut { id } => {
                let client = client_id(scope, &id, &value);
                let r = engine
                    .agent_command(me, Some(&client), AgentCommand::SignOut)
                    .await;
                let ok = r.is_ok();
                socket.answer(&id, r).await;
                if ok {
                    // Signed out means every session of the account ends, on every device.
                    let _ = engine.store.delete_sessions_of(me).await;
                    // Every desktop of the agent closes, on every node, as over REST.
                    engine.close_agent(me, "signed out");
                    socket.close(CLOSE_GOING_AWAY, "signed out").await;
                    return false;
                }
                true
            }
        }
    }

    /// Runs a conversation command for this agent under the frame's id, and answers it.
    async fn answer_command(
        &self,
        socket: &mut Socket,
        frame: &serde_json::Value,
        id: &str,
        conversation_id: ConversationId,
        command: ConversationCommand,
    ) -> bool {
        let me = self.me();
        let client = client_id(format!("agent:{me}"), id, frame);
        let r = self
            .engine
            .conversation_command(conversation_id, Some(me), Some(&client), command)
            .await;
        socket.answer(id, r).await
    }

    /// Answers a repeated command id with its first answer (or `id_reused`); None when the
    /// id is new.
    async fn replayed(
        &self,
        socket: &mut Socket,
        id: &str,
        client: &crate::engine::ClientId,
    ) -> Option<bool> {
        match self.engine.replay(Some(client)).await {
            Ok(None) => None,
            Ok(Some(outcome)) => Some(socket.answer(id, Ok(outcome)).await),
            Err(e) => Some(socket.answer(id, Err(e)).await),
        }
    }

    /// A template's text with its parameters filled for this conversation.
    async fn fill(
        &self,
        cid: ConversationId,
        name: &str,
    ) -> Result<MessageText, (&'static str, String)> {
        let config = self
            .engine
            .config
            .get()
            .await
            .map_err(|_| ("store_unavailable", "retry".to_string()))?;
        let template = config.templates.get(name).ok_or((
            "unknown_template",
            format!("there is no template named {name:?}"),
        ))?;
        let c = self
            .engine
            .store
            .conversation(cid)
            .await
            .map_err(|_| ("store_unavailable", "retry".to_string()))?
            .ok_or((
                "conversation_not_found",
                "there is no such conversation".to_string(),
            ))?;
        let mut values = c.variables.to_map();
        values.insert("customer_name".into(), customer_label(&c.customer));
        values.insert("agent_name".into(), self.account.name.clone());
        values.insert("queue_name".into(), c.queue_name.clone());
        fill_template(&template.body, &values).map_err(|e| (e.code(), e.to_string()))
    }
}
