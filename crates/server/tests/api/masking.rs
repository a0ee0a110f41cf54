//! Customer sensitive data never reaches an agent's or a supervisor's browser in the clear
//! when the desktop profile masks it; the customer sees their own words.

use crate::helpers::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const ANA: &str = "ana@demo.switchboard.test";
const ADMIN: &str = "admin@demo.switchboard.test";

/// What the customer sends (clear) and what an agent must see instead.
const CLEAR: &[&str] = &[
    "4111 1111 1111 1111",
    "4111111111111111",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST",
    "123-45-6789",
    "melissa@gmail.com",
    "+447966197542",
    "+ 1 (123) 456 7890",
    "456 7890",
];
const MASKED: &[&str] = &[
    "************1111",
    "*********7542",
    "m******@gmail.com",
    "**********7890",
];

/// A log writer that keeps everything, at the most verbose level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn set_profile(app: &TestApp, admin: &str, mask: bool) {
    let (_, mut profile) = app.get("/api/v1/admin/desktop-profile", Some(admin)).await;
    profile["mask_sensitive_data"] = json!(mask);
    profile["phone_region"] = json!("US");
    let (status, body) = app
        .put("/api/v1/admin/desktop-profile", admin, profile)
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A whole chat full of sensitive data; returns everything the agent's desktop received,
/// what the customer received, and the conversation id.
async fn sensitive_chat(app: &TestApp) -> (Vec<Value>, Vec<Value>, String, Agent) {
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app
        .start_chat(json!({
            "name": "+447966197542",
            "email": "melissa@gmail.com",
            "phone": "+ 1 (123) 456 7890",
            "fields": {"account": "IBAN GB82 WEST 1234 5698 7654 32"}
        }))
        .await;
    let mut cust = app.customer(&token, 0).await;
    cust.say("my card is 4111 1111 1111 1111").await;
    let offer = ana.expect_offer().await;
    ana.accept(&cid).await;
    for text in [
        "IBAN GB82 WEST 1234 5698 7654 32 and SSN 123-45-6789",
        "mail me at melissa@gmail.com or call + 1 (123) 456 7890",
    ] {
        assert_eq!(cust.say(text).await["type"], "ack");
    }
    let t = ana
        .ws
        .command(json!({"type": "send_template", "conversation_id": cid, "template": "Greeting"}))
        .await;
    assert_eq!(t["type"], "ack", "{t}");
    // The template reached the customer with the real name.
    let greeting = cust
        .ws
        .wait_for("the greeting", |f| f["event"]["template"] == "Greeting")
        .await;
    assert!(greeting["event"]["text"]
        .as_str()
        .unwrap()
        .contains("+447966197542"));
    ana.ws
        .wait_for("the greeting", |f| f["event"]["template"] == "Greeting")
        .await;
    // A reconnect: the snapshot and the replayed history.
    let token_a = ana.token.clone();
    let mut again = Ws::connect(&format!("{}/api/v1/ws/agent", app.ws)).await;
    again.send(json!({"type": "hello", "token": token_a})).await;
    again.expect_type("snapshot").await;
    again
        .wait_for("the replayed greeting", |f| {
            f["event"]["template"] == "Greeting"
        })
        .await;
    let mut agent_frames: Vec<Value> = vec![json!({"offer": offer})];
    agent_frames.extend(ana.ws.buffer.drain(..));
    agent_frames.extend(again.buffer.drain(..));
    let mut customer_frames = vec![greeting];
    customer_frames.extend(cust.ws.buffer.drain(..));
    (agent_frames, customer_frames, cid, ana)
}

/// Every GET endpoint of the OpenAPI document, as an agent and as an administrator.
async fn every_get(app: &TestApp, tokens: &[&str], cid: &str) -> Vec<Value> {
    let spec = switchboard_server::openapi::spec();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if item.get("get").is_none() || path.contains("/ws/") {
            continue;
        }
        let concrete = if path.starts_with("/api/v1/assets/") {
            path.replace("{id}", &app.asset_id)
        } else {
            path.replace("{id}", cid)
        };
        for token in tokens {
            let (_, body) = app.get(&concrete, Some(token)).await;
            out.push(json!({"path": concrete, "body": body}));
        }
    }
    out
}

fn text_of(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn masking_on_keeps_clear_values_from_agents_supervisors_and_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    set_profile(&app, &admin, true).await;
    let (agent_frames, customer_frames, cid, ana) = sensitive_chat(&app).await;
    let rest = every_get(&app, &[&ana.token, &admin], &cid).await;

    let seen_by_agents = text_of(&agent_frames) + &text_of(&rest);
    for clear in CLEAR {
        assert!(
            !seen_by_agents.contains(clear),
            "{clear:?} reached an agent or supervisor"
        );
        let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
        assert!(!log.contains(clear), "{clear:?} is in the server's log");
    }
    for masked in MASKED {
        assert!(
            seen_by_agents.contains(masked),
            "{masked:?} not shown to agents"
        );
    }
    // The name that is a phone number is masked in the offer and the snapshot.
    assert_eq!(agent_frames[0]["offer"]["customer_name"], "*********7542");
    // The customer sees their own words.
    let seen_by_customer = text_of(&customer_frames);
    assert!(seen_by_customer.contains("4111 1111 1111 1111"));
    assert!(seen_by_customer.contains("melissa@gmail.com"));
    assert!(
        !String::from_utf8_lossy(&logs.0.lock().unwrap()).is_empty(),
        "the log captured nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn masking_off_shows_values_as_sent() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    set_profile(&app, &admin, false).await;
    let (agent_frames, _, cid, ana) = sensitive_chat(&app).await;
    let rest = every_get(&app, &[&ana.token, &admin], &cid).await;
    let seen = text_of(&agent_frames) + &text_of(&rest);
    for clear in [
        "4111 1111 1111 1111",
        "123-45-6789",
        "melissa@gmail.com",
        "+447966197542",
    ] {
        assert!(seen.contains(clear), "{clear:?} should appear as sent");
    }
    app.stop().await;
}

#[tokio::test]
async fn redacting_payment_data_at_rest_never_stores_it() {
    let mut app = spawn_app().await;
    let admin = app.sign_in(ADMIN).await;
    let (_, mut profile) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    profile["redact_payment_at_rest"] = json!(true);
    let (status, _) = app
        .put("/api/v1/admin/desktop-profile", &admin, profile)
        .await;
    assert_eq!(status, 200);
    let mut ana = app.agent(ANA).await;
    ana.available().await;
    let (cid, token) = app
        .start_chat(json!({"fields": {"card": "4111 1111 1111 1111"}}))
        .await;
    let mut cust = app.customer(&token, 0).await;
    ana.expect_offer().await;
    ana.accept(&cid).await;
    cust.say("card 4111 1111 1111 1111, mail melissa@gmail.com")
        .await;
    // After a reload the customer's own widget shows the masked form: it is all that is stored.
    let mut reloaded = app.customer(&token, 0).await;
    let m = reloaded.ws.event(&cid, "message").await;
    assert_eq!(
        m["event"]["text"],
        "card ************1111, mail melissa@gmail.com"
    );
    let dump = text_of(
        &app.engine
            .store
            .events_after(cid.parse().unwrap(), 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| serde_json::to_value(e.event).unwrap())
            .collect::<Vec<_>>(),
    );
    assert!(!dump.contains("4111 1111 1111 1111"), "{dump}");
    let state = app
        .engine
        .store
        .conversation(cid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!serde_json::to_string(&state)
        .unwrap()
        .contains("4111 1111 1111 1111"));
    // An unknown phone region is refused with a clear error.
    let (_, mut profile) = app.get("/api/v1/admin/desktop-profile", Some(&admin)).await;
    profile["phone_region"] = json!("XX");
    let (status, body) = app
        .put("/api/v1/admin/desktop-profile", &admin, profile)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    app.stop().await;
}
