//! Preparing a server through its admin API: bench agents (created once, reused by later
//! runs against the same server), a queue holding them with an asset in front of it, and
//! an idle queue without agents for connections that are only held open.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const AGENT_PASSWORD: &str = "bench-agent-password";

/// Waiting customers per idle queue. Every arrival in a queue makes each customer waiting in
/// it re-read its position (a COUNT over the line), so one line of thousands costs the server
/// quadratic work and starves its heartbeats; lines of a hundred keep idle idle.
pub const IDLE_PER_QUEUE: usize = 100;

#[derive(Clone, Debug)]
pub struct Fixture {
    pub asset_id: String,
    /// Idle customers wait in these (no agents), `IDLE_PER_QUEUE` to a queue.
    pub idle_asset_ids: Vec<String>,
    pub reason_id: String,
    pub agent_emails: Vec<String>,
}

pub fn agent_email(i: usize) -> String {
    format!("bench-agent-{i}@bench.switchboard.test")
}

/// POST or PUT a JSON body; the answer's status and body.
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.with_context(|| format!("calling {url}"))?;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// Signs in; the session token.
pub async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let (status, body) = call(
        http,
        reqwest::Method::POST,
        &format!("{base}/api/v1/sessions"),
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await?;
    if status != 201 {
        bail!("signing in as {email}: {status} {body}");
    }
    body["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no token in {body}"))
}

pub async fn prepare(
    http: &reqwest::Client,
    base: &str,
    admin: (&str, &str),
    agents: usize,
    capacity: u32,
    idle: usize,
) -> anyhow::Result<Fixture> {
    let token = sign_in(http, base, admin.0, admin.1).await?;
    let admin_url = format!("{base}/api/v1/admin");
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    let (_, reasons) = call(
        http,
        get.clone(),
        &format!("{base}/api/v1/wrapup-reasons"),
        Some(&token),
        None,
    )
    .await?;
    let reason_id = reasons[0]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("the server has no wrap-up reason"))?
        .to_string();

    let (_, existing) = call(
        http,
        get,
        &format!("{admin_url}/agents"),
        Some(&token),
        None,
    )
    .await?;
    let mut ids: HashMap<String, (String, u64)> = existing
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a["email"].as_str()?.to_string(),
                (a["id"].as_str()?.to_string(), a["capacity"].as_u64()?),
            ))
        })
        .collect();

    // Creating an account hashes its password (argon2): a few at a time.
    let gate = Arc::new(Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..agents {
        let email = agent_email(i);
        let (http, url, token, gate) =
            (http.clone(), admin_url.clone(), token.clone(), gate.clone());
        let known = ids.get(&email).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            match known {
                Some((id, cap)) if cap == capacity as u64 => Ok((email, id)),
                Some((id, _)) => {
                    let (s, b) = call(
                        &http,
                        reqwest::Method::PUT,
                        &format!("{url}/agents/{id}"),
                        Some(&token),
                        Some(json!({"capacity": capacity})),
                    )
                    .await?;
                    if s != 200 {
                        bail!("setting capacity of {email}: {s} {b}");
                    }
                    Ok((email, id))
                }
                None => {
                    let (s, b) = call(
                        &http,
                        reqwest::Method::POST,
                        &format!("{url}/agents"),
                        Some(&token),
                        Some(json!({
                            "email": email,
                            "name": format!("Bench Agent {i}"),
                            "password": AGENT_PASSWORD,
                            "role": "agent",
                            "capacity": capacity,
                        })),
                    )
                    .await?;
                    if s != 201 {
                        bail!("creating {email}: {s} {b}");
                    }
                    let id = b["id"].as_str().unwrap_or_default().to_string();
                    Ok((email, id))
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (email, id) = r??;
        ids.insert(email, (id, capacity as u64));
    }
    let emails: Vec<String> = (0..agents).map(agent_email).collect();
    let agent_ids: Vec<String> = emails.iter().map(|e| ids[e].0.clone()).collect();

    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let make_pair = |label: String, members: Vec<String>| {
        let (http, admin_url, token, post, run) = (
            http.clone(),
            admin_url.clone(),
            token.clone(),
            post.clone(),
            run.clone(),
        );
        async move {
            let (s, q) = call(
                &http,
                post.clone(),
                &format!("{admin_url}/queues"),
                Some(&token),
                Some(
                    json!({"name": format!("bench {label} {run}"), "offer_timeout_secs": 30,
                            "agent_ids": members}),
                ),
            )
            .await?;
            if s != 201 {
                bail!("creating the {label} queue: {s} {q}");
            }
            let (s, a) = call(
                &http,
                post,
                &format!("{admin_url}/assets"),
                Some(&token),
                Some(
                    json!({"name": format!("bench {label} {run}"), "queue_id": q["id"],
                            "title": "Bench", "greeting": "Hi"}),
                ),
            )
            .await?;
            if s != 201 {
                bail!("creating the {label} asset: {s} {a}");
            }
            Ok::<String, anyhow::Error>(a["id"].as_str().unwrap_or_default().to_string())
        }
    };
    let asset_id = make_pair("chats".into(), agent_ids).await?;
    let mut idle_asset_ids = Vec::new();
    for q in 0..idle.div_ceil(IDLE_PER_QUEUE) {
        idle_asset_ids.push(make_pair(format!("idle {q}"), vec![]).await?);
    }
    Ok(Fixture {
        asset_id,
        idle_asset_ids,
        reason_id,
        agent_emails: emails,
    })
}

/// Starts a chat on an asset: `(conversation_id, token)`.
pub async fn start_chat(
    http: &reqwest::Client,
    base: &str,
    asset_id: &str,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let (s, b) = call(
        http,
        reqwest::Method::POST,
        &format!("{base}/api/v1/assets/{asset_id}/conversations"),
        None,
        Some(json!({"name": name})),
    )
    .await?;
    if s != 201 {
        bail!("starting a chat: {s} {b}");
    }
    match (b["conversation_id"].as_str(), b["token"].as_str()) {
        (Some(c), Some(t)) => Ok((c.to_string(), t.to_string())),
        _ => bail!("starting a chat: no id or token in {b}"),
    }
}
