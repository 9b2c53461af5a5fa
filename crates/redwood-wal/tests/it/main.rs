//! Integration tests of `redwood-wal`: one binary, one module per scenario.

mod arbitrary;
mod crash;
mod examples;
mod log;
mod pager;
mod pager_model;
mod reuse;
mod stream;
mod support;
