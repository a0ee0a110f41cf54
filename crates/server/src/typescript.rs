//! The TypeScript types of the wire, generated from the Rust types so web clients and the
//! server cannot drift apart. `web/shared/protocol.ts` holds the output; a test fails when
//! it is stale (`UPDATE_TYPESCRIPT=1 cargo test -p switchboard-server --test typescript`
//! rewrites it).

use crate::engine::{StartRequest, Started};
use crate::http::admin::{AgentUpdate, NewAgent};
use crate::http::{
    AvailableAgent, HistoryEvent, Me, PastConversation, QueueSummary, SessionCreated, SignIn,
    WidgetConfig,
};
use crate::wire::*;
use switchboard_core::config::*;
use switchboard_core::*;
use ts_rs::TS;

macro_rules! declarations {
    ($($t:ty),* $(,)?) => {
        vec![$(format!("export {}", <$t as TS>::decl())),*]
    };
}

/// The whole generated file.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from the Rust wire types by crates/server/src/typescript.rs. Do not edit:\n\
         // run `UPDATE_TYPESCRIPT=1 cargo test -p switchboard-server --test typescript`.\n\n",
    );
    let decls: Vec<String> = declarations![
        AgentId,
        ConversationId,
        QueueId,
        AssetId,
        IdleCodeId,
        WrapUpReasonId,
        TemplateId,
        Timestamp,
        CustomerInfo,
        Sender,
        QueueReason,
        WithdrawReason,
        CloseReason,
        AbandonReason,
        ConversationEvent,
        Presence,
        AgentCommandFrame,
        CustomerCommandFrame,
        ServerFrame,
        EventFrame<'static>,
        OfferView,
        MessageView,
        ChatView,
        AgentView,
        SignIn,
        SessionCreated,
        Me,
        QueueSummary,
        HistoryEvent,
        PastConversation,
        AvailableAgent,
        WidgetConfig,
        StartRequest,
        Started,
        NewAgent,
        AgentUpdate,
        Account,
        Role,
        Asset,
        PrechatField,
        Queue,
        IdleCode,
        WrapUpReason,
        Template,
        DesktopProfile,
    ];
    for d in decls {
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.trim_end().to_string() + "\n"
}
