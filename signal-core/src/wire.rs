//! Kinds across process boundaries: a server tells its callers which kinds
//! its error raised, and a caller's policy reacts to them as to its own.
//!
//! When services outgrow one process, the error a worker sees is often
//! another service's error flattened into a gRPC status or an HTTP response:
//! the server knew "my database is reconnecting" or "this token is bad"; the
//! caller sees `UNAVAILABLE` or a 500, and guesses. With this module the
//! server lists the kinds it raised, by their [wire
//! names](crate::KindId::wire_name), in one header, and the caller turns the
//! names it trusts back into kinds.
//!
//! # The format
//!
//! One header (HTTP) or metadata entry (gRPC), [`HEADER`] = `signal-kinds`,
//! whose value is the wire names of the kinds the error raised, separated by
//! commas, each name 1 to 64 of `A-Z a-z 0-9 . _ -`; spaces around names
//! are ignored:
//!
//! ```text
//! signal-kinds: NeedsDbReconnect, TimedOut
//! ```
//!
//! At most [`MAX_NAMES`] names and [`MAX_HEADER_LEN`] bytes. Values are never
//! sent: only the names of kinds, which both sides declare.
//!
//! # Trust
//!
//! A caller decodes with the set of kinds it accepts *from that remote*
//! ([`WireKinds`]): a name outside the set is kept as a name
//! ([`RemoteKinds::unknown`]) and never matched, so a remote cannot make a
//! caller believe in a kind it was not allowed to send (a forged
//! `BadCredentials` from a service that never authenticates, say). A value
//! that breaks the format — too long, too many names, a bad character, not
//! text — is a typed [`WireError`], never a panic, and nothing of it is
//! used.
//!
//! ```
//! use signal_core::wire::WireKinds;
//! use signal_core::vocab::{BadCredentials, TimedOut, TransientNetwork};
//! use signal_core::{Kind, Signal, kind};
//!
//! kind! { pub NeedsDbReconnect; }
//!
//! #[derive(Debug, Signal)]
//! enum ServerError {
//!     #[signal(leaf = "NeedsDbReconnect")]
//!     PoolGone,
//! }
//!
//! // The server tells these kinds; the caller accepts these from it.
//! let told = WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID, BadCredentials::ID]).unwrap();
//! let accepted = WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID]).unwrap();
//!
//! let header = told.encode(&ServerError::PoolGone);
//! assert_eq!(header, "NeedsDbReconnect");
//!
//! let remote = accepted.decode(&header).unwrap();
//! assert!(remote.has::<NeedsDbReconnect>());
//! assert!(!remote.has::<TransientNetwork>());
//!
//! // A name the caller does not accept from this remote is kept, not matched.
//! let forged = accepted.decode("BadCredentials").unwrap();
//! assert!(!forged.has::<BadCredentials>());
//! assert_eq!(forged.unknown(), ["BadCredentials"]);
//!
//! // Bad input is a typed error.
//! assert!(accepted.decode("Needs DbReconnect").is_err());
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::ops::ControlFlow;

use crate::kind::KindId;
use crate::signal::Signal;
use crate::trace::{FieldName, Node, Step, Walker};

/// The header (HTTP) and metadata key (gRPC) that carries the kinds.
pub const HEADER: &str = "signal-kinds";

/// The most names one header may carry.
pub const MAX_NAMES: usize = 16;

/// The longest header value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 1024;

/// The longest wire name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is a valid wire name: 1 to [`MAX_NAME_LEN`] ASCII
/// letters, digits, `.`, `_` or `-`.
pub const fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// What went wrong building a [`WireKinds`] or reading a header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Two kinds of one set share a wire name: give one of them another
    /// with `as` in [`kind!`](crate::kind!).
    DuplicateName {
        /// The name.
        name: &'static str,
        /// The two kinds.
        kinds: [KindId; 2],
    },
    /// A kind's wire name is not a valid one (a kind named with non-ASCII
    /// letters, for example): give it one with `as`.
    InvalidKindName {
        /// The name.
        name: &'static str,
    },
    /// The header value is longer than [`MAX_HEADER_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The header lists more than [`MAX_NAMES`] names.
    TooManyNames,
    /// The header value is not ASCII text.
    NotText,
    /// An entry of the header is not a valid wire name.
    InvalidName {
        /// The entry, cut to [`MAX_NAME_LEN`] bytes.
        entry: String,
    },
    /// The header was sent more than once, with different values.
    Repeated,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::DuplicateName { name, kinds } => write!(
                f,
                "kinds `{}::{}` and `{}::{}` share the wire name `{name}`: give one of them \
                 another with `as` in `kind!`",
                kinds[0].module(),
                kinds[0].name(),
                kinds[1].module(),
                kinds[1].name()
            ),
            WireError::InvalidKindName { name } => {
                write!(f, "`{name}` is not a valid wire name")
            }
            WireError::TooLong { len } => write!(
                f,
                "`{HEADER}` is {len} bytes long, more than the {MAX_HEADER_LEN} accepted"
            ),
            WireError::TooManyNames => {
                write!(f, "`{HEADER}` lists more than {MAX_NAMES} kinds")
            }
            WireError::NotText => write!(f, "`{HEADER}` is not ASCII text"),
            WireError::InvalidName { entry } => {
                write!(
                    f,
                    "`{HEADER}` lists `{entry}`, which is not a valid wire name"
                )
            }
            WireError::Repeated => write!(f, "`{HEADER}` was sent twice, with different values"),
        }
    }
}

impl std::error::Error for WireError {}

/// A set of kinds with unique wire names: the kinds a server tells, or the
/// kinds a caller accepts from one remote.
///
/// Building it checks the names once, at start-up: two kinds with the same
/// wire name are a [`WireError::DuplicateName`].
#[derive(Clone, Debug)]
pub struct WireKinds {
    kinds: Vec<KindId>,
}

impl WireKinds {
    /// The set of `kinds`; an error if two share a wire name or one has an
    /// invalid name. Listing a kind twice is allowed.
    pub fn new(kinds: impl IntoIterator<Item = KindId>) -> Result<WireKinds, WireError> {
        let mut set: Vec<KindId> = Vec::new();
        for kind in kinds {
            if !is_valid_name(kind.wire_name()) {
                return Err(WireError::InvalidKindName {
                    name: kind.wire_name(),
                });
            }
            match set.iter().find(|k| k.wire_name() == kind.wire_name()) {
                Some(&same) if same == kind => {}
                Some(&other) => {
                    return Err(WireError::DuplicateName {
                        name: kind.wire_name(),
                        kinds: [other, kind],
                    });
                }
                None => set.push(kind),
            }
        }
        Ok(WireKinds { kinds: set })
    }

    /// The kinds, in the order given.
    pub fn kinds(&self) -> &[KindId] {
        &self.kinds
    }

    /// The kind of this set with wire name `name`.
    pub fn get(&self, name: &str) -> Option<KindId> {
        self.kinds.iter().copied().find(|k| k.wire_name() == name)
    }

    /// The header value for `error`: the wire names of the kinds of this
    /// set that it raises (through every wrapper, as `has_kind` answers),
    /// in the set's order, joined by `", "`. Empty when it raises none of
    /// them. Never longer than [`MAX_HEADER_LEN`]: the set's names are
    /// checked, and at most [`MAX_NAMES`] are written.
    pub fn encode(&self, error: &(impl Signal + ?Sized)) -> String {
        let mut out = String::new();
        for kind in self
            .kinds
            .iter()
            .filter(|&&k| error.has_kind(k))
            .take(MAX_NAMES)
        {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(kind.wire_name());
        }
        out
    }

    /// Reads a header value: the kinds of this set it names, and the other
    /// names as names. An error, and nothing used, if the value breaks the
    /// [format](self#the-format).
    pub fn decode(&self, value: &str) -> Result<RemoteKinds, WireError> {
        self.decode_bytes(value.as_bytes())
    }

    /// [`decode`](Self::decode) from raw header bytes.
    pub fn decode_bytes(&self, value: &[u8]) -> Result<RemoteKinds, WireError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(WireError::TooLong { len: value.len() });
        }
        if !value.is_ascii() {
            return Err(WireError::NotText);
        }
        let text = core::str::from_utf8(value).map_err(|_| WireError::NotText)?;
        let mut remote = RemoteKinds::default();
        if text.trim().is_empty() {
            return Ok(remote);
        }
        for (i, entry) in text.split(',').enumerate() {
            if i == MAX_NAMES {
                return Err(WireError::TooManyNames);
            }
            let name = entry.trim_matches(|c| c == ' ' || c == '\t');
            if !is_valid_name(name) {
                let cut = name.len().min(MAX_NAME_LEN);
                return Err(WireError::InvalidName {
                    entry: name[..cut].to_string(),
                });
            }
            match self.get(name) {
                Some(kind) if !remote.kinds.contains(&kind) => remote.kinds.push(kind),
                Some(_) => {}
                None if !remote.unknown.iter().any(|n| n == name) => {
                    remote.unknown.push(name.to_string());
                }
                None => {}
            }
        }
        Ok(remote)
    }

    /// [`decode_bytes`](Self::decode_bytes) of every value of a repeated
    /// header: the same value repeated is that value; different values are
    /// [`WireError::Repeated`]. No value is an empty set.
    pub fn decode_all<'v>(
        &self,
        values: impl IntoIterator<Item = &'v [u8]>,
    ) -> Result<RemoteKinds, WireError> {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return Ok(RemoteKinds::default());
        };
        if values.any(|other| other != first) {
            return Err(WireError::Repeated);
        }
        self.decode_bytes(first)
    }
}

/// The kinds a remote said its error raised, as far as this side trusts it:
/// the kinds of the accepted set it named, and the other names it sent.
///
/// Implements [`Signal`]: `has::<K>()` is true when one of the accepted kinds
/// is `K` or implies it (a remote `TransientNetwork` answers for your own
/// `Retryable` that includes it). The unknown names never match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteKinds {
    kinds: Vec<KindId>,
    unknown: Vec<String>,
}

impl RemoteKinds {
    /// The accepted kinds the remote named, in its order.
    pub fn kinds(&self) -> &[KindId] {
        &self.kinds
    }

    /// The names the remote sent that are not in the accepted set: kept for
    /// logs, never matched.
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// Whether the remote named nothing this side accepts.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

impl Signal for RemoteKinds {
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walker.enter(Step::Node(node("RemoteKinds", None)), |walker| {
            for &kind in &self.kinds {
                walker.leaf_via(Step::Classifier("wire"), kind)?;
            }
            ControlFlow::Continue(())
        })
    }
}

pub(crate) fn node(ty: &'static str, field: Option<&'static str>) -> Node {
    Node {
        ty,
        variant: None,
        field: field.map(FieldName::Named),
    }
}

impl fmt::Display for RemoteKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the remote raised ")?;
        if self.kinds.is_empty() && self.unknown.is_empty() {
            return f.write_str("no kind");
        }
        let names = self
            .kinds
            .iter()
            .map(|k| k.wire_name())
            .chain(self.unknown.iter().map(String::as_str));
        for (i, name) in names.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteKinds {}

#[cfg(feature = "http")]
mod http_headers {
    use super::{HEADER, RemoteKinds, WireError, WireKinds};
    use crate::signal::Signal;

    impl WireKinds {
        /// Sets the [`HEADER`] of an HTTP response (or request) to the kinds
        /// of this set that `error` raises; removes it when it raises none.
        pub fn insert_header(&self, headers: &mut http::HeaderMap, error: &(impl Signal + ?Sized)) {
            let value = self.encode(error);
            if value.is_empty() {
                headers.remove(HEADER);
                return;
            }
            // The names are checked ASCII, so the value is always valid.
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(HEADER, value);
            }
        }

        /// Reads the [`HEADER`] of an HTTP response: an empty set when it is
        /// missing.
        pub fn decode_header(&self, headers: &http::HeaderMap) -> Result<RemoteKinds, WireError> {
            self.decode_all(headers.get_all(HEADER).iter().map(|v| v.as_bytes()))
        }
    }
}

#[cfg(feature = "tonic")]
pub mod tonic;
