//! Masking customer sensitive data in what reaches agents' and supervisors' browsers, when the
//! desktop profile says so. The log keeps what was sent (unless payment data is redacted at
//! rest); every projection towards an agent or a supervisor goes through here.

use std::collections::BTreeMap;
use switchboard_core::*;
use switchboard_mask::Masker;

pub fn text(m: &Masker, s: &str) -> String {
    m.mask(s).into_owned()
}

pub fn customer(m: &Masker, c: &CustomerInfo) -> CustomerInfo {
    CustomerInfo {
        // A name that is itself a phone number (or an email) is masked too.
        name: c.name.as_deref().map(|n| text(m, n)),
        email: c.email.as_deref().map(|e| text(m, e)),
        phone: c.phone.as_deref().map(|p| text(m, p)),
        fields: variables(m, &c.fields),
        identity: c.identity.clone(),
    }
}

pub fn variables(m: &Masker, v: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    v.iter().map(|(k, val)| (k.clone(), text(m, val))).collect()
}

/// An event as an agent may see it.
pub fn event(m: &Masker, e: &ConversationEvent) -> ConversationEvent {
    match e {
        ConversationEvent::Started {
            asset_id,
            asset_name,
            customer: c,
            variables: v,
            proactive,
        } => ConversationEvent::Started {
            asset_id: *asset_id,
            asset_name: asset_name.clone(),
            customer: customer(m, c),
            variables: variables(m, v),
            proactive: *proactive,
        },
        ConversationEvent::Message {
            sender,
            text: t,
            template,
        } => ConversationEvent::Message {
            sender: sender.clone(),
            text: text(m, t),
            template: template.clone(),
        },
        other => other.clone(),
    }
}

/// Payment data (cards, IBANs, SSNs) masked before it is stored, when the profile says so.
pub fn redact(m: &Masker, s: &str) -> String {
    m.redact_payment(s).into_owned()
}

/// The offer pop-over as an agent may see it.
pub fn offer(m: &Masker, o: crate::wire::OfferView) -> crate::wire::OfferView {
    crate::wire::OfferView {
        customer_name: text(m, &o.customer_name),
        customer: customer(m, &o.customer),
        variables: variables(m, &o.variables),
        messages: o.messages.into_iter().map(|v| message(m, v)).collect(),
        ..o
    }
}

/// A chat of the agent's snapshot as an agent may see it.
pub fn chat(m: &Masker, c: crate::wire::ChatView) -> crate::wire::ChatView {
    crate::wire::ChatView {
        customer_name: text(m, &c.customer_name),
        customer: customer(m, &c.customer),
        variables: variables(m, &c.variables),
        ..c
    }
}

pub fn message(m: &Masker, v: crate::wire::MessageView) -> crate::wire::MessageView {
    crate::wire::MessageView {
        text: text(m, &v.text),
        ..v
    }
}
