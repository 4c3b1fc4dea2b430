//! Writes a crate of 200 error enums, 20 variants each, for the compile-time
//! benchmark (`benches/compile-time.sh`). No dependencies: build it with
//! `rustc -O`.
//!
//! ```sh
//! gen <out-dir> thiserror
//! gen <out-dir> signal <path-to-signal-core>
//! ```
//!
//! Both flavours have the same types, variants, fields and `thiserror`
//! attributes; `signal` adds `#[derive(Signal)]`, its kinds, and a
//! `#[signal(...)]` attribute on every leaf variant and carrier field.
//!
//! Enum `E000` to `E159` wrap enums with a higher number (so there is no
//! cycle), 20 to 40 numbers further down; `E160` to `E199` wrap nothing.
//! A wrapping enum has 6 unit variants (3 of them leaves), 3 variants of
//! plain data, 9 wrapping variants (a transparent child, a `#[from]` child,
//! a boxed child, a named `source` with context, `Vec`, `Option<Box<_>>`,
//! `Vec<(u64, _)>`, a child forwarded with `except(Retryable)`, a boxed child
//! forwarded with `only(NeedsDbReconnect)`), and 2 skipped children with a
//! reason. A leaf enum has 12 unit variants (6 of them leaves) and 8 variants
//! of plain data.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const ENUMS: usize = 200;
const LEAF_ENUMS_FROM: usize = 160;
const KINDS: [&str; 5] = [
    "NeedsDbReconnect",
    "PoolNeedsConnection",
    "Retryable",
    "TimedOut",
    "Fatal",
];

/// A small deterministic generator, so both flavours get the same crate.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    Thiserror,
    Signal,
    /// `thiserror` plus the classification methods a team writes by hand
    /// today: one `match` per enum per question, for two questions.
    Handwritten,
}

/// The two questions the hand-written flavour answers.
fn answers(kind: &str) -> (bool, bool) {
    let reconnect = matches!(kind, "NeedsDbReconnect" | "PoolNeedsConnection");
    let retryable = matches!(kind, "Retryable" | "TimedOut");
    (reconnect, retryable)
}

struct Out {
    flavour: Flavour,
    text: String,
    /// Hand-written flavour: per variant, the pattern and the expressions
    /// answering "needs a DB reconnect?" and "retryable?".
    arms: Vec<(String, String, String)>,
}

impl Out {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// A line only in the `signal` flavour.
    fn signal(&mut self, line: &str) {
        if self.flavour == Flavour::Signal {
            self.line(line);
        }
    }

    fn arm(&mut self, pattern: String, reconnect: &str, retryable: &str) {
        self.arms
            .push((pattern, reconnect.to_owned(), retryable.to_owned()));
    }

    /// The hand-written methods of the enum just closed.
    fn methods(&mut self, index: usize) {
        if self.flavour != Flavour::Handwritten {
            self.arms.clear();
            return;
        }
        let arms = std::mem::take(&mut self.arms);
        self.line(&format!("impl {} {{", name(index)));
        for (method, pick) in [("needs_db_reconnect", 0), ("is_retryable", 1)] {
            self.line(&format!("    pub fn {method}(&self) -> bool {{"));
            self.line("        match self {");
            for (pattern, reconnect, retryable) in &arms {
                let answer = if pick == 0 { reconnect } else { retryable };
                let answer = answer.replace("{m}", method);
                self.line(&format!("            {pattern} => {answer},"));
            }
            self.line("        }");
            self.line("    }");
        }
        self.line("}");
        self.line("");
    }
}

fn name(index: usize) -> String {
    format!("E{index:03}")
}

fn leaf_enum(out: &mut Out, rng: &mut Lcg, index: usize) {
    for v in 0..12 {
        let (mut reconnect, mut retryable) = (false, false);
        if v % 2 == 0 {
            let kind = KINDS[rng.below(KINDS.len())];
            out.signal(&format!("    #[signal(leaf = \"{kind}\")]"));
            (reconnect, retryable) = answers(kind);
        }
        out.arm(
            format!("Self::Unit{v}"),
            &reconnect.to_string(),
            &retryable.to_string(),
        );
        out.line(&format!(
            "    #[error(\"unit failure {v} of {}\")]",
            name(index)
        ));
        out.line(&format!("    Unit{v},"));
    }
    for v in 0..8 {
        match v % 4 {
            0 => {
                out.line("    #[error(\"message: {0}\")]");
                out.line(&format!("    Message{v}(String),"));
                out.arm(format!("Self::Message{v}(_)"), "false", "false");
            }
            1 => {
                out.line("    #[error(\"code {0}\")]");
                out.line(&format!("    Code{v}(u64),"));
                out.arm(format!("Self::Code{v}(_)"), "false", "false");
            }
            2 => {
                out.line("    #[error(\"row {row} in {table}\")]");
                out.line(&format!("    Row{v} {{ table: String, row: u64 }},"));
                out.arm(format!("Self::Row{v} {{ .. }}"), "false", "false");
            }
            _ => {
                out.line("    #[error(\"io: {0}\")]");
                out.line(&format!("    Io{v}(std::io::ErrorKind),"));
                out.arm(format!("Self::Io{v}(_)"), "false", "false");
            }
        }
    }
}

fn wrapper_enum(out: &mut Out, rng: &mut Lcg, index: usize) {
    // 20 to 40 numbers further down: at most E199 from E159.
    let mut child = || name(index + 20 + rng.below(21));
    for v in 0..6 {
        let (mut reconnect, mut retryable) = (false, false);
        if v % 2 == 0 {
            let kind = KINDS[(index + v) % KINDS.len()];
            out.signal(&format!("    #[signal(leaf = \"{kind}\")]"));
            (reconnect, retryable) = answers(kind);
        }
        out.arm(
            format!("Self::Unit{v}"),
            &reconnect.to_string(),
            &retryable.to_string(),
        );
        out.line(&format!(
            "    #[error(\"unit failure {v} of {}\")]",
            name(index)
        ));
        out.line(&format!("    Unit{v},"));
    }
    out.line("    #[error(\"message: {0}\")]");
    out.line("    Message(String),");
    out.line("    #[error(\"code {code}: {detail}\")]");
    out.line("    Coded { code: u32, detail: String },");
    out.line("    #[error(\"attempt {0}\")]");
    out.line("    Attempt(u64),");
    out.arm("Self::Message(_)".into(), "false", "false");
    out.arm("Self::Coded { .. }".into(), "false", "false");
    out.arm("Self::Attempt(_)".into(), "false", "false");

    let forward = "#[signal(forward)] ";
    let fwd = |out: &Out| {
        if out.flavour == Flavour::Signal {
            forward
        } else {
            ""
        }
    };

    let c = child();
    out.line("    #[error(transparent)]");
    out.line(&format!("    Transparent({}{c}),", fwd(out)));
    out.arm("Self::Transparent(e)".into(), "e.{m}()", "e.{m}()");
    let c = child();
    out.line(&format!("    #[error(\"from {c}: {{0}}\")]"));
    out.line(&format!("    From(#[from] {}{c}),", fwd(out)));
    out.arm("Self::From(e)".into(), "e.{m}()", "e.{m}()");
    let c = child();
    out.line(&format!("    #[error(\"boxed {c}: {{0}}\")]"));
    out.line(&format!("    Boxed(#[source] {}Box<{c}>),", fwd(out)));
    out.arm("Self::Boxed(e)".into(), "e.{m}()", "e.{m}()");
    let c = child();
    out.line("    #[error(\"{context}: {source}\")]");
    out.line("    Context {");
    out.signal("        #[signal(forward)]");
    out.line(&format!("        source: {c},"));
    out.line("        context: String,");
    out.line("    },");
    out.arm("Self::Context { source, .. }".into(), "source.{m}()", "source.{m}()");
    let c = child();
    out.line("    #[error(\"{} failures\", .0.len())]");
    out.line(&format!("    Many({}Vec<{c}>),", fwd(out)));
    out.arm("Self::Many(v)".into(), "v.iter().any(|e| e.{m}())", "v.iter().any(|e| e.{m}())");
    let c = child();
    out.line("    #[error(\"maybe failed\")]");
    out.line(&format!("    Maybe({}Option<Box<{c}>>),", fwd(out)));
    out.arm("Self::Maybe(e)".into(), "e.as_ref().is_some_and(|e| e.{m}())", "e.as_ref().is_some_and(|e| e.{m}())");
    let c = child();
    out.line("    #[error(\"{} messages failed\", .0.len())]");
    out.line(&format!("    PerMessage({}Vec<(u64, {c})>),", fwd(out)));
    out.arm("Self::PerMessage(v)".into(), "v.iter().any(|(_, e)| e.{m}())", "v.iter().any(|(_, e)| e.{m}())");
    let c = child();
    out.line("    #[error(\"batch: {0}\")]");
    let filter = if out.flavour == Flavour::Signal {
        "#[signal(forward(except(Retryable)))] "
    } else {
        ""
    };
    out.line(&format!("    Batch(#[source] {filter}{c}),"));
    out.arm("Self::Batch(e)".into(), "e.{m}()", "{ let _ = e; false }");
    let c = child();
    out.line("    #[error(\"pool: {0}\")]");
    let filter = if out.flavour == Flavour::Signal {
        "#[signal(forward(only(NeedsDbReconnect)))] "
    } else {
        ""
    };
    out.line(&format!("    Pool(#[source] {filter}Box<{c}>),"));
    out.arm("Self::Pool(e)".into(), "e.{m}()", "{ let _ = e; false }");

    for (v, reason) in [
        "reported to the user, never retried",
        "the caller handles these itself",
    ]
    .iter()
    .enumerate()
    {
        let c = child();
        let skip = if out.flavour == Flavour::Signal {
            format!("#[signal(skip = \"{reason}\")] ")
        } else {
            String::new()
        };
        out.line(&format!("    #[error(\"reported: {{0}}\")]"));
        out.line(&format!("    Reported{v}(#[source] {skip}{c}),"));
        out.arm(format!("Self::Reported{v}(_)"), "false", "false");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: gen <out-dir> thiserror | gen <out-dir> handwritten | gen <out-dir> signal <path-to-signal-core>";
    let dir = Path::new(args.get(1).expect(usage));
    let flavour = match args.get(2).map(String::as_str) {
        Some("thiserror") => Flavour::Thiserror,
        Some("signal") => Flavour::Signal,
        Some("handwritten") => Flavour::Handwritten,
        _ => panic!("{usage}"),
    };
    let crate_name = match flavour {
        Flavour::Thiserror => "errors_thiserror",
        Flavour::Signal => "errors_signal",
        Flavour::Handwritten => "errors_handwritten",
    };

    let mut manifest = format!(
        "[package]\nname = \"{crate_name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nthiserror = \"2\"\n"
    );
    if flavour == Flavour::Signal {
        let core = args.get(3).expect(usage);
        let _ = writeln!(manifest, "signal-core = {{ path = \"{core}\" }}");
    }
    // Its own workspace, wherever it is written.
    manifest.push_str("\n[workspace]\n");

    let mut out = Out {
        flavour,
        text: String::new(),
        arms: Vec::new(),
    };
    out.line("//! Generated by benches/compile_time/gen.rs. Do not edit.");
    out.line("");
    if flavour == Flavour::Signal {
        out.line("use signal_core::Signal;");
        out.line("");
        out.line("signal_core::kind! {");
        out.line("    /// The DB pool must be rebuilt.");
        out.line("    pub NeedsDbReconnect;");
        out.line("    /// The pool has no connection.");
        out.line("    pub PoolNeedsConnection: NeedsDbReconnect;");
        out.line("    /// Trying again may succeed.");
        out.line("    pub Retryable;");
        out.line("    /// A deadline passed.");
        out.line("    pub TimedOut: Retryable;");
        out.line("    /// Nothing will help.");
        out.line("    pub Fatal;");
        out.line("}");
        out.line("");
    }

    let mut rng = Lcg(0x5167_6e61_6c00_0001);
    for index in 0..ENUMS {
        out.line(&format!("/// Errors of component {index}."));
        match flavour {
            Flavour::Thiserror | Flavour::Handwritten => {
                out.line("#[derive(Debug, thiserror::Error)]")
            }
            Flavour::Signal => out.line("#[derive(Debug, thiserror::Error, Signal)]"),
        }
        out.line(&format!("pub enum {} {{", name(index)));
        if index < LEAF_ENUMS_FROM {
            wrapper_enum(&mut out, &mut rng, index);
        } else {
            leaf_enum(&mut out, &mut rng, index);
        }
        out.line("}");
        out.line("");
        out.methods(index);
    }

    // The error types live in a module of their own; `other.rs` is a module
    // that does not touch them, which the incremental benchmark edits.
    let lib = "//! Generated by benches/compile_time/gen.rs. Do not edit.\n\n\
               pub mod errors;\npub mod other;\n\npub use errors::*;\n";
    let other = "//! Generated by benches/compile_time/gen.rs. The incremental benchmark\n\
                 //! edits the constant below.\n\n\
                 /// A value the benchmark changes between two checks.\n\
                 pub const EDITED: u64 = 0;\n";
    fs::create_dir_all(dir.join("src")).expect("create the crate directory");
    fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    fs::write(dir.join("src/lib.rs"), lib).expect("write src/lib.rs");
    fs::write(dir.join("src/errors.rs"), out.text).expect("write src/errors.rs");
    fs::write(dir.join("src/other.rs"), other).expect("write src/other.rs");
}
