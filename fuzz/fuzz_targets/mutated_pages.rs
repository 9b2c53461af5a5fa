//! Fuzz target: structure-aware damage (issue 15). A valid database's B+Tree node and overflow
//! chain pages are mutated as the input says and re-sealed, so the damage passes the checksums;
//! then reads, writes, removes, scans, table deletions, commits, checkpoints and the integrity
//! check run on it. Only typed errors may come back: libFuzzer reports any panic, abort (an
//! allocation too large), or a run past its `-timeout` (a hang). The harness, with the input
//! layout, is `redwood_crash::mutate`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    redwood_crash::mutate::run(input);
});
