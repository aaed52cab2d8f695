//! Release bundles as use cases: create one (verifying the ledger first, signing its
//! checkpoint and recording a `bundle` entry through the write path), and verify one offline.

use std::path::Path;

use crate::bundle::{self, CreateOptions, Created, VerifyOptions, VerifyReport};
use crate::error::Result;
use crate::ledger::Recorder;

/// Create the bundle described by `opts`, signed with the recorder's signer.
pub fn create(rec: &Recorder<'_>, opts: &CreateOptions) -> Result<Created> {
    bundle::create(rec, opts)
}

/// Verify the bundle in `dir`. A failed check is [`crate::Error::Verify`] naming the file.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<VerifyReport> {
    bundle::verify(dir, opts)
}
