//! Integration tests of `redwood-pager`: one binary, one module per scenario.

mod arbitrary;
mod conformance;
mod examples;
mod model;
mod page_file;
mod sim;
mod sim_faults;
mod support;
