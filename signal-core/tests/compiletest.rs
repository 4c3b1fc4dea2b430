//! Compile-fail tests: each case in `tests/ui/` breaks one rule and must fail
//! with the message in its `.stderr` file. Update with
//! `TRYBUILD=overwrite cargo test -p signal-core --test compiletest`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
