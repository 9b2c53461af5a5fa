//! Integration tests of the `redwood` facade: one binary, one module per scenario.

mod api;
mod auto_checkpoint;
mod backup;
mod compact;
mod concurrent_reads;
mod crash;
mod diagnostics;
mod examples;
mod integrity;
mod log_identity;
mod long_keys;
mod model;
mod multimap;
mod observer;
mod pitr;
mod read_only;
mod recover;
mod shape;
mod typed;

/// A scanned entry as owned bytes, to compare with a model.
pub(crate) fn owned(
    (key, value): (redwood::AccessGuard<'_>, redwood::AccessGuard<'_>),
) -> (Vec<u8>, Vec<u8>) {
    (key.to_vec(), value.to_vec())
}
