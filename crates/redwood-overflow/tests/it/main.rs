//! Integration tests of `redwood-overflow` over the in-memory page store: values round-trip at
//! every size around page boundaries, freeing returns every page, and reads hint the pages
//! ahead (R6); malformed chains are `Corrupt` within a few page reads.

mod chain;
mod corrupt;
