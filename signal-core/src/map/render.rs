//! Rendering a signal map: accessors, Markdown, Mermaid, and paths as text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::*;

impl SignalMap {
    /// The root type's name.
    pub fn root(&self) -> &'static str {
        self.root
    }

    /// The derived types reachable from the root through forwarded fields,
    /// in discovery order.
    pub fn types(&self) -> &[&'static str] {
        &self.types
    }

    /// One section per kind raised by a reachable leaf (implied kinds
    /// included), in the order first seen.
    ///
    /// ```
    /// use signal_core::{Kind, Signal, kind};
    ///
    /// kind! {
    ///     pub Retryable;
    ///     pub DatabaseBusy: Retryable;
    ///     pub NeedsReconnect;
    /// }
    ///
    /// #[derive(Signal)]
    /// enum Storage {
    ///     #[signal(leaf = "DatabaseBusy")]
    ///     Busy,
    ///     #[signal(leaf = "NeedsReconnect")]
    ///     PoolGone,
    /// }
    ///
    /// let map = signal_core::map::<Storage>();
    /// let kinds: Vec<&str> = map.sections().iter().map(|s| s.kind.name()).collect();
    /// assert_eq!(kinds, ["DatabaseBusy", "Retryable", "NeedsReconnect"]);
    /// assert_eq!(map.paths(Retryable::ID).len(), 1);
    /// ```
    pub fn sections(&self) -> &[KindSection] {
        &self.sections
    }

    /// The paths for `kind`; empty if the root cannot carry it.
    pub fn paths(&self, kind: KindId) -> &[StaticPath] {
        self.sections
            .iter()
            .find(|section| section.kind == kind)
            .map_or(&[], |section| &section.paths)
    }

    /// Every skipped field of the reachable types, with its reason.
    ///
    /// ```
    /// use signal_core::{Signal, kind};
    ///
    /// kind! { pub Reconnect; }
    ///
    /// #[derive(Signal)]
    /// enum Storage {
    ///     #[signal(leaf = "Reconnect")]
    ///     PoolGone,
    /// }
    ///
    /// #[derive(Signal)]
    /// struct Request {
    ///     #[signal(skip = "the client's pool is not ours to rebuild")]
    ///     client: Option<Storage>,
    /// }
    ///
    /// let map = signal_core::map::<Request>();
    /// assert!(map.paths(Reconnect::ID).is_empty());
    /// let skipped = &map.skipped()[0];
    /// assert_eq!(skipped.at.to_string(), "Request.client");
    /// assert_eq!(skipped.reason, "the client's pool is not ours to rebuild");
    /// # use signal_core::Kind;
    /// ```
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The map as Markdown: a section per kind listing every path, the
    /// fields held back for it by filters, then the skipped fields. Commit
    /// it with [`assert_map_snapshot!`](crate::assert_map_snapshot!) and
    /// include it in your docs with `#[doc = include_str!(...)]`.
    ///
    /// ```
    /// use signal_core::{Signal, kind};
    ///
    /// kind! {
    ///     pub Retryable;
    ///     pub DatabaseBusy: Retryable;
    /// }
    ///
    /// #[derive(Signal)]
    /// enum Storage {
    ///     #[signal(leaf = "DatabaseBusy")]
    ///     Busy,
    /// }
    ///
    /// #[derive(Signal)]
    /// enum Worker {
    ///     Storage(#[signal(forward)] Storage),
    /// }
    ///
    /// let markdown = signal_core::map::<Worker>().to_markdown();
    /// assert!(markdown.starts_with("# Signal map of `Worker`"));
    /// assert!(markdown.contains("## Retryable"));
    /// assert!(markdown.contains("## DatabaseBusy"));
    /// assert!(markdown.contains("- `Worker::Storage → Storage::Busy` (DatabaseBusy ⇒ Retryable)"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "# Signal map of `{}`", self.root)?;
        writeln!(out)?;
        writeln!(
            out,
            "Every static path from `{}` to a leaf, per kind, shortest first. Each type is \
             expanded once: a path ending in `↑` reaches a type whose onward paths are listed \
             in the same section (this is how recursive types appear). `[_]` is any element of a sequence or \
             map, `.N` a tuple element.",
            self.root
        )?;
        for section in &self.sections {
            writeln!(out)?;
            writeln!(out, "## {}", section.kind.name())?;
            writeln!(out)?;
            let doc = section
                .kind
                .doc()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            if !doc.trim().is_empty() {
                writeln!(out, "{}", doc.trim())?;
                writeln!(out)?;
            }
            let includes = section.kind.direct_inclusions();
            if !includes.is_empty() {
                let names: Vec<&str> = includes.iter().map(|k| k.name()).collect();
                writeln!(
                    out,
                    "`{}` includes {}.",
                    section.kind.name(),
                    names.join(", ")
                )?;
                writeln!(out)?;
            }
            for path in &section.paths {
                writeln!(out, "- {}", path.display(true))?;
            }
            if !section.held_back.is_empty() {
                writeln!(out)?;
                writeln!(out, "Held back by filters:")?;
                writeln!(out)?;
                for held in &section.held_back {
                    writeln!(out, "- `{}` — `{}`", held.at, held.filter)?;
                }
            }
        }
        if !self.skipped.is_empty() {
            writeln!(out)?;
            writeln!(out, "## Skipped fields")?;
            writeln!(out)?;
            for skipped in &self.skipped {
                writeln!(
                    out,
                    "- `{}` (`{}`): {}",
                    skipped.at, skipped.ty, skipped.reason
                )?;
            }
        }
        Ok(())
    }

    /// The map as a Mermaid flowchart: types and kinds as nodes, forwarded
    /// fields as arrows, skipped fields as dotted arrows labelled with the
    /// field.
    ///
    /// ```
    /// use signal_core::{Signal, kind};
    ///
    /// kind! { pub Reconnect; }
    ///
    /// #[derive(Signal)]
    /// enum Storage {
    ///     #[signal(leaf = "Reconnect")]
    ///     PoolGone,
    /// }
    ///
    /// #[derive(Signal)]
    /// enum Worker {
    ///     Storage(#[signal(forward)] Storage),
    ///     Audit(#[signal(skip = "best effort")] Storage),
    /// }
    ///
    /// let chart = signal_core::map::<Worker>().to_mermaid();
    /// assert!(chart.starts_with("graph LR\n"));
    /// assert!(chart.contains("-->")); // Worker::Storage forwards
    /// assert!(chart.contains("-.->")); // Worker::Audit is skipped
    /// assert!(chart.contains("==>")); // Storage::PoolGone raises Reconnect
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("graph LR\n");
        let id = |name: &str| -> String {
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        };
        for (from, to, label, style) in &self.edges {
            let (arrow, to_node) = match style {
                EdgeStyle::Forward => ("-->", alloc::format!("{}[\"{}\"]", id(to), to)),
                EdgeStyle::Skip => ("-.->", alloc::format!("{}[\"{}\"]", id(to), to)),
                EdgeStyle::Leaf => ("==>", alloc::format!("kind_{}((\"{}\"))", id(to), to)),
            };
            let label = match style {
                EdgeStyle::Skip => alloc::format!("{label} (skipped)"),
                _ => label.clone(),
            };
            let _ = writeln!(
                out,
                "    {}[\"{}\"] {arrow}|\"{}\"| {to_node}",
                id(from),
                from,
                label
            );
        }
        out
    }
}

impl StaticPath {
    /// Renders the path (the leaf shows its implication chain to the kind);
    /// with `code`, the hops are in backticks. `Display` renders without.
    pub fn display(&self, code: bool) -> String {
        self.render(Some(self.kind), code)
    }

    /// The leaf kind at the end of the path, if it ends at a leaf.
    pub fn leaf(&self) -> Option<KindId> {
        self.steps.iter().rev().find_map(|step| match step {
            StaticStep::Leaf(kind) => Some(*kind),
            _ => None,
        })
    }

    fn render(&self, kind: Option<KindId>, code: bool) -> String {
        let mut out = String::new();
        let tick = if code { "`" } else { "" };
        out.push_str(tick);
        let mut open = true;
        let mut close = |out: &mut String| {
            if core::mem::take(&mut open) {
                out.push_str(tick);
            }
        };
        let mut after_source = false;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                StaticStep::Node(node) => {
                    if after_source {
                        out.push_str(" ⇢ ");
                    } else if i > 0 {
                        out.push_str(" → ");
                    }
                    let _ = write!(out, "{node}");
                }
                StaticStep::Source => {}
                StaticStep::Classifier(name) => {
                    let arrow = if after_source { "⇢" } else { "→" };
                    let _ = write!(out, " {arrow} {name}");
                }
                StaticStep::Text(pattern) => {
                    let _ = write!(out, " ⇢ text {pattern:?}");
                }
                StaticStep::When(predicate) => {
                    let _ = write!(out, " if {predicate}");
                }
                StaticStep::AnyIndex => out.push_str("[_]"),
                StaticStep::Tuple(index) => {
                    let _ = write!(out, ".{index}");
                }
                StaticStep::Leaf(leaf) => {
                    close(&mut out);
                    let chain = kind
                        .and_then(|kind| leaf.chain_to(kind))
                        .unwrap_or_else(|| alloc::vec![*leaf]);
                    let names: Vec<&str> = chain.iter().map(|k| k.name()).collect();
                    let _ = write!(out, " ({})", names.join(" ⇒ "));
                }
                StaticStep::Seen(name) => {
                    let _ = write!(out, " → {name}");
                    close(&mut out);
                    out.push_str(" ↑");
                }
                StaticStep::Dynamic(name) => {
                    let _ = write!(out, " → {name}");
                    close(&mut out);
                    out.push_str(" (dynamic: known at run time)");
                }
            }
            after_source = matches!(step, StaticStep::Source);
        }
        close(&mut out);
        out
    }
}

impl fmt::Display for StaticPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Some(self.kind), false))
    }
}
