//! Integration tests of `redwood-bufpool`: one binary, one module per scenario.

mod memory;
mod pool;
mod reserve;
mod stress;
