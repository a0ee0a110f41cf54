use phonenumber::metadata::DATABASE;
use std::time::Instant;
fn main() {
    for code in [1u16, 44, 49, 33, 7, 86, 800, 979, 39] {
        let metas = DATABASE.by_code(&code).unwrap();
        for m in metas.iter().take(2) {
            let g = m.descriptors().general();
            println!("{code} {} np={:?} pl={:?} pll={:?} main={}", m.id(), m.national_prefix(), g.possible_length(), g.possible_local_length(), m.is_main_country_for_code());
            for f in m.formats().iter().take(3) {
                println!("    fmt {:?} np_rule={:?} opt={}", f.pattern().as_str(), f.national_prefix(), f.is_national_prefix_optional());
            }
        }
    }
    println!("region 1: {:?}", DATABASE.region(&1u16).map(|v| v.len()));
    for (r, s) in [("US","2125551234"),("US","12125551234"),("US","1234567890"),("US","4155552671"),("GB","02079460958"),("GB","2079460958"),("GB","07966197542"),("DE","10115"),("DE","030123456"),("DE","30123456"),("FR","0123456789"),("FR","123456789"),("US","123456789"),("US","0114479661975"), ("US", "+447966197542"), ("DE", "015112345678"), ("US","5551234")] {
        let id: phonenumber::country::Id = r.parse().unwrap();
        let t = Instant::now();
        let p = phonenumber::parse(Some(id), s);
        let e = t.elapsed();
        match p { Ok(p) => println!("{r} {s} -> {:?} nat={} valid={} src={:?} {:?}", p.code().value(), p.national(), p.is_valid(), p.code().source(), e),
                  Err(err) => println!("{r} {s} -> err {err:?} {e:?}") }
    }
    let id: phonenumber::country::Id = "US".parse().unwrap();
    let t = Instant::now();
    for _ in 0..1000 { let p = phonenumber::parse(Some(id), "2125551234").unwrap(); assert!(p.is_valid()); }
    println!("parse+valid avg {:?}", t.elapsed()/1000);
    let t = Instant::now();
    for _ in 0..1000 { let _ = phonenumber::parse(Some(id), "1234567"); }
    println!("parse invalid avg {:?}", t.elapsed()/1000);
}
