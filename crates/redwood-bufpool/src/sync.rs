//! The synchronization primitives of the pin/latch/load protocol: std's, or loom's under
//! `--cfg loom`, so the loom models (`loom_model.rs`) check the real protocol code. Counters
//! that are not part of the protocol (statistics, the hit stripes) stay std's.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
