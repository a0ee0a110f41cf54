//! What a bench message carries in its text: a unique message id and its send time. Written
//! with letters only (numbers in base 26), so that no masking rule (cards, phone numbers)
//! could ever rewrite it on the way.

/// Filler so that a message has the size of a typical chat line.
const FILLER: &str = "thanks for your help with my order from last week";

/// A number in base 26, `a` = 0.
pub fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

pub fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 14 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        b.is_ascii_lowercase().then(|| acc * 26 + (b - b'a') as u64)
    })
}

/// A parsed bench message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub sent_us: u64,
    /// The customer's last message: the agent ends the chat after answering it.
    pub last: bool,
}

pub fn compose(id: &str, sent_us: u64, last: bool) -> String {
    let flag = if last { "bye" } else { "more" };
    format!("bench {id} at {} {flag} {FILLER}", letters(sent_us))
}

pub fn parse(text: &str) -> Option<Stamp> {
    let mut words = text.split_whitespace();
    if words.next()? != "bench" {
        return None;
    }
    let id = words.next()?.to_string();
    if words.next()? != "at" {
        return None;
    }
    let sent_us = number(words.next()?)?;
    let last = words.next()? == "bye";
    Some(Stamp { id, sent_us, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for n in [0, 1, 25, 26, 123_456_789_012] {
            assert_eq!(number(&letters(n)), Some(n));
        }
        let t = compose("c-b-c", 987_654_321, true);
        assert!(!t.chars().any(|c| c.is_ascii_digit()));
        assert_eq!(
            parse(&t),
            Some(Stamp {
                id: "c-b-c".into(),
                sent_us: 987_654_321,
                last: true
            })
        );
        assert_eq!(parse("hello"), None);
    }
}
