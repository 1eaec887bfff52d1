//! The tests find the binaries where cargo built them (issue 17): with `CARGO_TARGET_DIR` set and no
//! `E2E_BIN_DIR`, a fixed `target/debug` would find stale binaries of another build, or none at all. `cargo xtask
//! test` runs this with `CARGO_TARGET_DIR` pointing elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn the_binaries_are_found_where_cargo_built_them() {
    let bin = e2e::bin_dir();
    if std::env::var_os("E2E_BIN_DIR").is_none() {
        let exe = std::env::current_exe().unwrap();
        assert!(exe.starts_with(&bin), "{} is not where this test was built ({})", bin.display(), exe.display());
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            let target = std::path::PathBuf::from(target);
            assert!(bin.starts_with(&target), "{} is outside CARGO_TARGET_DIR {}", bin.display(), target.display());
        }
    }
    for program in ["verifier", "card-helper"] {
        assert!(bin.join(program).exists(), "{} has no {program}: build the binaries first", bin.display());
    }
}
