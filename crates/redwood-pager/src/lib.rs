//! Redwood pager: the crate every other Redwood engine crate stands on.
//!
//! It owns how bytes reach the disk and how a database file is laid out in pages:
//! - `io`: the `Storage` (one file) and `Vfs` (a namespace of files) traits and their backends:
//!   `OsVfs`, `MemVfs`, and `SimVfs` (feature `sim`), a seeded fault-injecting simulated disk.
//!
//! What it does not do: it knows nothing of B+Trees, tables, overflow chains or the WAL format.
//! Higher layers reach pages only through the types exported here.

pub mod io;
