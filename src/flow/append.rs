//! Appending entries: drafts through the write path, with record-time attribution for a
//! single deploy or rollback ([`super::attribution`]).

use crate::error::{Error, Result};
use crate::flow::attribution::{self, Attribution};
use crate::ledger::body::Kind;
use crate::ledger::{Draft, Recorded, Recorder};
use crate::trust::{self, Policy};

/// Append `drafts` as one batch. A single deploy or rollback is attributed under the append
/// lock (`attr.repo` applies to a deploy only, `attr.undoes` to a rollback only); a batch is
/// written as given.
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
    if drafts.iter().any(|d| d.kind == Kind::Merge) {
        // The first record of a merge commit fixes its attribution: checked under the lock.
        return rec
            .record_with(|s| {
                let policy = Policy::from_config(s.config())?;
                let mut facts = trust::cache::load(s.ledger(), &policy)?.0.facts;
                attribution::check_new_merges(&mut facts, &drafts)?;
                Ok((drafts, ()))
            })
            .map(|(r, ())| r);
    }
    if !matches!(single, Some(Kind::Deploy | Kind::Rollback)) {
        return rec.record(drafts);
    }
    rec.record_with(|s| {
        let mut drafts = drafts;
        if let Some(d) = drafts.first_mut() {
            attribute(s, d, attr)?;
        }
        Ok((drafts, ()))
    })
    .map(|(r, ())| r)
}

fn attribute(s: &crate::ledger::Session<'_>, d: &mut Draft, attr: &Attribution) -> Result<()> {
    // The history is only read when the attribution needs it.
    let needs_history = d.kind == Kind::Rollback || attr.repo.is_some();
    let mut facts = if needs_history {
        let policy = Policy::from_config(s.config())?;
        trust::cache::load(s.ledger(), &policy)?.0.facts
    } else {
        trust::Facts::default()
    };
    match d.kind {
        Kind::Deploy => attribution::attribute_deploy(&mut facts, &mut d.body, attr),
        Kind::Rollback => {
            attribution::attribute_rollback(&facts, &mut d.body, attr, s.tail().next_seq)
        }
        _ => Ok(()),
    }
}
