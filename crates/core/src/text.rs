//! Message text: the rules every message obeys, and template filling.

use crate::error::DomainError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest message, in Unicode code points.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Text that obeys the message rules: at most 1000 code points, not empty after trimming, no
/// control characters but line breaks. Built only by [`MessageText::parse`] (or
/// [`MessageText::parse_agent`], which also refuses `<` and `>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    /// Text as a customer may send it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::MessageEmpty);
        }
        let chars = raw.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(DomainError::MessageTooLong { chars });
        }
        // Line breaks are the only control characters a message may carry; a tab or an escape
        // sequence would let a sender reshape what the other side's screen shows.
        if raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            return Err(DomainError::MessageControlCharacter);
        }
        Ok(Self(raw.replace("\r\n", "\n").replace('\r', "\n")))
    }

    /// Text as an agent may type it: the customer's rules, and no `<` or `>`, which are reserved
    /// for template parameters (so an agent can never forge a template's filled-in value).
    pub fn parse_agent(raw: &str) -> Result<Self, DomainError> {
        let text = Self::parse(raw)?;
        if text.0.contains(['<', '>']) {
            return Err(DomainError::MessageReservedCharacter);
        }
        Ok(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Fills a template's `<parameter>` placeholders from `values`; a placeholder with no value is
/// left out (an empty string), so a customer never sees a raw `<name>`. The result must still
/// obey the message rules (it is parsed as customer-grade text: a template may contain `<`
/// only as a parameter, and parameters are gone once filled).
pub fn fill_template(
    body: &str,
    values: &BTreeMap<String, String>,
) -> Result<MessageText, DomainError> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) if is_parameter_name(&after[..close]) => {
                if let Some(value) = values.get(&after[..close]) {
                    out.push_str(value);
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    MessageText::parse(&out).map_err(|_| DomainError::TemplateInvalid)
}

fn is_parameter_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_code_points_not_bytes() {
        let thousand = "é".repeat(1000);
        assert!(MessageText::parse(&thousand).is_ok());
        let more = "é".repeat(1001);
        assert_eq!(
            MessageText::parse(&more),
            Err(DomainError::MessageTooLong { chars: 1001 })
        );
    }

    #[test]
    fn empty_and_control_characters_are_refused() {
        assert_eq!(MessageText::parse("  \n "), Err(DomainError::MessageEmpty));
        assert_eq!(
            MessageText::parse("a\u{7}b"),
            Err(DomainError::MessageControlCharacter)
        );
        assert_eq!(
            MessageText::parse("a\tb"),
            Err(DomainError::MessageControlCharacter)
        );
        assert_eq!(
            MessageText::parse("line one\r\nline two").unwrap().as_str(),
            "line one\nline two"
        );
    }

    #[test]
    fn agents_may_not_send_angle_brackets() {
        assert_eq!(
            MessageText::parse_agent("1 < 2"),
            Err(DomainError::MessageReservedCharacter)
        );
        assert!(MessageText::parse("1 < 2").is_ok());
    }

    #[test]
    fn templates_are_filled() {
        let mut values = BTreeMap::new();
        values.insert("customer_name".to_string(), "Ana".to_string());
        values.insert("agent_name".to_string(), "Bo".to_string());
        let text = fill_template(
            "Hi <customer_name>,\nI am <agent_name>. <unknown>ok",
            &values,
        )
        .unwrap();
        assert_eq!(text.as_str(), "Hi Ana,\nI am Bo. ok");
        let kept = fill_template("a < b", &values).unwrap();
        assert_eq!(kept.as_str(), "a < b");
    }
}
