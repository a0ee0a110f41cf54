use phonenumber::metadata::DATABASE;
use phonenumber::Type;
fn main() {
    for code in [1u16, 44, 49, 33, 7, 86, 800, 979, 39, 353] {
        let metas = DATABASE.by_code(&code).unwrap();
        for m in metas.iter().take(1) {
            let d = m.descriptors();
            for t in [Type::FixedLine, Type::Mobile, Type::TollFree, Type::PremiumRate, Type::Voip, Type::Uan, Type::PersonalNumber, Type::Pager, Type::SharedCost, Type::Voicemail] {
                if let Some(x) = d.get(t) { println!("{code} {} {t:?} pl={:?} pll={:?} ex={:?}", m.id(), x.possible_length(), x.possible_local_length(), x.example()); }
            }
        }
    }
    println!("{}", DATABASE.iter().count());
}
