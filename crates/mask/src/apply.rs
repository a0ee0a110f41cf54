//! From findings to masked text: settle overlaps, then write the masks.

use std::ops::Range;

use crate::{Finding, Kind};

/// How a settled span is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Whitespace removed; every other character but the last four becomes `*`.
    Number,
    /// The name's first character kept, the rest of the name starred, the
    /// domain kept.
    Email,
}

/// A finding after overlaps are settled.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub(crate) kind: Kind,
    pub(crate) range: Range<usize>,
    pub(crate) style: Style,
}

/// Orders findings and merges those that overlap, so that the spans are
/// disjoint and every character any detector flagged is covered.
///
/// Overlaps are rare (a card number that is also an international phone
/// number, overlapping Luhn windows of one long digit run, a card inside an
/// email address). An email whose starred name contains all the others
/// stays an email (its mask hides them); any other overlap becomes one
/// number-masked span over the union, which hides at least as much as each
/// mask would have, named after its most sensitive kind.
pub(crate) fn settle(text: &str, mut findings: Vec<Finding>) -> Vec<Span> {
    findings.sort_by_key(|f| (f.range.start, std::cmp::Reverse(f.range.end)));
    let mut spans: Vec<Span> = Vec::with_capacity(findings.len());
    let mut group: Vec<Finding> = Vec::new();
    let mut group_end = 0;
    for f in findings {
        if !group.is_empty() && f.range.start >= group_end {
            spans.push(merge(text, &group));
            group.clear();
        }
        group_end = if group.is_empty() {
            f.range.end
        } else {
            group_end.max(f.range.end)
        };
        group.push(f);
    }
    if !group.is_empty() {
        spans.push(merge(text, &group));
    }
    spans
}

fn merge(text: &str, group: &[Finding]) -> Span {
    let start = group.iter().map(|f| f.range.start).min().unwrap_or(0);
    let end = group.iter().map(|f| f.range.end).max().unwrap_or(0);
    if let [only] = group {
        return span(only.kind, only.range.clone());
    }
    // An email whose starred name (after its first character's start, up
    // to the `@`) contains every other finding.
    let hiding_email = group.iter().find(|e| {
        e.kind == Kind::Email
            && text[e.range.clone()].find('@').is_some_and(|at| {
                let at = e.range.start + at;
                group.iter().all(|f| {
                    f.range.start >= e.range.start && (f.range.end <= at || f.range == e.range)
                })
            })
    });
    if let Some(email) = hiding_email {
        return span(Kind::Email, email.range.clone());
    }
    // Name the span after a finding that covers all of it (an IBAN with a
    // Luhn-valid stretch of digits inside is an IBAN), else after the most
    // sensitive kind in it.
    let most_sensitive =
        |fs: &mut dyn Iterator<Item = &Finding>| fs.map(|f| f.kind).max_by_key(|k| k.sensitivity());
    let kind = most_sensitive(&mut group.iter().filter(|f| f.range == (start..end)))
        .or_else(|| most_sensitive(&mut group.iter()))
        .unwrap_or(Kind::Card);
    Span {
        kind,
        range: start..end,
        style: Style::Number,
    }
}

fn span(kind: Kind, range: Range<usize>) -> Span {
    let style = if kind == Kind::Email {
        Style::Email
    } else {
        Style::Number
    };
    Span { kind, range, style }
}

/// Writes `text` with its spans masked, or `None` if that changes nothing.
pub(crate) fn render(text: &str, spans: &[Span]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        out.push_str(&text[last..span.range.start]);
        let source = &text[span.range.clone()];
        match span.style {
            Style::Number => mask_number(source, &mut out),
            Style::Email => mask_email(source, &mut out),
        }
        last = span.range.end;
    }
    out.push_str(&text[last..]);
    (out != text).then_some(out)
}

/// `+ 1 (123) 456 7890` → `**********7890`: whitespace removed, every other
/// character but the last four replaced by `*`.
pub(crate) fn mask_number(source: &str, out: &mut String) {
    let visible = source.chars().filter(|c| !c.is_whitespace()).count();
    let starred = visible.saturating_sub(4);
    for (i, c) in source.chars().filter(|c| !c.is_whitespace()).enumerate() {
        out.push(if i < starred { '*' } else { c });
    }
}

/// `melissa@gmail.com` → `m******@gmail.com`.
pub(crate) fn mask_email(source: &str, out: &mut String) {
    let at = source.find('@').unwrap_or(source.len());
    let mut name = source[..at].chars();
    if let Some(first) = name.next() {
        out.push(first);
    }
    out.extend(name.map(|_| '*'));
    out.push_str(&source[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> String {
        let mut out = String::new();
        mask_number(s, &mut out);
        out
    }

    fn email(s: &str) -> String {
        let mut out = String::new();
        mask_email(s, &mut out);
        out
    }

    #[test]
    fn the_product_table() {
        assert_eq!(number("+ 1 (123) 456 7890"), "**********7890");
        assert_eq!(number("+447966197542"), "*********7542");
        assert_eq!(email("melissa@gmail.com"), "m******@gmail.com");
    }

    #[test]
    fn short_and_unicode_sources() {
        assert_eq!(number("123"), "123");
        assert_eq!(number("12 34"), "1234");
        assert_eq!(number("٤١١١ ١١١١ ١١١١ ١١١١"), "************١١١١");
        assert_eq!(email("a@b.co"), "a@b.co");
        assert_eq!(email("josé@correo.es"), "j***@correo.es");
    }

    #[test]
    fn overlapping_findings_merge() {
        let text = "x 4111 1111 1111 1111 1111 y";
        let f = |a: usize, b: usize| Finding {
            kind: Kind::Card,
            range: a..b,
        };
        let spans = settle(text, vec![f(7, 26), f(2, 21)]);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].range, 2..26);
    }

    #[test]
    fn an_email_hides_a_card_in_its_name() {
        let text = "4111111111111111@example.com";
        let spans = settle(
            text,
            vec![
                Finding {
                    kind: Kind::Card,
                    range: 0..16,
                },
                Finding {
                    kind: Kind::Email,
                    range: 0..28,
                },
            ],
        );
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].style, Style::Email);
        assert_eq!(
            render(text, &spans).unwrap(),
            "4***************@example.com"
        );
    }
}
