//! Integration tests of `redwood-pager`: one binary, one module per scenario.
