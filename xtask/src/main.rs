//! `cargo xtask`: Redwood's project automation (placeholder until the ci subcommand lands).

fn main() {
    eprintln!("xtask: no subcommands yet");
    std::process::exit(2);
}
