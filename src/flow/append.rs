//! Appending entries: drafts through the write path, with record-time attribution for a
//! single deploy or rollback ([`super::attribution`]).

use crate::error::{Error, Result};
use crate::flow::attribution::{self, Attribution};
use crate::ledger::body::Kind;
use crate::ledger::{Draft, Recorded, Recorder};
use crate::trust::{self, Policy};

/// Append `drafts` as one batch. Under the append lock: a new merge commit is checked against
/// the ones recorded, a single deploy is attributed (`attr.repo`), and the links rollbacks and
/// incidents make to earlier deploys are checked and completed ([`attribution::link`];
/// `attr.undoes` and `attr.caused_by` apply to a single rollback or incident).
pub fn append(rec: &Recorder<'_>, drafts: Vec<Draft>, attr: &Attribution) -> Result<Recorded> {
    let single = match drafts.as_slice() {
        [d] => Some(d.kind),
        _ => None,
    };
    if attr.repo.is_some() && single != Some(Kind::Deploy) {
        return Err(Error::invalid(
            "repo",
            "applies to a single deploy entry only",
        ));
    }
    if attr.undoes.is_some() && single != Some(Kind::Rollback) {
        return Err(Error::invalid(
            "undoes",
            "applies to a single rollback entry only",
        ));
    }
    if attr.caused_by.is_some() && single != Some(Kind::Incident) {
        return Err(Error::invalid(
            "caused-by",
            "applies to a single incident entry only",
        ));
    }
    let links = drafts
        .iter()
        .any(|d| matches!(d.kind, Kind::Merge | Kind::Rollback | Kind::Incident));
    if !links && attr.repo.is_none() {
        return rec.record(drafts);
    }
    rec.record_with(|s| {
        let policy = Policy::from_config(s.config())?;
        let mut facts = trust::cache::load(s.ledger(), &policy)?.0.facts;
        let mut drafts = drafts;
        if drafts.iter().any(|d| d.kind == Kind::Merge) {
            // The first record of a merge commit fixes its attribution.
            attribution::check_new_merges(&mut facts, &drafts)?;
        }
        if let (Some(d), true) = (drafts.first_mut(), attr.repo.is_some()) {
            attribution::attribute_deploy(&mut facts, &mut d.body, attr)?;
        }
        attribution::link(&facts, &mut drafts, attr, s.tail().next_seq)?;
        Ok((drafts, ()))
    })
    .map(|(r, ())| r)
}
