//! Integration tests of `redwood-bufpool`: one binary, one module per scenario.

mod pool;
mod stress;
