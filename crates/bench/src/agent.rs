//! An agent: signs in, opens the desktop socket, goes Available, accepts every offer, greets,
//! answers each customer message after a think time, and after answering the customer's
//! last message ends the chat and wraps it up. Resumes with its per-chat `seq`s when its
//! socket drops, resending unacknowledged commands under the same ids.

use crate::clock::{now_us, since_us};
use crate::command_id;
use crate::conn::{self, Slot, Ws};
use crate::ctx::Ctx;
use crate::stamp::{self, letters};
use crate::step::StepStats;
use anyhow::{anyhow, bail};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Agent message ids, unique in the run.
static AGENT_MESSAGES: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Presence,
    Accept,
    Send { ends_chat: bool },
    End,
    WrapUp,
}

struct Pending {
    kind: Kind,
    cid: String,
    frame: String,
    sent_us: u64,
    message: Option<String>,
    step: Arc<StepStats>,
}

enum Action {
    /// Greet, or answer (true: the customer's last message).
    Write(String, bool, bool),
    End(String),
}

struct Chat {
    step: Arc<StepStats>,
    last_seq: u64,
    accepted: bool,
    answered: HashSet<String>,
    closing: bool,
    last_heard: Instant,
}

pub struct Agent {
    ctx: Arc<Ctx>,
    token: String,
    ws: Option<Ws>,
    slot: Slot,
    chats: HashMap<String, Chat>,
    pending: BTreeMap<u64, Pending>,
    timers: Vec<(Instant, Action)>,
    next_cmd: u64,
}

/// Signs agent `i` in and makes it Available; the agent, ready to `run`.
pub async fn sign_in(ctx: Arc<Ctx>, email: &str) -> anyhow::Result<Agent> {
    let slot = ctx
        .conns
        .reserve()
        .ok_or_else(|| anyhow!("the connection cap leaves no room for agents"))?;
    let token =
        crate::setup::sign_in(&ctx.http, &ctx.base, email, crate::setup::AGENT_PASSWORD).await?;
    let mut a = Agent {
        ctx,
        token,
        ws: None,
        slot,
        chats: HashMap::new(),
        pending: BTreeMap::new(),
        timers: Vec::new(),
        next_cmd: 0,
    };
    let snapshot = a.open().await?;
    if !available(&snapshot) {
        a.go_available().await;
        // Wait for its answer, so that the run starts with every agent Available.
        let until = Instant::now() + Duration::from_secs(30);
        while a.pending.values().any(|p| p.kind == Kind::Presence) {
            let ws = a.ws.as_mut().ok_or_else(|| anyhow!("socket gone"))?;
            let frame = tokio::time::timeout_at(until.into(), conn::next_text(ws)).await;
            match frame {
                Ok(Some(text)) => a.on_frame(&text).await,
                _ => bail!("no answer to set_presence"),
            }
        }
    }
    Ok(a)
}

impl Agent {
    /// Connects and says hello with the `seq` of each chat held; the snapshot.
    async fn open(&mut self) -> anyhow::Result<Value> {
        self.ws = None;
        self.slot.closed();
        let url = format!("{}/api/v1/ws/agent", self.ctx.ws_base);
        let mut ws = conn::connect(&url).await?;
        self.slot.opened();
        let resume: HashMap<&String, u64> = self
            .chats
            .iter()
            .filter(|(_, c)| c.accepted)
            .map(|(cid, c)| (cid, c.last_seq))
            .collect();
        let hello = json!({"type": "hello", "token": self.token, "resume": resume});
        if !conn::send(&mut ws, hello.to_string()).await {
            bail!("hello not sent");
        }
        let text = conn::next_text(&mut ws)
            .await
            .ok_or_else(|| anyhow!("closed before the snapshot"))?;
        let v: Value = serde_json::from_str(&text)?;
        if v["type"] != "snapshot" {
            bail!("expected a snapshot, got {text}");
        }
        self.ws = Some(ws);
        Ok(v)
    }

    pub async fn run(mut self) {
        let mut storm = self.ctx.storm.subscribe();
        let mut stop = self.ctx.stop.subscribe();
        let mut check = tokio::time::interval(Duration::from_secs(2));
        loop {
            let wake = self.timers.iter().map(|t| t.0).min();
            let Some(ws) = self.ws.as_mut() else { break };
            tokio::select! {
                frame = conn::next_text(ws) => match frame {
                    Some(text) => self.on_frame(&text).await,
                    None => {
                        if *stop.borrow() { break; }
                        self.ctx.step().error("agent_socket_closed");
                        if !self.resume().await { break; }
                    }
                },
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now).into()), if wake.is_some() => {
                    self.due().await;
                }
                _ = check.tick() => self.stalls(),
                changed = storm.changed() => {
                    if changed.is_ok() && rand::random::<f64>() < self.ctx.opts.storm_fraction {
                        self.ws = None;
                        if !self.resume().await { break; }
                    }
                }
                _ = stop.changed() => break,
            }
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        self.slot.closed();
    }

    /// Reconnects after a drop: hello with the chats' `seq`s, then the commands that had no
    /// answer, under their first ids.
    async fn resume(&mut self) -> bool {
        let t0 = now_us();
        for attempt in 0..20u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            let Ok(snapshot) = self.open().await else {
                continue;
            };
            let step = self.ctx.step();
            step.reconnect.record_us(since_us(t0));
            step.reconnects.add();
            let frames: Vec<String> = self.pending.values().map(|p| p.frame.clone()).collect();
            for f in frames {
                if let Some(ws) = self.ws.as_mut() {
                    let _ = conn::send(ws, f).await;
                }
            }
            if !available(&snapshot) && !self.pending.values().any(|p| p.kind == Kind::Presence) {
                self.go_available().await;
            }
            if let Some(offer) = snapshot.get("offer").filter(|o| !o.is_null()) {
                self.on_offer(offer).await;
            }
            return true;
        }
        self.ctx.step().error("agent_reconnect_failed");
        false
    }

    /// Sends a command and keeps it until its answer.
    /// Asks to become Available (on sign-in, and again after a resume finds the agent not).
    async fn go_available(&mut self) {
        self.command(
            Kind::Presence,
            String::new(),
            None,
            |id| json!({"type": "set_presence", "id": id, "presence": "available"}),
        )
        .await;
    }

    async fn command(
        &mut self,
        kind: Kind,
        cid: String,
        message: Option<String>,
        frame: impl FnOnce(String) -> Value,
    ) {
        self.next_cmd += 1;
        let n = self.next_cmd;
        let frame = frame(command_id::new('k', n, &format!("-{}", self.ctx.run))).to_string();
        let step = self
            .chats
            .get(&cid)
            .map(|c| c.step.clone())
            .unwrap_or_else(|| self.ctx.step());
        self.pending.insert(
            n,
            Pending {
                kind,
                cid,
                frame: frame.clone(),
                sent_us: now_us(),
                message,
                step,
            },
        );
        if let Some(ws) = self.ws.as_mut() {
            let _ = conn::send(ws, frame).await;
        }
    }

    async fn on_frame(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.ctx.step().error("unparsable_frame");
            return;
        };
        match v["type"].as_str() {
            Some("event") => self.on_event(&v),
            Some("offer") => self.on_offer(&v["offer"]).await,
            Some("offer_ended") => {
                let cid = v["conversation_id"].as_str().unwrap_or_default();
                if self.chats.get(cid).is_some_and(|c| !c.accepted) {
                    self.chats.remove(cid);
                    self.ctx.room.requeued();
                }
                if v["reason"] == "timed_out" {
                    self.ctx.step().error("offer_timed_out");
                    self.command(
                        Kind::Presence,
                        String::new(),
                        None,
                        |id| json!({"type": "set_presence", "id": id, "presence": "available"}),
                    )
                    .await;
                }
            }
            Some("ack") => self.on_ack(&v).await,
            Some("error") => {
                let code = v["code"].as_str().unwrap_or("error").to_string();
                let p = v["id"]
                    .as_str()
                    .and_then(command_number)
                    .and_then(|n| self.pending.remove(&n));
                match p {
                    Some(p) => {
                        p.step.error(&code);
                        if matches!(p.kind, Kind::Accept | Kind::End | Kind::WrapUp)
                            && self.chats.remove(&p.cid).is_some()
                        {
                            self.ctx.room.wrapped_up();
                        }
                    }
                    None => self.ctx.step().error(&code),
                }
            }
            _ => {}
        }
    }

    async fn on_offer(&mut self, offer: &Value) {
        let Some(cid) = offer["conversation_id"].as_str() else {
            return;
        };
        if self.chats.contains_key(cid) {
            return;
        }
        self.ctx.offers.offered(cid);
        self.ctx.room.offered();
        let step = self.ctx.step();
        self.chats.insert(
            cid.to_string(),
            Chat {
                step,
                last_seq: 0,
                accepted: false,
                answered: HashSet::new(),
                closing: false,
                last_heard: Instant::now(),
            },
        );
        let c = cid.to_string();
        self.command(
            Kind::Accept,
            cid.to_string(),
            None,
            move |id| json!({"type": "accept", "id": id, "conversation_id": c}),
        )
        .await;
    }

    async fn on_ack(&mut self, v: &Value) {
        let Some(p) = v["id"]
            .as_str()
            .and_then(command_number)
            .and_then(|n| self.pending.remove(&n))
        else {
            return;
        };
        let latency = since_us(p.sent_us);
        match p.kind {
            Kind::Send { ends_chat } => {
                p.step.ack_message.record_us(latency);
                p.step.msgs_in.tick();
                if let Some(m) = &p.message {
                    p.step.ledger.acked(m);
                }
                if ends_chat {
                    self.timers
                        .push((Instant::now(), Action::End(p.cid.clone())));
                }
            }
            kind => {
                p.step.ack_other.record_us(latency);
                match kind {
                    Kind::Accept => {
                        if let Some(c) = self.chats.get_mut(&p.cid) {
                            c.accepted = true;
                            c.last_heard = Instant::now();
                            let at = Instant::now() + self.ctx.think() / 2;
                            self.timers
                                .push((at, Action::Write(p.cid.clone(), false, false)));
                        }
                    }
                    Kind::End => {
                        let (cid, reason) = (p.cid.clone(), self.ctx.fixture.reason_id.clone());
                        self.command(Kind::WrapUp, p.cid.clone(), None, move |id| {
                            json!({"type": "wrap_up", "id": id, "conversation_id": cid,
                                   "reason_id": reason})
                        })
                        .await;
                    }
                    Kind::WrapUp => {
                        if let Some(c) = self.chats.remove(&p.cid) {
                            c.step.chats_wrapped.add();
                            self.ctx.room.wrapped_up();
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn on_event(&mut self, v: &Value) {
        let cid = v["conversation_id"].as_str().unwrap_or_default();
        let Some(chat) = self.chats.get_mut(cid) else {
            return;
        };
        chat.last_seq = chat.last_seq.max(v["seq"].as_u64().unwrap_or(0));
        let event = &v["event"];
        if event["type"] != "message" {
            return;
        }
        chat.step.msgs_out.tick();
        if event["sender"]["kind"] != "customer" {
            return;
        }
        let Some(s) = event["text"].as_str().and_then(stamp::parse) else {
            return;
        };
        if self.ctx.plant.drops(&s.id) {
            return;
        }
        chat.last_heard = Instant::now();
        if chat.step.ledger.received(&s.id) == 1 {
            chat.step.customer_to_agent.record_us(since_us(s.sent_us));
        }
        if chat.answered.insert(s.id.clone()) && !chat.closing {
            chat.closing = s.last;
            let at = Instant::now() + self.ctx.think();
            self.timers
                .push((at, Action::Write(cid.to_string(), true, s.last)));
        }
    }

    /// Runs the timers that are due.
    async fn due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|t| t.0 <= now);
        self.timers = later;
        for (_, action) in due {
            match action {
                Action::Write(cid, _answer, last) => {
                    if !self.chats.contains_key(&cid) {
                        continue;
                    }
                    let id = format!(
                        "a-{}",
                        letters(AGENT_MESSAGES.fetch_add(1, Ordering::Relaxed))
                    );
                    if let Some(c) = self.chats.get(&cid) {
                        c.step.ledger.sent(&id, &cid);
                    }
                    let text = stamp::compose(&id, now_us(), false);
                    let c = cid.clone();
                    self.command(Kind::Send { ends_chat: last }, cid, Some(id), move |id| {
                        json!({"type": "send", "id": id, "conversation_id": c, "text": text})
                    })
                    .await;
                }
                Action::End(cid) => {
                    if !self.chats.contains_key(&cid) {
                        continue;
                    }
                    let c = cid.clone();
                    self.command(
                        Kind::End,
                        cid,
                        None,
                        move |id| json!({"type": "end", "id": id, "conversation_id": c}),
                    )
                    .await;
                }
            }
        }
    }

    /// Ends chats whose customer went quiet (a lost message, a customer who gave up).
    fn stalls(&mut self) {
        let limit = Duration::from_secs(self.ctx.opts.reply_timeout * 2);
        let now = Instant::now();
        let mut stale = Vec::new();
        for (cid, c) in self.chats.iter_mut() {
            if c.accepted && !c.closing && now.duration_since(c.last_heard) > limit {
                c.closing = true;
                c.step.error("chat_stalled");
                stale.push(cid.clone());
            }
        }
        for cid in stale {
            self.timers.push((now, Action::End(cid)));
        }
    }
}

fn available(snapshot: &Value) -> bool {
    snapshot["agent"]["presence"]["state"] == "available"
}

/// The number in an id `<time>k<n>-<run>`.
fn command_number(id: &str) -> Option<u64> {
    command_id::number(id, 'k')
}
