//! Runs every case of `corpus.txt`: positive and negative examples in
//! several languages and national formats, with exact expected output.

use std::collections::HashMap;

use switchboard_mask::{MaskConfig, Masker};

struct Case {
    line: usize,
    region: Option<String>,
    input: String,
    expected: String,
}

fn parse(corpus: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut region: Option<String> = None;
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in corpus.lines().enumerate() {
        let n = n + 1;
        if let Some(rest) = line.strip_prefix("[region ") {
            let name = rest.split(']').next().unwrap().trim();
            region = (name != "none").then(|| name.to_owned());
        } else if let Some(text) = line.strip_prefix("= ") {
            cases.push(Case {
                line: n,
                region: region.clone(),
                input: text.to_owned(),
                expected: text.to_owned(),
            });
        } else if let Some(text) = line.strip_prefix("< ") {
            assert!(pending.is_none(), "line {n}: `<` without its `>`");
            pending = Some((n, text.to_owned()));
        } else if let Some(text) = line.strip_prefix("> ") {
            let (line, input) = pending
                .take()
                .unwrap_or_else(|| panic!("line {n}: `>` without `<`"));
            cases.push(Case {
                line,
                region: region.clone(),
                input,
                expected: text.to_owned(),
            });
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "line {n}: cannot read {line:?}"
            );
        }
    }
    assert!(
        pending.is_none(),
        "the corpus ends with a `<` without its `>`"
    );
    cases
}

#[test]
fn corpus() {
    let cases = parse(include_str!("corpus.txt"));
    let positives = cases.iter().filter(|c| c.input != c.expected).count();
    let negatives = cases.len() - positives;
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    assert!(
        positives >= 80 && negatives >= 80,
        "{positives} positive, {negatives} negative"
    );

    let mut maskers: HashMap<Option<String>, Masker> = HashMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let masker = maskers.entry(case.region.clone()).or_insert_with(|| {
            Masker::new(&MaskConfig {
                default_region: case.region.clone(),
            })
            .unwrap()
        });
        let got = masker.mask(&case.input);
        if got != case.expected {
            failures.push(format!(
                "line {} [{}]\n   input: {}\nexpected: {}\n     got: {}",
                case.line,
                case.region.as_deref().unwrap_or("none"),
                case.input,
                case.expected,
                got
            ));
        }
        // Every case is also a test of idempotence.
        assert_eq!(
            masker.mask(&got),
            got,
            "line {}: masking twice changed the text",
            case.line
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
