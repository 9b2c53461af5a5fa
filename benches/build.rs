//! Declares the `redwood_rocksdb` cfg, which `cargo xtask bench --rocksdb` sets to add RocksDB.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(redwood_rocksdb)");
}
