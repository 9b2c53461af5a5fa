//! The server alone, with plain WebSocket and HTTP clients: snapshots arrive at the configured
//! rate and carry the database's figures; with a token configured (mandatory off loopback)
//! every request without it gets 401; a cross-origin upgrade gets 403; clients past the bound
//! get 503; a client that never reads neither blocks the writer nor the other clients,
//! while the events it cannot take are dropped and counted; and the visualized table's shape
//! arrives as the database has it, again after a commit that changes it (not more often), to
//! a new client at once, as "does not exist yet" for a missing table and as text for a damaged
//! one, the socket staying open in both cases.

use std::time::{Duration, Instant};

use redwood::{Database, ShapeLimits};
use redwood_dashboard::{Dashboard, Error, TreeEvents};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{PATIENCE, Socket, TABLE, connect, fill, http_get, next_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_arrive_at_the_configured_rate() {
    let db = Database::in_memory().unwrap();
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(50));
    let dashboard = dashboard.spawn().unwrap();
    let mut socket = connect(dashboard.local_addr(), "", None).await.unwrap();
    let hello = next_of(&mut socket, "hello").await;
    assert_eq!(hello["snapshot_interval_ms"], 50);

    // 20 snapshots a second are configured; over a second, at least 5 must come (a loose
    // bound: a loaded machine may skip ticks, never add them).
    let first = next_of(&mut socket, "snapshot").await;
    let window = Instant::now();
    let mut received = 0;
    let mut last_seq = first["seq"].as_u64().unwrap();
    while window.elapsed() < Duration::from_secs(1) {
        let snapshot = next_of(&mut socket, "snapshot").await;
        let seq = snapshot["seq"].as_u64().unwrap();
        assert!(seq > last_seq, "snapshots come in order");
        last_seq = seq;
        received += 1;
    }
    assert!(received >= 5, "only {received} snapshots in a second at a 50 ms interval");
    assert!(dashboard.stats().snapshots >= received);

    // The figures are the database's: a commit shows in a later snapshot.
    fill(&db, 0, 10);
    let commits = db.diagnostics().pager.commits;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let snapshot = next_of(&mut socket, "snapshot").await;
        if snapshot["diagnostics"]["pager"]["commits"].as_u64() == Some(commits) {
            break;
        }
        assert!(Instant::now() < deadline, "the commit never showed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_every_request_gets_401() {
    let db = Database::in_memory().unwrap();
    let open = Dashboard::new(&db).addr("0.0.0.0:0".parse().unwrap()).spawn();
    assert!(matches!(open, Err(Error::TokenRequired { .. })), "a non-loopback bind needs a token");

    let dashboard =
        Dashboard::new(&db).addr("0.0.0.0:0".parse().unwrap()).token("s3cret-1").spawn().unwrap();
    let addr = format!("127.0.0.1:{}", dashboard.local_addr().port()).parse().unwrap();
    for path in ["/", "/snapshot.json", "/ws", "/anything"] {
        assert_eq!(http_get(addr, path, "").0, 401, "{path} without a token");
        assert_eq!(
            http_get(addr, &format!("{path}?token=wrong"), "").0,
            401,
            "{path}, wrong token"
        );
    }
    let (status, page) = http_get(addr, "/?token=s3cret-1", "");
    assert_eq!(status, 200);
    assert!(page.contains("<script>") && !page.contains("/*APP_JS*/"), "the script is inlined");
    assert_eq!(http_get(addr, "/", "Authorization: Bearer s3cret-1\r\n").0, 200);
    assert_eq!(connect(addr, "", None).await.err(), Some(401));
    assert_eq!(connect(addr, "?token=nope", None).await.err(), Some(401));
    let mut socket = connect(addr, "?token=s3cret-1", None).await.unwrap();
    next_of(&mut socket, "snapshot").await;
    assert!(dashboard.url().ends_with("/?token=s3cret-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_upgrade_is_refused_and_clients_are_bounded() {
    let db = Database::in_memory().unwrap();
    let dashboard = Dashboard::new(&db).addr("127.0.0.1:0".parse().unwrap()).clients_max(1);
    let dashboard = dashboard.spawn().unwrap();
    let addr = dashboard.local_addr();
    assert_eq!(connect(addr, "", Some("http://evil.example")).await.err(), Some(403));
    assert_eq!(connect(addr, "", Some("null")).await.err(), Some(403));
    let own = format!("http://{addr}");
    let mut socket = connect(addr, "", Some(&own)).await.expect("the page's own origin is fine");
    next_of(&mut socket, "hello").await;
    // One client is the bound: a second is refused while the first is open.
    assert_eq!(connect(addr, "", None).await.err(), Some(503));
    assert_eq!(dashboard.stats().clients_refused, 1);
    drop(socket);
    let deadline = Instant::now() + PATIENCE;
    while dashboard.stats().clients_open > 0 {
        assert!(Instant::now() < deadline, "the closed client's slot was never given back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    connect(addr, "", None).await.expect("a slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_hold_up_the_writer() {
    // A small channel and a short per-message bound, so many splits overflow both.
    let events = TreeEvents::new(TABLE, 64);
    let db = Database::builder().tree_observer(TABLE, events.observer()).in_memory().unwrap();
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(100))
        .events_per_message_max(16)
        .tree_events(events);
    let dashboard = dashboard.spawn().unwrap();
    let addr = dashboard.local_addr();

    // The stuck client: a tiny receive buffer, a completed handshake, and never a read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let request = format!("ws://{addr}/ws").into_client_request().unwrap();
    let (_stuck, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();

    // The writer: thousands of splits in a few commits, on a thread of its own. It finishes
    // although one client takes nothing; if the observer waited for the dashboard, it would not.
    let writer = std::thread::spawn(move || {
        for batch in 0..10 {
            fill(&db, batch * 20_000, 20_000);
        }
        db
    });
    let db = tokio::task::spawn_blocking(move || writer.join().unwrap()).await.unwrap();
    let stats = dashboard.stats();
    assert!(stats.events.observed > 1000, "{stats:?}");
    assert!(stats.events_dropped() > 0, "many splits, a small channel, nothing dropped: {stats:?}");

    // The others are still served: a new client gets fresh snapshots with the final figures.
    let mut reader = connect(addr, "", None).await.unwrap();
    let commits = db.diagnostics().pager.commits;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let snapshot = next_of(&mut reader, "snapshot").await;
        if snapshot["diagnostics"]["pager"]["commits"].as_u64() == Some(commits) {
            assert!(snapshot["events"]["dropped"].as_u64() > Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "the reading client never saw the last commit");
    }
}

/// The next `shape` message whose status is `status` (others skipped).
async fn next_shape(socket: &mut Socket, status: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shape = next_of(socket, "shape").await;
        if shape["status"] == status {
            return shape;
        }
        assert!(Instant::now() < deadline, "no {status} shape within {PATIENCE:?}: {shape}");
    }
}

/// Checks a shape message's levels against the database's own walk, node by node.
fn assert_same_shape(message: &Value, db: &Database, limits: ShapeLimits) {
    let expected = db.begin_read().unwrap().open_table(TABLE).unwrap().shape(limits).unwrap();
    let shape = &message["shape"];
    assert_eq!(shape["root"].as_u64(), Some(expected.root), "{message}");
    assert_eq!(shape["height"].as_u64(), Some(expected.height as u64));
    assert_eq!(shape["entries"].as_u64(), Some(expected.entries));
    let levels = shape["levels"].as_array().unwrap();
    assert_eq!(levels.len(), expected.levels.len());
    for (level, want) in levels.iter().zip(&expected.levels) {
        assert_eq!(level["depth"].as_u64(), Some(want.depth as u64));
        assert_eq!(level["truncated"].as_bool(), Some(want.truncated));
        let pages: Vec<u64> = level["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| node["page_id"].as_u64().unwrap())
            .collect();
        let parents: Vec<Option<u64>> =
            level["nodes"].as_array().unwrap().iter().map(|node| node["parent"].as_u64()).collect();
        assert_eq!(pages, want.nodes.iter().map(|node| node.page_id).collect::<Vec<_>>());
        assert_eq!(parents, want.nodes.iter().map(|node| node.parent).collect::<Vec<_>>());
        let node = &level["nodes"][0];
        assert_eq!(node["cells"].as_u64(), Some(want.nodes[0].cells as u64));
        assert_eq!(node["used_bytes"].as_u64(), Some(want.nodes[0].used_bytes as u64));
        assert_eq!(node["page_bytes"].as_u64(), Some(want.nodes[0].page_bytes as u64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shape_is_the_databases_and_follows_its_commits() {
    let db = Database::in_memory().unwrap();
    fill(&db, 0, 3000);
    // Small limits, so the leaf level (about 90 leaves) is cut: "…" on the page.
    let limits = ShapeLimits { levels_max: 3, nodes_per_level_max: 32 };
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(50))
        .shape_interval(Duration::from_millis(100))
        .shape_limits(limits)
        .table(TABLE)
        .spawn()
        .unwrap();
    let mut socket = connect(dashboard.local_addr(), "", None).await.unwrap();
    let hello = next_of(&mut socket, "hello").await;
    assert_eq!(hello["shape_table"], TABLE);
    assert_eq!(hello["shape_limits"]["nodes_per_level_max"], 32);
    let first = next_shape(&mut socket, "ok").await;
    assert_eq!(first["table"], TABLE);
    assert_same_shape(&first, &db, limits);
    assert!(first["shape"]["height"].as_u64() >= Some(2), "{first}");
    assert_eq!(first["shape"]["levels"].as_array().unwrap().last().unwrap()["truncated"], true);

    // A commit that grows the tree: a new shape comes, the database's again.
    fill(&db, 3000, 3000);
    let deadline = Instant::now() + PATIENCE;
    let second = loop {
        let shape = next_shape(&mut socket, "ok").await;
        if shape["shape"]["entries"] == 6000 {
            break shape;
        }
        assert!(Instant::now() < deadline, "the commit's shape never came");
    };
    assert!(second["seq"].as_u64() > first["seq"].as_u64());
    assert_same_shape(&second, &db, limits);

    // Nothing changes: over several snapshots (and shape intervals), no shape is sent again.
    let published = dashboard.stats().shapes;
    for _ in 0..5 {
        let message = next_of(&mut socket, "snapshot").await;
        assert_eq!(message["type"], "snapshot");
    }
    assert_eq!(dashboard.stats().shapes, published, "a shape was sent though nothing changed");

    // A new client gets the latest shape at once, right after its hello.
    let mut late = connect(dashboard.local_addr(), "", None).await.unwrap();
    next_of(&mut late, "hello").await;
    let Some(Ok(frame)) = futures_util::StreamExt::next(&mut late).await else { panic!() };
    let latest: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!((latest["type"].as_str(), &latest["seq"]), (Some("shape"), &second["seq"]));
    let (status, body) = http_get(dashboard.local_addr(), "/shape.json", "");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["seq"], second["seq"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_not_yet_there_and_a_damaged_one_is_text() {
    // Missing: said so, the socket stays open, and the table is drawn once a commit makes it.
    let db = Database::in_memory().unwrap();
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(50))
        .shape_interval(Duration::from_millis(100))
        .table(TABLE)
        .spawn()
        .unwrap();
    let mut socket = connect(dashboard.local_addr(), "", None).await.unwrap();
    let missing = next_shape(&mut socket, "missing").await;
    assert_eq!(missing["message"], format!("table {TABLE:?} does not exist yet"));
    assert_eq!(missing["shape"], Value::Null);
    next_of(&mut socket, "snapshot").await;
    fill(&db, 0, 10);
    let made = next_shape(&mut socket, "ok").await;
    assert_eq!(
        (made["shape"]["height"].as_u64(), made["shape"]["entries"].as_u64()),
        (Some(1), Some(10))
    );
    drop(socket);
    drop(dashboard);

    // Damaged: a file whose root leaf has a flipped byte, opened read-only. The shape says
    // what is wrong, as text; the server goes on sending snapshots.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.redwood");
    let db = Database::create(&path).unwrap();
    fill(&db, 0, 10);
    let root = db.begin_read().unwrap().open_table(TABLE).unwrap().shape(ShapeLimits::default());
    let root = root.unwrap().root as usize;
    db.close().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[root * 4096 + 1000] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let db = Database::open_read_only(&path).unwrap();
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(50))
        .table(TABLE)
        .spawn()
        .unwrap();
    let mut socket = connect(dashboard.local_addr(), "", None).await.unwrap();
    let damaged = next_shape(&mut socket, "error").await;
    assert_eq!(damaged["error_kind"], "Corrupt", "{damaged}");
    assert!(damaged["message"].as_str().is_some_and(|text| !text.is_empty()), "{damaged}");
    next_of(&mut socket, "snapshot").await;
    next_of(&mut socket, "snapshot").await;
}
