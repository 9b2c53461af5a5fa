//! `SimVfs`: the deterministic fault-injecting simulated disk (being written).
