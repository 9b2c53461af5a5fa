//! Integration tests of `redwood-pager`: one binary, one module per scenario.

mod conformance;
mod page_file;
mod support;
