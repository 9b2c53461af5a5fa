//! Integration tests of `redwood-btree`: one binary, one module per scenario.

mod node;
mod observer;
mod range;
mod support;
mod tree;
