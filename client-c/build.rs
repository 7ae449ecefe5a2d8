//! Gives libxproc.so its SONAME, so that programs linked against it record `libxproc.so.0`
//! and keep working across compatible upgrades.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxproc.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
