//! Compile-fail cases that need the built-in classifiers' features.

#[test]
fn ui_features() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-features/*.rs");
}
