//! The page in a real headless Chromium: the test writes to a database with a tiny cache while
//! the dashboard serves it, and checks in the page's DOM that (a) the commit count shown rises
//! to the database's after the test's commits, (b) a split the test causes appears in the
//! visualizer's event log and as node boxes, (c) a page the test makes thrash appears with
//! its page id, and (d) the tree's shape is drawn: its root node carries the root page id the
//! database reports, there are as many levels as the walk reads, and a node a later split
//! names is highlighted on it. It saves a screenshot in `target/tmp/` (and in
//! `docs/dashboard.png` when `REDWOOD_UPDATE_SCREENSHOT` is set).

use std::time::Duration;

use redwood::{CheckpointMode, Database, ShapeLimits};
use redwood_dashboard::{Dashboard, TreeEvents};

use crate::cdp::Browser;
use crate::support::{TABLE, fill};

fn number(expression: &str) -> String {
    format!("Number(document.querySelector('{expression}').textContent)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_commits_splits_and_thrashing_pages() {
    let Some(mut browser) = Browser::launch().await else { return };
    let events = TreeEvents::new(TABLE, 4096);
    let db = Database::builder()
        .cache_bytes(16 * 4096)
        .tree_observer(TABLE, events.observer())
        .in_memory()
        .unwrap();
    let dashboard = Dashboard::new(&db)
        .addr("127.0.0.1:0".parse().unwrap())
        .snapshot_interval(Duration::from_millis(100))
        .shape_interval(Duration::from_millis(200))
        .tree_events(events)
        .spawn()
        .unwrap();
    browser.open(&dashboard.url()).await;
    let live = format!(
        "document.getElementById('status').textContent === 'live' && {} > 0",
        number("#snapshot-seq")
    );
    browser.wait_for(&live, "a live connection").await;

    // (a) The commit count rises with the test's commits.
    let shown_before = browser.evaluate(&number("#commits")).await.as_u64().unwrap();
    for i in 0..5 {
        fill(&db, i, 1);
    }
    let commits = db.diagnostics().pager.commits;
    assert!(commits >= shown_before + 5);
    browser
        .wait_for(&format!("{} === {commits}", number("#commits")), "the new commit count")
        .await;

    // (b) A split appears as a visualizer event, with the two nodes drawn.
    assert_eq!(browser.evaluate("document.querySelectorAll('#event-log li').length").await, 0);
    fill(&db, 1000, 3000);
    browser
        .wait_for("document.querySelector('#event-log li[data-type=split]') !== null", "a split")
        .await;
    let split = browser
        .evaluate("(() => { const li = document.querySelector('#event-log li[data-type=split]'); return [Number(li.dataset.page), Number(li.dataset.other)]; })()")
        .await;
    let (page, other) = (split[0].as_u64().unwrap(), split[1].as_u64().unwrap());
    assert!(page > 1 && other > 1 && page != other, "a split names two nodes: {split}");
    let drawn = format!(
        "document.querySelector('#row-leaf .node[data-page=\"{other}\"], #row-interior .node[data-page=\"{other}\"]') !== null"
    );
    browser.wait_for(&drawn, "the split's new node").await;
    assert!(browser.evaluate(&number("#events-observed")).await.as_u64() > Some(0));

    // (c) Reads through the 16-frame cache make leaves thrash; the page lists their ids.
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    for _ in 0..5 {
        let read = db.begin_read().unwrap();
        let table = read.open_table(TABLE).unwrap();
        for i in (1000..4000u32).step_by(25) {
            assert!(table.get(i.to_be_bytes()).unwrap().is_some());
        }
    }
    let thrashing: Vec<u64> =
        db.diagnostics().thrashing_pages.iter().map(|page| page.page_id).collect();
    assert!(!thrashing.is_empty(), "the sweeps made no page thrash");
    let ids = thrashing.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let shown = format!(
        "[...document.querySelectorAll('#thrash-pages li[data-page]')].some(li => [{ids}].includes(Number(li.dataset.page)))"
    );
    browser.wait_for(&shown, "a thrashing page's id").await;

    // (d) The shape: the root node drawn is the database's root, with min(height, levels_max)
    // levels under the caption's height and entry count.
    let limits = ShapeLimits::default();
    let shape = db.begin_read().unwrap().open_table(TABLE).unwrap().shape(limits).unwrap();
    assert!(shape.height >= 2, "3,005 entries fill more than one leaf: {shape:?}");
    let levels = shape.height.min(limits.levels_max);
    let (root, height, entries) = (shape.root, shape.height, shape.entries);
    let drawn = format!(
        "document.querySelector('#shape-svg g.level[data-depth=\"0\"] .snode').dataset.page === '{root}' \
         && document.querySelectorAll('#shape-svg g.level').length === {levels} \
         && {} === {height} \
         && document.querySelector('#shape-entries').textContent === ({entries}).toLocaleString('en')",
        number("#shape-height"),
    );
    browser.wait_for(&drawn, "the tree's shape with the database's root").await;
    let roots = browser
        .evaluate("document.querySelectorAll('#shape-svg .snode[data-depth=\"0\"]').length")
        .await;
    assert_eq!(roots, 1);
    // Splits of the leftmost leaves (keys below all but the first five), which the shape
    // draws: a new sibling that a split after this point names is drawn highlighted.
    let seen = browser
        .evaluate("Math.max(0, ...[...document.querySelectorAll('#event-log li')].map(li => Number(li.dataset.seq)))")
        .await;
    let seen = seen.as_u64().unwrap();
    fill(&db, 5, 200);
    let lit = format!(
        "[...document.querySelectorAll('#event-log li[data-type=split]')] \
           .filter(li => Number(li.dataset.seq) > {seen}) \
           .some(li => document.querySelector(`#shape-svg .snode.hl-split[data-page=\"${{li.dataset.other}}\"]`) !== null)"
    );
    browser.wait_for(&lit, "a new split's node highlighted in the shape").await;

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    browser.screenshot(&shot).await;
    eprintln!("screenshot: {}", shot.display());
    if std::env::var_os("REDWOOD_UPDATE_SCREENSHOT").is_some() {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/dashboard.png");
        std::fs::copy(&shot, docs).unwrap();
    }
}

/// Not a check: takes the README's screenshot of a dashboard that is already running, such as
/// `redwood dashboard --demo`, after letting its charts fill for 15 seconds. Run by hand:
/// `REDWOOD_DASHBOARD_URL=http://127.0.0.1:7878/ cargo nextest run -p redwood-dashboard
/// --run-ignored only screenshot` (it writes `docs/dashboard.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes the README's screenshot by hand, of a dashboard given by REDWOOD_DASHBOARD_URL"]
async fn screenshot_of_a_running_dashboard() {
    let url = std::env::var("REDWOOD_DASHBOARD_URL").expect("set REDWOOD_DASHBOARD_URL");
    let Some(mut browser) = Browser::launch().await else { return };
    browser.open(&url).await;
    browser.wait_for(&format!("{} > 0", number("#snapshot-seq")), "a snapshot").await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/dashboard.png");
    browser.screenshot(std::path::Path::new(docs)).await;
}
