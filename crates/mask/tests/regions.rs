//! Every region in libphonenumber's metadata: a masker can be built for it,
//! and its example numbers are masked when written in international form.

use phonenumber::metadata::DATABASE;
use phonenumber::Type;
use switchboard_mask::{Kind, MaskConfig, Masker};

const TYPES: [Type; 5] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::Voip,
];

#[test]
fn every_region_builds_and_masks_its_international_examples() {
    let international = Masker::default();
    let mut regions = 0;
    let mut examples = 0;
    for meta in DATABASE.iter() {
        let id = meta.id();
        if id.len() == 2 {
            let masker = Masker::new(&MaskConfig {
                default_region: Some(id.to_owned()),
            })
            .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(masker.default_region(), Some(id));
            regions += 1;
        }
        for t in TYPES {
            let Some(example) = meta.descriptors().get(t).and_then(|d| d.example()) else {
                continue;
            };
            let text = format!("call +{} {} today", meta.country_code(), example);
            let found = international.find(&text);
            assert!(
                found
                    .iter()
                    .any(|f| f.kind == Kind::Phone || f.kind == Kind::Card),
                "{id} {t:?}: {text:?} not masked"
            );
            examples += 1;
        }
    }
    assert!(regions > 200, "{regions} regions");
    assert!(examples > 500, "{examples} examples");
}
