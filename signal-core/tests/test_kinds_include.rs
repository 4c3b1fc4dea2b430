//! Open kinds: a user kind that includes library kinds answers for them, in
//! `has`, `trace`, `KindId::implies`, maps and classifiers; each positive
//! case next to its negative twin.

use std::io;

use signal_core::vocab::{
    BadCredentials, ConnectionReset, ResourceBusy, TimedOut, TransientNetwork,
};
use signal_core::{Kind, Kinds, Signal, kind, kinds, map};

kind! {
    /// The same call may succeed later.
    pub Retryable: includes(TransientNetwork, ResourceBusy);
    /// Worth waking someone up.
    pub Page;
    /// A broader kind of ours over an including kind.
    pub Recoverable: includes(SoftFailure);
    /// Includes a library kind.
    pub SoftFailure: includes(TimedOut);
    /// Includes a kind that includes others: transitive.
    pub Degraded: includes(Retryable);
    /// A leaf of this crate that implies a kind another includes.
    pub LinkFlap: TransientNetwork;
}

#[derive(Debug, Signal)]
pub enum ClientError {
    Io(#[signal(forward)] io::Error),
    #[signal(leaf = "LinkFlap")]
    Flap,
    #[signal(leaf = "BadCredentials")]
    Unauthorized,
    #[signal(leaf = "SoftFailure")]
    Soft,
}

#[derive(Debug, Signal)]
pub enum WorkerError {
    Client(#[signal(forward)] ClientError),
}

fn reset() -> WorkerError {
    WorkerError::Client(ClientError::Io(io::Error::from(
        io::ErrorKind::ConnectionReset,
    )))
}

#[test]
fn test_static_relation() {
    assert!(TransientNetwork::implies::<Retryable>());
    assert!(ConnectionReset::implies::<Retryable>());
    assert!(ResourceBusy::implies::<Retryable>());
    assert!(LinkFlap::implies::<Retryable>());
    // Twins: inclusion is one-way, and does not leak to unrelated kinds.
    assert!(!Retryable::implies::<TransientNetwork>());
    assert!(!BadCredentials::implies::<Retryable>());
    assert!(!TimedOut::implies::<Retryable>());
    assert!(!TransientNetwork::implies::<Page>());
}

#[test]
fn test_dynamic_relation_matches_static() {
    let all = [
        TransientNetwork::ID,
        ConnectionReset::ID,
        ResourceBusy::ID,
        TimedOut::ID,
        BadCredentials::ID,
        Retryable::ID,
        Page::ID,
        Recoverable::ID,
        SoftFailure::ID,
        Degraded::ID,
        LinkFlap::ID,
    ];
    fn fixed<K: Kind>(query: signal_core::KindId) -> bool {
        macro_rules! by_id {
            ($($k:ty),*) => {
                $(if query == <$k>::ID { return K::implies::<$k>(); })*
            };
        }
        by_id!(
            TransientNetwork,
            ConnectionReset,
            ResourceBusy,
            TimedOut,
            BadCredentials,
            Retryable,
            Page,
            Recoverable,
            SoftFailure,
            Degraded,
            LinkFlap
        );
        unreachable!()
    }
    macro_rules! rows {
        ($($k:ty),*) => {
            $(for &query in &all {
                assert_eq!(
                    <$k>::ID.implies(query),
                    fixed::<$k>(query),
                    "{} ⇒ {}",
                    <$k>::NAME,
                    query
                );
            })*
        };
    }
    rows!(
        TransientNetwork,
        ConnectionReset,
        ResourceBusy,
        TimedOut,
        BadCredentials,
        Retryable,
        Page,
        Recoverable,
        SoftFailure,
        Degraded,
        LinkFlap
    );
}

#[test]
fn test_transitive_and_combined() {
    // Degraded includes Retryable, which includes TransientNetwork.
    assert!(ConnectionReset::implies::<Degraded>());
    assert!(ConnectionReset::ID.implies(Degraded::ID));
    assert!(!BadCredentials::implies::<Degraded>());
    // Recoverable includes SoftFailure, which includes TimedOut.
    assert!(SoftFailure::implies::<Recoverable>());
    assert!(TimedOut::implies::<SoftFailure>());
    assert!(TimedOut::implies::<Recoverable>());
    assert!(!Recoverable::implies::<SoftFailure>());
    assert_eq!(
        ConnectionReset::ID.chain_to(Degraded::ID).unwrap(),
        [
            ConnectionReset::ID,
            TransientNetwork::ID,
            Retryable::ID,
            Degraded::ID
        ]
    );
    assert!(BadCredentials::ID.chain_to(Degraded::ID).is_none());
    assert_eq!(
        Retryable::ID.direct_inclusions(),
        [TransientNetwork::ID, ResourceBusy::ID]
    );
    assert!(Page::ID.direct_inclusions().is_empty());
}

#[test]
fn test_has_through_wrappers() {
    let error = reset();
    assert!(error.has::<Retryable>());
    assert!(error.has_kind(Retryable::ID));
    assert!(error.has::<Degraded>());
    assert!(!error.has::<Page>());
    let unauthorized = WorkerError::Client(ClientError::Unauthorized);
    assert!(!unauthorized.has::<Retryable>());
    assert!(!unauthorized.has_kind(Retryable::ID));
    let flap = WorkerError::Client(ClientError::Flap);
    assert!(flap.has::<Retryable>());
    let denied = WorkerError::Client(ClientError::Io(io::Error::from(
        io::ErrorKind::PermissionDenied,
    )));
    assert!(!denied.has::<Retryable>());
}

#[test]
fn test_trace_names_the_inclusion() {
    assert_eq!(
        reset().trace::<Retryable>().unwrap().to_string(),
        "WorkerError::Client → ClientError::Io → IoClassifier \
         (ConnectionReset ⇒ TransientNetwork ⇒ Retryable)"
    );
    assert!(
        WorkerError::Client(ClientError::Unauthorized)
            .trace::<Retryable>()
            .is_none()
    );
}

#[test]
fn test_classifier_kinds_answer_for_the_including_kind() {
    let busy: Kinds = ResourceBusy::ID.into();
    assert!(busy.implies(Retryable::ID));
    let several = kinds![BadCredentials, TimedOut];
    assert!(!several.implies(Retryable::ID));
    assert!(several.implies(SoftFailure::ID));
}

#[test]
fn test_map_shows_included_kinds() {
    let with = signal_core::map_with::<WorkerError>(&[Retryable::ID]);
    let paths: Vec<String> = with
        .paths(Retryable::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.contains("ClientError::Flap (LinkFlap ⇒ TransientNetwork ⇒ Retryable)")),
        "{paths:#?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains("Unauthorized")),
        "{paths:#?}"
    );
    let markdown = with.to_markdown();
    assert!(
        markdown.contains("includes TransientNetwork, ResourceBusy"),
        "{markdown}"
    );
    // Without asking, a map lists only the kinds its leaves raise.
    assert!(map::<WorkerError>().paths(Retryable::ID).is_empty());
    assert!(!map::<WorkerError>().paths(TransientNetwork::ID).is_empty());
}

mod spellings {
    //! Odd but valid spellings of `includes`: trailing comma, paths, a wire
    //! name, visibility, several attributes.
    signal_core::kind! {
        #[doc = "Trailing comma and full paths."]
        /// Second doc line.
        pub Spaced : includes ( signal_core::vocab::TimedOut , signal_core::vocab::ResourceBusy , );
        pub(crate) Renamed as "acme.renamed": includes(super::Retryable);
        Private: includes(Spaced);
    }

    #[test]
    fn test_spellings() {
        use signal_core::Kind;
        use signal_core::vocab::{ConnectionReset, ResourceBusy, TimedOut};
        assert!(TimedOut::implies::<Spaced>());
        assert!(ResourceBusy::implies::<Private>());
        assert!(ConnectionReset::implies::<Renamed>());
        assert!(!ConnectionReset::implies::<Spaced>());
        assert_eq!(Renamed::ID.wire_name(), "acme.renamed");
        assert_eq!(Spaced::ID.wire_name(), "Spaced");
        assert_eq!(
            Spaced::ID.doc(),
            "Trailing comma and full paths.\n Second doc line.\n"
        );
    }
}
