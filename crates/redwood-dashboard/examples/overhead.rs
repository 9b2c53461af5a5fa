//! The dashboard's overhead on the writer: YCSB workload A (50% reads, 50% updates, zipfian
//! keys with θ = 0.99, one durable transaction per operation, as `redwood-bench`'s `ycsb_a`)
//! on a file database, with and without the dashboard attached (a tree observer on the table,
//! four snapshots a second, one WebSocket client reading every message). The two setups
//! alternate, `REPS` times each, and the medians are compared. The figures are in
//! `docs/BENCHMARKS.md`.
//!
//! `cargo run --release -p redwood-dashboard --example overhead [KEYS] [OPS] [REPS] [nosync]`
//!
//! With `nosync`, commits are not fsynced (`Durability::None`): the writer's own work is then
//! a fraction of the durable run's, so any cost of the dashboard shows the more. Besides the
//! ratio of the medians it prints the median of the per-repetition ratios (each repetition runs
//! both setups back to back, so drift of the machine cancels out).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use redwood::{Database, Durability};
use redwood_dashboard::{Dashboard, DashboardHandle, TreeEvents};

const TABLE: &str = "usertable";

/// A small, fixed pseudo-random generator (xorshift64*), so both setups run the same operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipfian ranks over `n` items (θ = 0.99) by inverting the cumulative weights, scrambled so
/// the hot keys are spread over the key space (as YCSB's scrambled zipfian).
fn zipf_keys(n: u64, count: usize, rng: &mut Rng) -> Vec<u64> {
    let weights: Vec<f64> = (1..=n).map(|rank| 1.0 / (rank as f64).powf(0.99)).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut sum = 0.0;
    for weight in weights {
        sum += weight / total;
        cumulative.push(sum);
    }
    (0..count)
        .map(|_| {
            let u = rng.unit();
            let rank = cumulative.partition_point(|&c| c < u) as u64;
            rank.min(n - 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) % n
        })
        .collect()
}

fn key(index: u64) -> [u8; 24] {
    let mut key = [b'k'; 24];
    key[8..24].copy_from_slice(format!("{index:016x}").as_bytes());
    key
}

/// One timed run of `ops` (read when even, update when odd); returns the wall time.
fn run(db: &Database, ops: &[(bool, u64)]) -> Duration {
    let value = [b'u'; 150];
    let start = Instant::now();
    for &(update, index) in ops {
        if update {
            let write = db.begin_write().unwrap();
            write.open_table(TABLE).unwrap().insert(key(index), value).unwrap();
            write.commit().unwrap();
        } else {
            let read = db.begin_read().unwrap();
            assert!(read.open_table(TABLE).unwrap().get(key(index)).unwrap().is_some());
        }
    }
    start.elapsed()
}

/// Attaches the dashboard and a client that reads every message on a thread of its own.
fn attach(db: &Database, events: std::sync::Arc<TreeEvents>) -> DashboardHandle {
    let dashboard = Dashboard::new(db)
        .addr("127.0.0.1:0".parse().unwrap())
        .tree_events(events)
        .spawn()
        .unwrap();
    let addr = dashboard.local_addr();
    std::thread::spawn(move || {
        let stream = TcpStream::connect(addr).unwrap();
        let url = format!("ws://{addr}/ws");
        let Ok((mut socket, _)) = tokio_tungstenite::tungstenite::client(url, stream) else {
            return;
        };
        while socket.read().is_ok() {}
    });
    dashboard
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|arg| arg.parse().ok()).collect();
    let (keys, ops_count, reps) = (
        args.first().copied().unwrap_or(100_000),
        args.get(1).copied().unwrap_or(20_000),
        args.get(2).copied().unwrap_or(5),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let indices = zipf_keys(keys, ops_count as usize, &mut rng);
    let ops: Vec<(bool, u64)> =
        indices.into_iter().map(|index| (rng.next() % 2 == 1, index)).collect();
    let durability = if std::env::args().any(|arg| arg == "nosync") {
        Durability::None
    } else {
        Durability::Immediate
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for attached in [rep % 2 == 1, rep % 2 == 0] {
            let path = dir.path().join(format!("ycsb-{rep}-{attached}.redwood"));
            let events = TreeEvents::new(TABLE, redwood_dashboard::EVENT_CAPACITY_DEFAULT);
            let mut builder = Database::builder().durability(durability);
            if attached {
                builder = builder.tree_observer(TABLE, events.observer());
            }
            let db = builder.create(&path).unwrap();
            let write = db.begin_write().unwrap();
            let mut table = write.open_table(TABLE).unwrap();
            for index in 0..keys {
                table.insert(key(index), [b'v'; 150]).unwrap();
            }
            drop(table);
            write.commit().unwrap();
            let dashboard = attached.then(|| attach(&db, events));
            let elapsed = run(&db, &ops);
            let shown = dashboard.map(|dashboard| dashboard.stats().messages_sent).unwrap_or(0);
            println!("rep {rep} dashboard={attached}: {elapsed:.2?} ({shown} messages sent)");
            if attached { with.push(elapsed) } else { without.push(elapsed) }
        }
    }
    let mut ratios: Vec<f64> =
        with.iter().zip(&without).map(|(w, wo)| w.as_secs_f64() / wo.as_secs_f64()).collect();
    ratios.sort_by(f64::total_cmp);
    let paired = ratios[ratios.len() / 2];
    let (with, without) = (median(with), median(without));
    let ratio = with.as_secs_f64() / without.as_secs_f64();
    println!(
        "ycsb_a {keys} keys {ops_count} ops {durability:?}: without {without:.2?}, with {with:.2?}, \
         ratio of medians {ratio:.3}, median of paired ratios {paired:.3}"
    );
}
