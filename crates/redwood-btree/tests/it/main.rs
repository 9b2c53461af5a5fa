//! Integration tests of `redwood-btree`: one binary, one module per scenario.

mod node;
mod store;
mod tree;
