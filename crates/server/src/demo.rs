//! The demo set `switchboard serve --demo` seeds the first time: an asset, two queues, four
//! agents and an administrator with known passwords, wrap-up reasons, idle codes, templates.

use crate::engine::SharedEngine;
use crate::http::admin::{create_account, NewAgent};
use crate::http::error::ApiError;
use switchboard_core::config::*;
use switchboard_core::*;
use switchboard_store::CatalogKind;

pub const DEMO_PASSWORD: &str = "switchboard-demo";
pub const DEMO_ADMIN_PASSWORD: &str = "switchboard-admin";
pub const DEMO_ASSET_SECRET: &str = "demo-website-secret-change-me";

pub const DEMO_AGENTS: [(&str, &str); 4] = [
    ("Ana Lima", "ana@demo.switchboard.test"),
    ("Ben Okafor", "ben@demo.switchboard.test"),
    ("Chloé Martin", "chloe@demo.switchboard.test"),
    ("Dev Patel", "dev@demo.switchboard.test"),
];
pub const DEMO_ADMIN: (&str, &str) = ("Ada Admin", "admin@demo.switchboard.test");

/// What was seeded (or found), for printing.
pub struct Demo {
    pub asset_id: AssetId,
    pub seeded: bool,
}

/// Seeds the demo set unless any account exists already.
pub async fn seed(engine: &SharedEngine) -> Result<Demo, ApiError> {
    let store = &engine.store;
    if !store.accounts().await?.is_empty() {
        let assets: Vec<Asset> = store.entries(CatalogKind::Asset).await?;
        let asset_id = assets
            .iter()
            .find(|a| a.name == "Website")
            .or(assets.first())
            .map(|a| a.id)
            .unwrap_or_default();
        return Ok(Demo {
            asset_id,
            seeded: false,
        });
    }
    let mut reasons = Vec::new();
    for name in ["Resolved", "Sale", "Follow-up", "Not resolved"] {
        let r = WrapUpReason {
            id: WrapUpReasonId::new(),
            name: name.into(),
        };
        store
            .put_entry(CatalogKind::WrapUpReason, &r.id.to_string(), name, &r)
            .await?;
        reasons.push(r);
    }
    for name in ["Lunch", "Meeting", "Break", "Training"] {
        let c = IdleCode {
            id: IdleCodeId::new(),
            name: name.into(),
        };
        store
            .put_entry(CatalogKind::IdleCode, &c.id.to_string(), name, &c)
            .await?;
    }
    for (name, body) in [
        (
            "Greeting",
            "Hello <customer_name>, my name is <agent_name>. How can I help you today?",
        ),
        (
            "Closing",
            "Thank you for contacting <queue_name>.\nIs there anything else I can help you with?",
        ),
    ] {
        let t = Template {
            id: TemplateId::new(),
            name: name.into(),
            body: body.into(),
        };
        store
            .put_entry(CatalogKind::Template, &t.id.to_string(), name, &t)
            .await?;
    }
    store
        .put_desktop_profile(&DesktopProfile {
            default_wrapup_reason_id: Some(reasons[0].id),
            ..DesktopProfile::default()
        })
        .await?;
    let mut agents = Vec::new();
    for (name, email) in DEMO_AGENTS {
        let account = create_account(
            engine,
            NewAgent {
                email: email.into(),
                name: name.into(),
                password: DEMO_PASSWORD.into(),
                role: Some(Role::Agent),
                capacity: None,
            },
        )
        .await?;
        agents.push(account.id);
    }
    create_account(
        engine,
        NewAgent {
            email: DEMO_ADMIN.1.into(),
            name: DEMO_ADMIN.0.into(),
            password: DEMO_ADMIN_PASSWORD.into(),
            role: Some(Role::Administrator),
            capacity: None,
        },
    )
    .await?;
    let support = Queue {
        id: QueueId::new(),
        name: "Support".into(),
        offer_timeout_secs: 30,
        priority: 0,
        agent_ids: agents.clone(),
    };
    let sales = Queue {
        id: QueueId::new(),
        name: "Sales".into(),
        offer_timeout_secs: 30,
        priority: 0,
        agent_ids: agents[..2].to_vec(),
    };
    store.put_queue(&support).await?;
    store.put_queue(&sales).await?;
    let asset = Asset {
        id: AssetId::new(),
        name: "Website".into(),
        queue_id: support.id,
        secret: DEMO_ASSET_SECRET.into(),
        allowed_origins: vec![],
        prechat_fields: vec![
            PrechatField {
                key: "name".into(),
                label: "Your name".into(),
                required: false,
            },
            PrechatField {
                key: "email".into(),
                label: "Email".into(),
                required: false,
            },
        ],
        inactivity_timeout_secs: 15 * 60,
        title: "Chat with us".into(),
        greeting: "Hi! How can we help?".into(),
    };
    store
        .put_entry(
            CatalogKind::Asset,
            &asset.id.to_string(),
            &asset.name,
            &asset,
        )
        .await?;
    engine.config.reload().await?;
    Ok(Demo {
        asset_id: asset.id,
        seeded: true,
    })
}
