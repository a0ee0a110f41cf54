//! A customer widget's socket: its chat's events for the customer's eyes (never offers, RONAs
//! or wrap-ups), resumable from the last `seq`, and its place in line while it waits.

use super::*;
use crate::auth::token_hash;
use crate::bus::TopicName;
use crate::engine::SharedEngine;
use crate::hub::{typing_frame, Item, Mailbox, Topic};
use crate::wire::*;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;
use switchboard_core::decide::ConversationCommand;
use switchboard_core::text::MessageText;
use switchboard_core::*;
use switchboard_store::LOG_PAGE;

const KNOWN: &[&str] = &["hello", "send", "typing", "end", "ping"];
/// The customer is told their position again at most this often.
const POSITION_EVERY: Duration = Duration::from_secs(5);
/// While the line keeps changing, how often a waiting chat looks at its place (and so wakes)
/// when it did not move: most changes are behind it.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

pub async fn upgrade(State(engine): State<SharedEngine>, ws: WebSocketUpgrade) -> Response {
    configure(ws).on_upgrade(move |socket| async move {
        // Opening runs once: boxed, so that its states do not size the future — the task —
        // of a connection that may then idle for hours (with the frames below written out
        // before their sends, heaptrack saw 2,431 → 1,918 bytes a connection's task).
        if let Some((socket, cid, last_seq)) = Box::pin(open(&engine, Socket::new(socket))).await {
            run(engine, socket, cid, last_seq).await;
        }
    })
}

/// Reads the hello and finds the conversation its token opens; `None` once the socket has
/// been answered and closed.
async fn open(engine: &SharedEngine, mut socket: Socket) -> Option<(Socket, ConversationId, u64)> {
    let Some(CustomerCommandFrame::Hello { token, last_seq }) =
        read_hello(&mut socket, KNOWN).await
    else {
        return None;
    };
    let found = if token.starts_with("sbc_") {
        match engine
            .store
            .conversation_by_token(&token_hash(&token))
            .await
        {
            Ok(found) => found,
            // Not the token's fault: the widget should try again with the same token.
            Err(_) => {
                store_unavailable(&mut socket).await;
                return None;
            }
        }
    } else {
        None
    };
    let Some(cid) = found else {
        socket
            .send_error(None, "unauthorized", "the conversation token is unknown")
            .await;
        socket.close(CLOSE_UNAUTHORIZED, "unauthorized").await;
        return None;
    };
    Some((socket, cid, last_seq))
}

/// The customer's place in line, told while the chat waits.
struct Line {
    /// The queue whose line changes wake this connection: only while the chat is in line, so
    /// that a busy queue's arrivals and offers do not wake every chat it has ever served.
    following: Option<QueueId>,
    last_sent: Option<u64>,
    sent_at: Instant,
    /// When the place was last read, sent or not.
    checked_at: Instant,
    dirty: bool,
}

impl Line {
    /// Follows the chat's line as it now is.
    fn follow(&mut self, hub: &crate::hub::Hub, mailbox: &Arc<Mailbox>, chat: &Conversation) {
        let wanted = chat.is_queued().then_some(chat.queue_id);
        if wanted != self.following {
            if let Some(q) = self.following {
                hub.unsubscribe(Topic::Line(q), mailbox);
            }
            if let Some(q) = wanted {
                hub.subscribe(Topic::Line(q), mailbox);
                mailbox.line_seen();
            }
            self.following = wanted;
        }
    }
}

async fn run(engine: SharedEngine, mut socket: Socket, cid: ConversationId, last_seq: u64) {
    let connection_id = uuid::Uuid::now_v7().to_string();
    let (mailbox, mut rx) = engine.hub.mailbox();
    engine.hub.subscribe(Topic::Customer(cid), &mailbox);
    // Work that runs once is boxed, so that the future of an idle connection stays small.
    // The connection's row (which node holds it) is written with its event.
    let connected = Box::pin(engine.conversation_command(
        cid,
        None,
        None,
        ConversationCommand::CustomerConnected {
            connection_id: connection_id.clone(),
        },
    ))
    .await;
    // A finished chat still opens (the widget shows its transcript); only the store failing
    // (not a refusal) stops the socket.
    let registered = !matches!(connected, Err(EngineError::Store(_)));
    let conversation = match Box::pin(engine.store.conversation_shared(cid)).await {
        Ok(Some(c)) if registered => c,
        _ => {
            socket.send_error(None, "store_unavailable", "retry").await;
            engine.hub.remove(&mailbox, &[Topic::Customer(cid)]);
            return;
        }
    };
    let mut line = Line {
        following: None,
        last_sent: None,
        sent_at: Instant::now() - POSITION_EVERY,
        checked_at: Instant::now() - RECHECK_EVERY,
        dirty: false,
    };
    line.follow(&engine.hub, &mailbox, &conversation);
    let position = if conversation.is_queued() {
        Box::pin(engine.position(&conversation))
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    line.last_sent = position;
    let mut latest = conversation;
    let mut cursor = latest.head_seq;
    // Frames are written out before their send is awaited: a `ServerFrame` (464 bytes) held
    // across an await would be part of this future, and so of every idle connection.
    let welcome = ServerFrame::Welcome {
        conversation_id: cid,
        // A customer is not told that an agent is being offered their chat.
        status: match latest.status {
            Status::Offered { .. } => "waiting".into(),
            ref other => other.name().into(),
        },
        head_seq: latest.head_seq,
        position,
    }
    .to_json();
    let mut ok = socket.send_text(welcome).await
        && Box::pin(send_range(
            &engine,
            &mut socket,
            cid,
            last_seq.min(cursor),
            cursor,
        ))
        .await;

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    socket.hold();
    while ok {
        // What was sent goes out once nothing more is queued for this connection.
        if rx.is_idle() && !socket.write_held().await {
            break;
        }
        let position_due = line.dirty && latest.is_queued();
        let wait = (line.sent_at + POSITION_EVERY).max(line.checked_at + RECHECK_EVERY);
        tokio::select! {
            message = socket.stream.next() => {
                ok = match Box::pin(socket.accept(message, KNOWN)).await {
                    // What is held does not wait for the command's commit.
                    Incoming::Frame(v) => socket.write_held().await
                        && Box::pin(command(&engine, &mut socket, cid, &latest, v)).await,
                    Incoming::Handled => true,
                    Incoming::Closed => false,
                };
            }
            item = rx.recv() => {
                let Some(item) = item else { break };
                match item {
                    Item::Event(pe) => {
                        if pe.seq > cursor {
                            ok = if pe.seq == cursor + 1 {
                                match &pe.customer_frame {
                                    Some(frame) => socket.send_text(frame.clone()).await,
                                    None => true,
                                }
                            } else {
                                Box::pin(send_range(&engine, &mut socket, cid, cursor, pe.seq)).await
                            };
                            cursor = pe.seq;
                            latest = pe.conversation.clone();
                            line.follow(&engine.hub, &mailbox, &latest);
                            line.dirty = true;
                        }
                    }
                    Item::LineChanged(_) => line.dirty = true,
                    Item::Typing { from_customer: false, frame, .. } => ok = socket.send_text(frame).await,
                    Item::Typing { .. } | Item::Agent(..) => {}
                    Item::Close(reason) => {
                        socket.close(CLOSE_GOING_AWAY, reason).await;
                        ok = false;
                    }
                }
            }
            _ = tokio::time::sleep_until(wait.into()), if position_due => {
                line.dirty = false;
                line.checked_at = Instant::now();
                mailbox.line_seen();
                if let Ok(Some(p)) = Box::pin(engine.position(&latest)).await {
                    if line.last_sent != Some(p) {
                        line.last_sent = Some(p);
                        line.sent_at = Instant::now();
                        let frame = ServerFrame::Position { conversation_id: cid, position: p }.to_json();
                        ok = socket.send_text(frame).await;
                    }
                }
            }
            _ = mailbox.wake.notified() => {
                if let Some(reason) = mailbox.closing() {
                    socket.close(CLOSE_GOING_AWAY, reason).await;
                    break;
                }
                if mailbox.take_lagged() {
                    if let Ok(Some(c)) = Box::pin(engine.store.conversation_shared(cid)).await {
                        ok = Box::pin(send_range(&engine, &mut socket, cid, cursor, c.head_seq)).await;
                        cursor = c.head_seq;
                        latest = c;
                        line.follow(&engine.hub, &mailbox, &latest);
                        line.dirty = true;
                    }
                }
            }
            _ = ping.tick() => {
                if socket.last_heard.elapsed() > DEAD_AFTER {
                    socket.close(CLOSE_GOING_AWAY, "no heartbeat").await;
                    break;
                }
                ok = socket.ping().await;
            }
        }
    }
    let mut topics = vec![Topic::Customer(cid)];
    topics.extend(line.following.map(Topic::Line));
    engine.hub.remove(&mailbox, &topics);
    // While the node stops, commands are refused: the connection's row stays, and once this
    // node's heartbeat is stale another node (or this one restarted) disconnects it. The
    // row goes with the event.
    if engine.is_accepting() {
        let _ = Box::pin(engine.conversation_command(
            cid,
            None,
            None,
            ConversationCommand::CustomerDisconnected { connection_id },
        ))
        .await;
    }
}

/// Sends the customer-visible events `from+1 ..= to` from the log.
async fn send_range(
    engine: &SharedEngine,
    socket: &mut Socket,
    cid: ConversationId,
    from: u64,
    to: u64,
) -> bool {
    let mut after = from;
    while after < to {
        let Ok(events) = engine.store.events_after(cid, after, LOG_PAGE).await else {
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
            if e.event.audience() != Audience::Everyone {
                continue;
            }
            let frame = EventFrame {
                kind: "event",
                conversation_id: cid,
                seq: e.seq,
                at: e.at.0,
                event: &e.event,
            };
            if !socket
                .send_text(serde_json::to_string(&frame).expect("events serialise"))
                .await
            {
                return false;
            }
        }
    }
    true
}

async fn command(
    engine: &SharedEngine,
    socket: &mut Socket,
    cid: ConversationId,
    latest: &Conversation,
    value: serde_json::Value,
) -> bool {
    let frame = match parse_frame::<CustomerCommandFrame>(&value) {
        Ok(f) => f,
        Err(e) => {
            let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
            return socket.send_error(id, "invalid_command", e).await;
        }
    };
    let scope = format!("customer:{cid}");
    match frame {
        CustomerCommandFrame::Hello { .. } => {
            socket
                .send_error(None, "already_said_hello", "hello comes once, first")
                .await
        }
        CustomerCommandFrame::Ping => socket.send(&ServerFrame::Pong).await,
        CustomerCommandFrame::Typing => {
            if let Status::Active { .. } = latest.status {
                let topics = latest.agents.iter().map(|a| TopicName::Agent(*a)).collect();
                engine.publish_typing(topics, cid, true, typing_frame(cid, "customer"));
            }
            true
        }
        CustomerCommandFrame::Send { id, text } => {
            let text = match MessageText::parse(&text) {
                Ok(t) => t,
                Err(e) => return socket.answer(&id, Err(e.into())).await,
            };
            let client = client_id(scope, &id, &value);
            let r = engine
                .conversation_command(
                    cid,
                    None,
                    Some(&client),
                    ConversationCommand::CustomerSend { text },
                )
                .await;
            socket.answer(&id, r).await
        }
        CustomerCommandFrame::End { id } => {
            let client = client_id(scope, &id, &value);
            let r = engine
                .conversation_command(cid, None, Some(&client), ConversationCommand::CustomerEnd)
                .await;
            socket.answer(&id, r).await
        }
    }
}
