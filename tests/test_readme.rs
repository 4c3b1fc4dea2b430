//! The README shows what a fresh clone gets. Its Rust blocks are doctests of
//! this package (`src/lib.rs` includes the README under `cfg(doctest)`);
//! these tests check that every one of them is a plain, complete program
//! (no hidden `# ` lines, no `ignore`), and that the main example's output
//! block is what the program prints: the same lines and fields, and the
//! same values for the fields the README says a seed fixes.

use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../README.md");

/// The marker in front of the main example's output block.
const OUTPUT_MARKER: &str = "<!-- The output of `cargo run --release --example sync_daemon`";

/// Fields of the accounting line that the seed fixes; the others vary from
/// run to run (the README says which and why).
const FIXED: &[&str] = &[
    "jobs",
    "committed",
    "pending",
    "lost",
    "duplicated",
    "dead_lettered",
    "reclaimed",
];

/// A fenced code block: its info string and its lines.
#[derive(Debug)]
struct Block<'a> {
    info: &'a str,
    /// The line number of the opening fence (1-based).
    line: usize,
    lines: Vec<&'a str>,
}

/// Every fenced block of a Markdown text (fences may be indented, as in
/// list items).
fn blocks(markdown: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<Block<'_>> = None;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => {
                    open = Some(Block {
                        info: info.trim(),
                        line: n + 1,
                        lines: Vec::new(),
                    })
                }
            }
        } else if let Some(block) = &mut open {
            block.lines.push(trimmed);
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

/// What is wrong with the Rust blocks of `markdown`: blocks that rustdoc
/// would not compile as written, and lines a reader would not see.
fn rust_block_problems(markdown: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for block in blocks(markdown) {
        let is_rust =
            block.info.is_empty() || block.info.split(',').any(|word| word.trim() == "rust");
        if !is_rust {
            continue;
        }
        if block.info != "rust" {
            problems.push(format!(
                "line {}: a Rust block is fenced ```{}; write ```rust (every block compiles and runs)",
                block.line, block.info
            ));
        }
        for (i, line) in block.lines.iter().enumerate() {
            if *line == "#" || line.starts_with("# ") {
                problems.push(format!(
                    "line {}: a hidden doctest line renders literally on GitHub: {line}",
                    block.line + 1 + i
                ));
            }
        }
    }
    problems
}

#[test]
fn test_readme_rust_blocks_are_plain_programs() {
    let problems = rust_block_problems(README);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let rust = blocks(README)
        .iter()
        .filter(|block| block.info == "rust")
        .count();
    assert!(rust >= 4, "the README has {rust} Rust blocks");
}

#[test]
fn test_hidden_lines_and_skipped_blocks_are_reported() {
    let markdown = "text\n\n```rust\n# use std::fmt;\nlet x = 1;\n#\n```\n\n  ```rust,ignore\n  let y = 2;\n  ```\n\n```\nunlabelled();\n```\n\n```text\n# a comment in a shell transcript is fine\n```\n";
    let problems = rust_block_problems(markdown);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].starts_with("line 4: a hidden doctest line"));
    assert!(problems[1].starts_with("line 6: a hidden doctest line"));
    assert!(problems[2].contains("```rust,ignore"));
    assert!(problems[3].starts_with("line 13: a Rust block is fenced ```;"));
}

#[test]
fn test_readme_is_compiled_as_doctests() {
    let lib = include_str!("../src/lib.rs");
    assert!(
        lib.contains("#[cfg(doctest)]\n#[doc = include_str!(\"../README.md\")]"),
        "src/lib.rs no longer runs the README's blocks as doctests"
    );
}

/// The README's output block of the main example.
fn readme_output() -> Vec<&'static str> {
    let at = README
        .find(OUTPUT_MARKER)
        .expect("the output block's marker");
    let block = blocks(&README[at..])
        .into_iter()
        .next()
        .expect("a block after the marker");
    assert_eq!(block.info, "text");
    block.lines
}

/// The `key=value` keys of a line, in order, and the value of each.
fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .filter_map(|word| word.split_once('='))
        .collect()
}

/// How `actual` (a run's standard output) differs from the README's block:
/// the lines must correspond one to one; lines without fields must be equal;
/// lines with fields must have the same keys in the same order, and the
/// same values for the keys in `FIXED`.
fn output_differences(readme: &[&str], actual: &str) -> Vec<String> {
    let actual: Vec<&str> = actual.lines().collect();
    if readme.len() != actual.len() {
        return vec![format!(
            "the README shows {} lines, the run printed {}:\n{}",
            readme.len(),
            actual.len(),
            actual.join("\n")
        )];
    }
    let mut differences = Vec::new();
    for (shown, printed) in readme.iter().zip(&actual) {
        let (shown_fields, printed_fields) = (fields(shown), fields(printed));
        if shown_fields.is_empty() {
            if shown != printed {
                differences.push(format!("README: {shown}\n   run: {printed}"));
            }
            continue;
        }
        let keys = |fields: &[(&str, &str)]| {
            fields
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
        };
        if keys(&shown_fields) != keys(&printed_fields) {
            differences.push(format!("other fields:\nREADME: {shown}\n   run: {printed}"));
            continue;
        }
        for ((key, shown_value), (_, printed_value)) in shown_fields.iter().zip(&printed_fields) {
            if FIXED.contains(key) && shown.starts_with("jobs=") && shown_value != printed_value {
                differences.push(format!(
                    "{key}={printed_value} where the README shows {key}={shown_value}"
                ));
            }
        }
    }
    differences
}

#[test]
fn test_output_comparison_reports_what_the_seed_fixes_and_ignores_what_varies() {
    let readme = readme_output();
    let same = readme.join("\n");
    assert_eq!(output_differences(&readme, &same), Vec::<String>::new());

    // What varies may differ.
    let varied = same
        .replace("elapsed=", "elapsed=9")
        .replace("retries=", "retries=1");
    assert_eq!(output_differences(&readme, &varied), Vec::<String>::new());

    // What the seed fixes may not.
    let dead = fields(readme.last().unwrap())
        .into_iter()
        .find(|(key, _)| *key == "dead_lettered")
        .unwrap()
        .1;
    let wrong = same.replace(
        &format!("dead_lettered={dead} "),
        &format!("dead_lettered={dead}0 "),
    );
    let differences = output_differences(&readme, &wrong);
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].starts_with("dead_lettered="),
        "{differences:?}"
    );

    // Nor may a line, a field, or the header.
    let fewer = readme[1..].join("\n");
    assert_eq!(output_differences(&readme, &fewer).len(), 1);
    let renamed = same.replace("stalled_calls=", "stalls=");
    assert!(output_differences(&readme, &renamed)[0].starts_with("other fields"));
    let header = same.replace("seed 42", "seed 43");
    assert_eq!(output_differences(&readme, &header).len(), 1);
}

/// An empty directory for the run's temporary files, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("signal-readme-test-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The README's main command prints what the README shows, and leaves no
/// temporary file behind. (The same program as the example, built as the
/// `sync_daemon` binary; standard error is not a terminal, so there is no
/// progress line.)
#[test]
fn test_main_command_prints_what_the_readme_shows_and_leaves_nothing() {
    let tmp = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_sync_daemon"))
        .env("TMPDIR", tmp.path())
        .output()
        .expect("run the sync_daemon binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
    assert_eq!(stderr, "", "nothing on stderr by default");
    let differences = output_differences(&readme_output(), &stdout);
    assert!(
        differences.is_empty(),
        "the README's output block is out of date:\n{}\n\nthe run printed:\n{stdout}",
        differences.join("\n")
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
