//! Masking a 1000-character message must take at most 100 µs
//! (docs/benchmarks.md). Criterion writes the median of each benchmark to
//! `target/criterion/<group>/<name>/new/estimates.json` (`median`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_mask::{MaskConfig, Masker};

/// Repeats `paragraph` and cuts the result to exactly 1000 characters
/// (at a char boundary, so a multi-byte paragraph stays valid).
fn message(paragraph: &str) -> String {
    paragraph.chars().cycle().take(1000).collect()
}

/// A chat message as customers write them: a card, an email, phone numbers
/// (international and national), plus the numbers that must stay (order,
/// date, time, price, version, post code).
const TYPICAL: &str =
    "Hi, I ordered last week (order #100234567, invoice INV-2024-001234) and was charged \
$1,299.99 twice on 2024-01-15 at 14:30. My card is 4111 1111 1111 1111, exp 12/27. \
You can reach me at melissa@gmail.com or on +44 7966 197542, or at the office on (212) 555-1234. \
The app says version 10.0.19041.1 and my post code is 90210. Thanks a lot for your help! ";

/// Nothing to mask, the common case: words, a date, a price.
const PLAIN: &str =
    "Hello, I would like to know when my parcel will arrive. The website said it would be \
delivered on Monday 15 January between 10:30 and 12:00, and I paid 45.00 for express shipping. \
Could you please check what happened? Thank you very much, have a nice day. ";

/// Many numbers close together: the detectors' worst realistic case.
const NUMBERS: &str =
    "12 345 6789 0123 4567 89 01 2345 678 901 23 4567 8901 234 56 7890 1234 5678 90 123 ";

/// German text with umlauts and German formats.
const GERMAN: &str =
    "Guten Tag, meine Bestellung 302-1234567 ist noch nicht da. Bitte überweisen Sie die \
Rückzahlung von 1.299,99 € auf DE89 3704 0044 0532 0130 00. Sie erreichen mich unter 030 1234567 \
oder max.mustermann@t-online.de. Vielen Dank und schöne Grüße aus 10115 Berlin! ";

fn bench(c: &mut Criterion) {
    let us = Masker::new(&MaskConfig {
        default_region: Some("US".into()),
    })
    .unwrap();
    let de = Masker::new(&MaskConfig {
        default_region: Some("DE".into()),
    })
    .unwrap();
    let none = Masker::default();

    let mut group = c.benchmark_group("mask_1000_chars");
    group.throughput(Throughput::Bytes(1000));
    let cases: [(&str, &Masker, String); 5] = [
        ("typical_us", &us, message(TYPICAL)),
        ("plain_us", &us, message(PLAIN)),
        ("numbers_us", &us, message(NUMBERS)),
        ("german_de", &de, message(GERMAN)),
        ("typical_no_region", &none, message(TYPICAL)),
    ];
    for (name, masker, text) in &cases {
        assert_eq!(text.chars().count(), 1000);
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| masker.mask(black_box(text)))
        });
    }
    group.bench_with_input(
        BenchmarkId::from_parameter("redact_payment_typical"),
        &message(TYPICAL),
        |b, text| b.iter(|| us.redact_payment(black_box(text))),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
