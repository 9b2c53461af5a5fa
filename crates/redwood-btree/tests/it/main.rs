//! Integration tests of `redwood-btree`: one binary, one module per scenario.

mod build;
mod bulk;
mod corrupt;
mod craft;
mod entry;
mod long_keys;
mod node;
mod observer;
mod range;
mod support;
mod tree;
