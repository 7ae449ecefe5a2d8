//! The committed header `include/xproc.h` must be exactly what cbindgen generates from the
//! current sources: this test regenerates it (cbindgen's library API, with `cbindgen.toml`)
//! and fails on any difference, saying how to update it.

use std::path::Path;

#[test]
fn committed_header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("client-c/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let path = crate_dir.join("include/xproc.h");
    if std::env::var_os("XPROC_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/xproc.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "client-c/include/xproc.h is out of date with the sources.\n\
         Regenerate it with:\n\n    \
         XPROC_UPDATE_HEADER=1 cargo test -p xproc-c --test header\n\n\
         then review and commit the new header."
    );
}
