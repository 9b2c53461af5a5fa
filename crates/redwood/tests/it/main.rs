//! Integration tests of the `redwood` facade: one binary, one module per scenario.

mod api;
mod crash;
mod diagnostics;
mod examples;
mod integrity;
mod log_identity;
mod model;
mod read_only;
mod recover;
