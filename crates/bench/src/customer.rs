//! A customer: arrives (POST), opens the widget's socket, waits for the agent's greeting,
//! then writes its messages one at a time, each after a think time and the agent's answer to
//! the one before, and leaves when the agent ends the chat. Resumes with `last_seq` when its
//! socket drops (or when a reconnect storm tells it to drop).

use crate::clock::{now_us, since_us};
use crate::command_id;
use crate::conn::{self, Slot, Ws};
use crate::ctx::Ctx;
use crate::stamp::{self, letters};
use crate::step::StepStats;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The id of a customer's `n`th message (1-based) in chat `chat`.
pub fn message_id(chat: u64, n: u32) -> String {
    format!("c-{}-{}", letters(chat), letters(n as u64))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for an agent (the greeting).
    Greeting,
    /// Writes message `n` at the instant.
    Thinking(u32, Instant),
    /// Waits for the answer to message `n` until the instant.
    Answer(u32, Instant),
    /// Waits for the agent to end the chat.
    Ending,
}

struct Pending {
    frame: String,
    sent_us: u64,
    message: String,
}

struct Customer {
    ctx: Arc<Ctx>,
    step: Arc<StepStats>,
    chat: u64,
    cid: String,
    token: String,
    ws: Option<Ws>,
    slot: Slot,
    /// The last `seq` seen.
    cursor: u64,
    phase: Phase,
    pending: BTreeMap<u64, (String, Pending)>,
    next_cmd: u64,
}

/// Runs one chat from arrival to the end. The slot is the customer's place under the cap.
pub async fn run(ctx: Arc<Ctx>, step: Arc<StepStats>, slot: Slot) {
    let chat = ctx
        .chat_no
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let arrived_us = now_us();
    let room = ctx.room.arrive();
    let started = crate::setup::start_chat(
        &ctx.http,
        &ctx.base,
        &ctx.fixture.asset_id,
        &format!("Bench customer {}", letters(chat)),
    )
    .await;
    let (cid, token) = match started {
        Ok(x) => x,
        Err(_) => {
            ctx.room.start_failed();
            step.error("start_failed");
            return;
        }
    };
    step.chats_started.add();
    ctx.offers.arrived(&cid, arrived_us, room, &step);
    let mut c = Customer {
        ctx: ctx.clone(),
        step,
        chat,
        cid,
        token,
        ws: None,
        slot,
        cursor: 0,
        phase: Phase::Greeting,
        pending: BTreeMap::new(),
        next_cmd: 0,
    };
    let finished = c.chat().await;
    if finished {
        c.step.chats_finished.add();
        c.step.ledger.finished(&c.cid);
    }
    ctx.offers.forget(&c.cid);
    if let Some(mut ws) = c.ws.take() {
        let _ = ws.close(None).await;
    }
    c.slot.closed();
}

impl Customer {
    /// True when the chat ended as planned; false when the step's deadline came first.
    async fn chat(&mut self) -> bool {
        if !self.connect(false).await {
            return false;
        }
        let mut storm = self.ctx.storm.subscribe();
        let deadline = self.step.deadline;
        loop {
            let wake = match self.phase {
                Phase::Thinking(_, t) | Phase::Answer(_, t) => t.min(deadline),
                _ => deadline,
            };
            let Some(ws) = self.ws.as_mut() else {
                return false;
            };
            tokio::select! {
                frame = conn::next_text(ws) => {
                    match frame {
                        Some(text) => {
                            if self.on_frame(&text) {
                                return true;
                            }
                        }
                        None => {
                            self.step.error("customer_socket_closed");
                            if !self.connect(true).await {
                                return false;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    self.on_timer().await;
                }
                changed = storm.changed() => {
                    if changed.is_ok() && rand::random::<f64>() < self.ctx.opts.storm_fraction {
                        self.ws = None;
                        if !self.connect(true).await {
                            return false;
                        }
                    }
                }
            }
        }
    }

    /// Opens the socket (again) and says hello with the last `seq` seen; resends what was
    /// not acknowledged under the same ids.
    async fn connect(&mut self, resume: bool) -> bool {
        self.ws = None;
        self.slot.closed();
        let t0 = now_us();
        let url = format!("{}/api/v1/ws/customer", self.ctx.ws_base);
        for attempt in 0..20u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
            }
            if Instant::now() >= self.step.deadline {
                return false;
            }
            let Ok(mut ws) = conn::connect(&url).await else {
                continue;
            };
            self.slot.opened();
            let hello = json!({"type": "hello", "token": self.token, "last_seq": self.cursor});
            if !conn::send(&mut ws, hello.to_string()).await {
                self.slot.closed();
                continue;
            }
            match conn::next_text(&mut ws).await {
                Some(text) if text.contains("\"welcome\"") => {}
                Some(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    self.step
                        .error(v["code"].as_str().unwrap_or("customer_hello_refused"));
                    self.slot.closed();
                    continue;
                }
                None => {
                    self.slot.closed();
                    continue;
                }
            }
            if resume {
                self.step.reconnect.record_us(since_us(t0));
                self.step.reconnects.add();
                for (_, (_, p)) in self.pending.iter() {
                    if !conn::send(&mut ws, p.frame.clone()).await {
                        break;
                    }
                }
            }
            self.ws = Some(ws);
            return true;
        }
        self.step.error("customer_connect_failed");
        false
    }

    /// Handles a frame; true when the chat is over.
    fn on_frame(&mut self, text: &str) -> bool {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.step.error("unparsable_frame");
            return false;
        };
        match v["type"].as_str() {
            Some("event") => return self.on_event(&v),
            Some("ack") => {
                let id = v["id"].as_str().unwrap_or_default();
                if let Some(n) = command_number(id) {
                    if let Some((_, p)) = self.pending.remove(&n) {
                        self.step.ack_message.record_us(since_us(p.sent_us));
                        self.step.msgs_in.tick();
                        self.step.ledger.acked(&p.message);
                    }
                }
            }
            Some("error") => {
                self.step.error(v["code"].as_str().unwrap_or("error"));
                if let Some(n) = v["id"].as_str().and_then(command_number) {
                    self.pending.remove(&n);
                }
            }
            _ => {}
        }
        false
    }

    fn on_event(&mut self, v: &Value) -> bool {
        let seq = v["seq"].as_u64().unwrap_or(0);
        self.cursor = self.cursor.max(seq);
        let event = &v["event"];
        match event["type"].as_str() {
            Some("message") => {
                self.step.msgs_out.tick();
                if event["sender"]["kind"] == "customer" {
                    return false;
                }
                let Some(s) = event["text"].as_str().and_then(stamp::parse) else {
                    return false;
                };
                if self.step.ledger.received(&s.id) != 1 {
                    return false;
                }
                self.step.agent_to_customer.record_us(since_us(s.sent_us));
                let think = Instant::now() + self.ctx.think();
                self.phase = match self.phase {
                    Phase::Greeting => Phase::Thinking(1, think),
                    Phase::Answer(n, _) if n >= self.ctx.opts.messages => Phase::Ending,
                    Phase::Answer(n, _) => Phase::Thinking(n + 1, think),
                    other => other,
                };
                false
            }
            Some("ended") | Some("abandoned") => true,
            _ => false,
        }
    }

    async fn on_timer(&mut self) {
        match self.phase {
            Phase::Thinking(n, _) => {
                let last = n >= self.ctx.opts.messages;
                let id = message_id(self.chat, n);
                self.write(&id, last).await;
                if self.ctx.plant.duplicate_id.as_deref() == Some(id.as_str()) {
                    self.write(&id, last).await;
                }
                let patience = Duration::from_secs(self.ctx.opts.reply_timeout);
                self.phase = Phase::Answer(n, Instant::now() + patience);
            }
            Phase::Answer(n, _) => {
                self.step.reply_timeouts.add();
                self.phase = if n >= self.ctx.opts.messages {
                    Phase::Ending
                } else {
                    Phase::Thinking(n + 1, Instant::now())
                };
            }
            _ => {}
        }
    }

    /// Sends a message (a new command id each time it is called).
    async fn write(&mut self, message: &str, last: bool) {
        self.next_cmd += 1;
        let n = self.next_cmd;
        let sent_us = now_us();
        let frame = json!({
            "type": "send",
            "id": command_id::new('s', n, ""),
            "text": stamp::compose(message, sent_us, last),
        })
        .to_string();
        self.step.ledger.sent(message, &self.cid);
        self.pending.insert(
            n,
            (
                message.to_string(),
                Pending {
                    frame: frame.clone(),
                    sent_us,
                    message: message.to_string(),
                },
            ),
        );
        if let Some(ws) = self.ws.as_mut() {
            // A failed write shows up as a closed socket on the next read, which resumes.
            let _ = conn::send(ws, frame).await;
        }
    }
}

fn command_number(id: &str) -> Option<u64> {
    command_id::number(id, 's')
}
