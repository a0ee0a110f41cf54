//! The generated TypeScript types are up to date with the Rust wire types.

#[test]
fn generated_typescript_is_fresh() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/shared/protocol.ts");
    let generated = switchboard_server::typescript::typescript();
    if std::env::var("UPDATE_TYPESCRIPT").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "web/shared/protocol.ts is stale: run `UPDATE_TYPESCRIPT=1 cargo test -p switchboard-server --test typescript`"
    );
}
