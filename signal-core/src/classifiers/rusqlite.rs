//! `rusqlite::Error`: a database busy or locked by another connection.
//!
//! `SQLITE_BUSY` (another connection holds a lock this one needs, and the
//! busy timeout ran out) and `SQLITE_LOCKED` (a conflict inside one
//! connection or shared cache) raise [`ResourceBusy`]. Everything else —
//! constraint violations, syntax errors, a missing table, a full disk, a
//! corrupt file — raises nothing: retrying will not help.

use alloc::vec::Vec;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::vocab::ResourceBusy;

/// The kinds a SQLite error raises: [`ResourceBusy`] for busy and locked.
pub fn classify_rusqlite(error: &rusqlite::Error) -> Kinds {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    match error.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => ResourceBusy::ID.into(),
        _ => Kinds::NONE,
    }
}

/// [`classify_rusqlite`] as a classifier type, built in for
/// `rusqlite::Error`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RusqliteClassifier;

#[diagnostic::do_not_recommend]
impl Classify<rusqlite::Error> for RusqliteClassifier {
    fn classify(&self, error: &rusqlite::Error) -> Kinds {
        classify_rusqlite(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![ResourceBusy::ID]
    }
}

super::builtin!(rusqlite::Error => RusqliteClassifier);
