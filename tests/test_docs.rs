//! The documentation says what the manifests say: every feature of
//! `signal-core` has a row in the feature tables of the crate docs and of the
//! README (and no row names a feature that does not exist), both state the
//! MSRV the workspace declares, and every compile-fail case the derive's
//! reference links to exists.

use std::collections::BTreeSet;
use std::path::Path;

const WORKSPACE_MANIFEST: &str = include_str!("../Cargo.toml");
const CORE_MANIFEST: &str = include_str!("../signal-core/Cargo.toml");
const CRATE_DOCS: &str = include_str!("../signal-core/src/lib.rs");
const RUNTIME_MANIFEST: &str = include_str!("../signal-runtime/Cargo.toml");
const RUNTIME_DOCS: &str = include_str!("../signal-runtime/src/lib.rs");
const DERIVE_DOCS: &str = include_str!("../signal-derive/src/lib.rs");
const README: &str = include_str!("../README.md");

/// The features a manifest declares, `default` aside.
fn manifest_features(manifest: &str) -> BTreeSet<String> {
    let mut features = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[features]";
            continue;
        }
        if inside
            && let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            let name = name.trim();
            if name != "default" {
                features.insert(name.to_owned());
            }
        }
    }
    features
}

/// The first cells of the table under `heading` (a line of its own), with
/// the backticks removed. Lines may carry a prefix such as `//! `.
fn table_names(text: &str, heading: &str, prefix: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(|line| {
            let rest = line.strip_prefix(prefix.trim_end()).unwrap_or(line);
            rest.strip_prefix(' ').unwrap_or(rest)
        })
        .collect();
    let start = lines
        .iter()
        .position(|line| line.trim() == heading)
        .unwrap_or_else(|| panic!("no `{heading}` heading"));
    lines[start + 1..]
        .iter()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // the header and the |---| line
        .filter_map(|row| row.split('|').nth(1))
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect()
}

/// What is wrong with a feature table, against the manifest's features.
fn table_problems(features: &BTreeSet<String>, rows: &BTreeSet<String>, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for missing in features.difference(rows) {
        problems.push(format!("{what}: no row for feature `{missing}`"));
    }
    for extra in rows.difference(features) {
        problems.push(format!(
            "{what}: a row for `{extra}`, which is not a feature"
        ));
    }
    problems
}

#[test]
fn test_feature_tables_list_every_feature_of_signal_core() {
    let features = manifest_features(CORE_MANIFEST);
    assert!(
        features.contains("tonic") && features.contains("fixtures"),
        "{features:?}"
    );
    assert!(
        !features.contains("runtime"),
        "the runtime is its own crate"
    );
    let mut problems = table_problems(
        &features,
        &table_names(CRATE_DOCS, "# Feature flags", "//! "),
        "crate docs",
    );
    problems.extend(table_problems(
        &features,
        &table_names(README, "## Feature flags", ""),
        "README",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn test_feature_tables_list_every_feature_of_signal_runtime() {
    let features = manifest_features(RUNTIME_MANIFEST);
    assert!(
        features.contains("metrics") && features.contains("tower"),
        "{features:?}"
    );
    let mut problems = table_problems(
        &features,
        &table_names(RUNTIME_DOCS, "# Feature flags", "//! "),
        "signal-runtime's crate docs",
    );
    problems.extend(table_problems(
        &features,
        &table_names(README, "### Feature flags of signal-runtime", ""),
        "README",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn test_a_feature_missing_from_a_table_is_reported() {
    let manifest = "[package]\nname = \"x\"\n\n[features]\ndefault = []\n## doc\nruntime = [\"dep:tokio\"]\nhttp = []\n\n[dependencies]\ntokio = \"1\"\n";
    let features = manifest_features(manifest);
    assert_eq!(
        features,
        BTreeSet::from(["http".to_owned(), "runtime".to_owned()])
    );
    let docs = "//! # Feature flags\n//!\n//! | feature | adds |\n//! |---|---|\n//! | `runtime` | the runtime |\n//! | `grpc` | nothing |\n//!\n//! # Next\n";
    let rows = table_names(docs, "# Feature flags", "//! ");
    assert_eq!(
        rows,
        BTreeSet::from(["grpc".to_owned(), "runtime".to_owned()])
    );
    let problems = table_problems(&features, &rows, "docs");
    assert_eq!(
        problems,
        [
            "docs: no row for feature `http`",
            "docs: a row for `grpc`, which is not a feature"
        ]
    );
}

#[test]
fn test_msrv_stated_in_the_docs_is_the_declared_one() {
    let declared = WORKSPACE_MANIFEST
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("the workspace declares a rust-version")
        .trim_matches('"');
    assert_eq!(declared, "1.91");
    let stated = format!("**Rust {declared}**");
    assert!(
        CRATE_DOCS.contains(&stated),
        "the crate docs do not say {stated}"
    );
    assert!(README.contains(&stated), "the README does not say {stated}");
    assert!(CRATE_DOCS.contains("# Minimum supported Rust version"));
    assert!(README.contains("## Minimum supported Rust version"));
}

/// The `tests/ui` cases a text links to, by file name.
fn linked_ui_cases(text: &str) -> Vec<&str> {
    const BASE: &str = "/signal-core/tests/ui/";
    text.match_indices(BASE)
        .map(|(at, _)| {
            let rest = &text[at + BASE.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn missing_ui_cases<'a>(links: &[&'a str], ui: &Path) -> Vec<&'a str> {
    links
        .iter()
        .copied()
        .filter(|name| {
            !ui.join(name).is_file() || !ui.join(name).with_extension("stderr").is_file()
        })
        .collect()
}

#[test]
fn test_every_compile_fail_case_the_derive_reference_links_exists() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("signal-core/tests/ui");
    let links = linked_ui_cases(DERIVE_DOCS);
    assert!(links.len() >= 40, "{} links", links.len());
    assert_eq!(missing_ui_cases(&links, &ui), Vec::<&str>::new());

    let made_up = "[skip-twice]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/skip-twice.rs\n";
    let links = linked_ui_cases(made_up);
    assert_eq!(links, ["skip-twice.rs"]);
    assert_eq!(missing_ui_cases(&links, &ui), ["skip-twice.rs"]);
}
