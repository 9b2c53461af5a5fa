//! The `redwood` binary end to end: every subcommand in text and JSON, and each kind of failure
//! with its message and exit code (a missing file, a foreign file, a locked database, a missing
//! table or key, and a flipped byte that `check` names).

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn redwood(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redwood")).args(args).output().expect("the binary runs")
}

/// Runs `args`, expects exit code `code`, and returns (stdout, stderr).
fn expect(args: &[&str], code: i32) -> (String, String) {
    let output = redwood(args);
    let (stdout, stderr) =
        (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap());
    assert_eq!(output.status.code(), Some(code), "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
    (stdout, stderr)
}

fn json(args: &[&str]) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let (stdout, _) = expect(&with_json, 0);
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn put_get_del_scan_tables_stats_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redwood");
    let db = text(&path);
    expect(&["put", db, "fruit", "apple", "red"], 0);
    for (key, value) in [("banana", "yellow"), ("cherry", "dark red"), ("apricot", "orange")] {
        expect(&["put", db, "fruit", key, value], 0);
    }
    let replaced = json(&["put", db, "fruit", "apple", "green"]);
    assert_eq!(replaced["replaced"], true);
    expect(&["put", db, "veg", "kale", "green"], 0);

    assert_eq!(expect(&["get", db, "fruit", "apple"], 0).0, "green\n");
    assert_eq!(json(&["get", db, "fruit", "cherry"])["value"], "dark red");
    let (_, stderr) = expect(&["get", db, "fruit", "durian"], 1);
    assert!(stderr.contains("no key \"durian\" in table \"fruit\""), "{stderr}");
    let (_, stderr) = expect(&["get", db, "nuts", "pecan"], 7);
    assert!(stderr.contains("no table named \"nuts\""), "{stderr}");

    let (stdout, _) = expect(&["scan", db, "fruit"], 0);
    assert_eq!(stdout, "apple\tgreen\napricot\torange\nbanana\tyellow\ncherry\tdark red\n");
    let (stdout, _) = expect(&["scan", db, "fruit", "--prefix", "ap", "--reverse"], 0);
    assert_eq!(stdout, "apricot\torange\napple\tgreen\n");
    let (stdout, _) = expect(&["scan", db, "fruit", "--from", "apricot", "--to", "cherry"], 0);
    assert_eq!(stdout, "apricot\torange\nbanana\tyellow\n");
    let limited = json(&["scan", db, "fruit", "--limit", "2", "--reverse"]);
    let keys: Vec<&str> =
        limited["entries"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["cherry", "banana"]);

    expect(&["del", db, "fruit", "banana"], 0);
    expect(&["del", db, "fruit", "banana"], 1);
    expect(&["del", db, "nuts", "pecan"], 7);
    let tables = json(&["tables", db]);
    assert_eq!(
        tables["tables"][0],
        serde_json::json!({ "name": "fruit", "kind": "table", "entries": 3 })
    );
    assert_eq!(
        tables["tables"][1],
        serde_json::json!({ "name": "veg", "kind": "table", "entries": 1 })
    );
    assert!(
        !json(&["tables", db])["tables"].as_array().unwrap().iter().any(|t| t["name"] == "nuts")
    );

    let stats = json(&["stats", db]);
    assert!(stats["log"]["last_commit_lsn"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["since_open"]["commits"], 0, "counters start at open: {stats}");
    assert!(stats["pages"]["page_count"].as_u64().unwrap() > 0, "{stats}");
    let on_disk = std::fs::metadata(db).unwrap().len();
    assert_eq!(stats["pages"]["file_bytes"].as_u64(), Some(on_disk), "{stats}");
    assert!(stats["cache"]["frames"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["process"]["rss_bytes"].as_u64().unwrap() > 0, "{stats}");
    let heap = stats["process"]["heap_bytes"].as_u64().expect("the binary counts its heap");
    assert!(heap > 0 && heap <= stats["process"]["heap_peak_bytes"].as_u64().unwrap(), "{stats}");
    let (stdout, _) = expect(&["stats", db], 0);
    assert!(stdout.contains("page_size_bytes") && stdout.contains("4096"), "{stdout}");

    let checkpoint = json(&["checkpoint", db, "--mode", "truncate"]);
    assert_eq!(checkpoint["log_restarted"], true, "{checkpoint}");
    let (stdout, _) = expect(&["checkpoint", db, "--mode", "passive"], 0);
    assert!(stdout.starts_with("checkpoint (passive)"), "{stdout}");
    let check = json(&["check", db]);
    assert_eq!(check["clean"], true, "{check}");
    assert_eq!(check["tables_checked"], 2);
    assert_eq!(expect(&["get", db, "fruit", "apple"], 0).0, "green\n", "intact after all that");
}

#[test]
fn the_demo_loads_checks_and_reports_then_replaces_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.redwood");
    let report = json(&["demo", text(&path), "--keys", "30000"]);
    assert_eq!(report["keys"], 30000);
    assert_eq!(report["check"]["clean"], true);
    assert_eq!(report["point_reads"], 30000);
    let prefix_entries = report["prefix_scan"]["entries"].as_u64().unwrap();
    assert!((50..250).contains(&prefix_entries), "about 1/256 of the keys: {prefix_entries}");
    // The demo archives its log: its restore point outlives the checkpoint that restarted it.
    let points = report["stats"]["restore_points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{report}");
    assert_eq!(points[0]["name"], "demo-loaded");
    assert_eq!(report["checkpoint"]["log_restarted"], true, "{report}");
    let listed = json(&["restore-point", "list", text(&path)]);
    assert_eq!(listed["restore_points"][0]["name"], "demo-loaded", "{listed}");
    // Run again: the earlier demo database is replaced, in text mode.
    let (stdout, _) = expect(&["demo", text(&path), "--keys", "20000"], 0);
    assert!(stdout.contains("loaded     20000 keys"), "{stdout}");
    assert!(stdout.contains("checked") && stdout.contains(": ok"), "{stdout}");
    let tables = json(&["tables", text(&path)]);
    assert_eq!(tables["tables"][0]["name"], "redwood-demo", "the marker of a demo database");
    assert_eq!(
        tables["tables"][1],
        serde_json::json!({ "name": "users", "kind": "table", "entries": 20000 })
    );
}

/// The demo replaces only a database it made: a user's database at the same path is refused
/// and keeps every table.
#[test]
fn the_demo_never_replaces_a_database_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.redwood");
    let db = text(&path);
    expect(&["put", db, "accounts", "alice", "100"], 0);
    let (_, stderr) = expect(&["demo", db, "--keys", "100"], 10);
    assert!(stderr.contains("a Redwood database the demo did not make"), "{stderr}");
    assert_eq!(expect(&["get", db, "accounts", "alice"], 0).0, "100\n");
    // A demo database that a user added a table to is no longer the demo's either.
    let demo = dir.path().join("demo.redwood");
    expect(&["demo", text(&demo), "--keys", "100"], 0);
    expect(&["put", text(&demo), "notes", "keep", "me"], 0);
    expect(&["demo", text(&demo), "--keys", "100"], 10);
    assert_eq!(expect(&["get", text(&demo), "notes", "keep"], 0).0, "me\n");
}

#[test]
fn missing_foreign_and_locked_files_have_their_own_messages_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.redwood");
    let (_, stderr) = expect(&["get", text(&missing), "t", "k"], 3);
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(!missing.exists(), "reading does not create");

    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "my precious notes, not a database at all").unwrap();
    let (_, stderr) = expect(&["get", text(&foreign), "t", "k"], 4);
    assert!(stderr.contains("is not a Redwood database"), "{stderr}");
    let (_, stderr) = expect(&["demo", text(&foreign), "--keys", "10"], 4);
    assert!(stderr.contains("leaves it alone"), "{stderr}");
    expect(&["put", text(&foreign), "t", "k", "v"], 4);
    let notes = std::fs::read_to_string(&foreign).unwrap();
    assert_eq!(notes, "my precious notes, not a database at all", "left untouched");

    let path = dir.path().join("busy.redwood");
    expect(&["put", text(&path), "t", "k", "v"], 0);
    let holder = redwood::Database::open(&path).unwrap();
    let (_, stderr) = expect(&["get", text(&path), "t", "k"], 6);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
    drop(holder);
    assert_eq!(expect(&["get", text(&path), "t", "k"], 0).0, "v\n");
}

/// One flipped byte in a data page: `check` names the page and exits with code 5, and a read
/// that meets the page fails with a clear message and the same code.
#[test]
fn a_flipped_byte_is_named_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flipped.redwood");
    let db = text(&path);
    expect(&["demo", db, "--keys", "5000"], 0);
    let page_bytes = 4096;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let last_page = file.metadata().unwrap().len() / page_bytes - 1;
    let offset = last_page * page_bytes + 1000;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], offset).unwrap();
    drop(file);

    let (stdout, stderr) = expect(&["check", db], 5);
    assert!(stdout.contains(&format!("damaged page {last_page}: checksum mismatch")), "{stdout}");
    assert!(stdout.trim_end().ends_with("DAMAGED"), "{stdout}");
    assert!(stderr.contains("1 problem(s)"), "{stderr}");
    let report = {
        let output = redwood(&["--json", "check", db]);
        assert_eq!(output.status.code(), Some(5));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    assert_eq!(report["clean"], false);
    assert_eq!(report["problems"][0]["page"], last_page);
    let (_, stderr) = expect(&["scan", db, "users"], 5);
    assert!(stderr.contains(&format!("is damaged (page {last_page})")), "{stderr}");
    assert!(stderr.contains("run `redwood check"), "{stderr}");
}

/// Every file of the database in `dir`, with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// A database whose last commits are only in its log (never checkpointed), then one byte
/// flipped inside the page frames of the last commit: `check` reports the damaged log tail with
/// its byte offset and exits with code 5, and neither it nor any other read-only command
/// changes a byte of any file.
#[test]
fn check_reports_a_damaged_last_commit_and_read_only_commands_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redwood");
    let db = text(&path);
    for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
        expect(&["put", db, "t", key, value], 0);
    }
    let log_path = dir.path().join("kv.redwood.wal");
    let before_last = {
        let stats = json(&["stats", db]);
        stats["log"]["bytes_in_use"].as_u64().unwrap()
    };
    expect(&["put", db, "t", "d", "4"], 0);
    let log = std::fs::OpenOptions::new().read(true).write(true).open(&log_path).unwrap();
    let offset = before_last + 300; // inside the last commit's first page image
    let mut byte = [0u8; 1];
    log.read_exact_at(&mut byte, offset).unwrap();
    log.write_all_at(&[byte[0] ^ 0x10], offset).unwrap();
    drop(log);

    let before = files(dir.path());
    let (stdout, stderr) = expect(&["check", db], 5);
    assert!(stdout.contains(&format!("the log is damaged at byte {before_last}")), "{stdout}");
    assert!(stdout.contains("a valid commit frame follows"), "{stdout}");
    assert!(stderr.contains("1 problem(s)"), "{stderr}");
    let report = {
        let output = redwood(&["--json", "check", db]);
        assert_eq!(output.status.code(), Some(5));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    assert_eq!(report["damaged_log_tail"]["offset"], before_last, "{report}");
    assert!(report["damaged_log_tail"]["commit_after"]["offset"].as_u64().unwrap() > before_last);
    // The read-only commands see the state before the damaged commit, and write nothing.
    assert_eq!(expect(&["get", db, "t", "c"], 0).0, "3\n");
    expect(&["get", db, "t", "d"], 1);
    assert_eq!(expect(&["scan", db, "t"], 0).0, "a\t1\nb\t2\nc\t3\n");
    expect(&["tables", db], 0);
    expect(&["stats", db], 0);
    expect(&["--json", "stats", db], 0);
    assert_eq!(files(dir.path()), before, "a read-only command changed a file");

    // A writable command cuts the tail, keeps a copy, and says so.
    let (_, stderr) = expect(&["put", db, "t", "e", "5"], 0);
    assert!(stderr.contains(&format!("damaged log tail at byte {before_last} was cut off")));
    assert!(stderr.contains("saved to"), "{stderr}");
    let check = json(&["check", db]);
    assert_eq!(check["clean"], true, "{check}");
}

/// A deleted log: every command refuses with exit code 8 and changes nothing; the override
/// opens without it and says what was lost.
#[test]
fn a_missing_log_is_refused_unless_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redwood");
    let db = text(&path);
    expect(&["put", db, "t", "a", "1"], 0);
    expect(&["checkpoint", db], 0);
    expect(&["put", db, "t", "b", "2"], 0);
    std::fs::remove_file(dir.path().join("kv.redwood.wal")).unwrap();
    let before = files(dir.path());
    for args in [&["get", db, "t", "a"][..], &["check", db], &["put", db, "t", "c", "3"]] {
        let (_, stderr) = expect(args, 8);
        assert!(
            stderr.contains("is missing") && stderr.contains("--discard-missing-log"),
            "{stderr}"
        );
    }
    assert_eq!(files(dir.path()), before, "a refused command changed a file");
    let (stdout, stderr) = expect(&["--discard-missing-log", "get", db, "t", "a"], 0);
    assert_eq!(stdout, "1\n");
    assert!(stderr.contains("the write-ahead log was discarded"), "{stderr}");
    assert_eq!(files(dir.path()), before, "a read-only command with the override changed a file");
    expect(&["--discard-missing-log", "put", db, "t", "c", "3"], 0);
    expect(&["get", db, "t", "b"], 1);
    assert_eq!(expect(&["get", db, "t", "c"], 0).0, "3\n");
}

/// `recover` copies a damaged database that no longer opens into a new one: complete (exit 0)
/// past a damaged free-space map, incomplete (exit 5, naming the page and the keys) past a
/// damaged leaf; the damaged files never change.
#[test]
fn recover_copies_what_can_be_read_and_names_what_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redwood");
    {
        let db = redwood::Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for index in 0..500u32 {
            table.insert(format!("k{index:04}").as_bytes(), [b'v'; 40]).unwrap();
        }
        write.commit().unwrap();
        db.close().unwrap();
    }
    let mut main = std::fs::read(&path).unwrap();
    let generation = |bytes: &[u8], slot: usize| {
        u64::from_le_bytes(bytes[slot * 4096 + 64..][..8].try_into().unwrap())
    };
    let newest = generation(&main, 0).max(generation(&main, 1));
    let map_page = 2 + 9 * (newest % 2) as usize; // the current copy of segment 0's map
    main[map_page * 4096 + 100] ^= 0x01;
    std::fs::write(&path, &main).unwrap();
    expect(&["get", text(&path), "t", "k0001"], 5);
    let before = files(dir.path());
    let out = dir.path().join("copy.redwood");
    let (stdout, _) = expect(&["recover", text(&path), "--out", text(&out)], 0);
    assert!(stdout.contains("table \"t\": 500 of 500 entries recovered"), "{stdout}");
    assert!(stdout.contains("free-space map"), "{stdout}");
    assert_eq!(expect(&["get", text(&out), "t", "k0499"], 0).0, format!("{}\n", "v".repeat(40)));
    let mut after = files(dir.path());
    after.retain(|file, _| before.contains_key(file));
    assert_eq!(after, before, "recover changed a damaged file");

    // A damaged leaf of the table (one holding "k02.."): the rest is copied, its keys named.
    let leaf = (0..main.len() / 4096)
        .find(|&page| {
            let bytes = &main[page * 4096..(page + 1) * 4096];
            bytes[4] == 16 && bytes.windows(3).any(|window| window == b"k02")
        })
        .expect("a leaf of the table");
    main[leaf * 4096 + 1000] ^= 0x01;
    std::fs::write(&path, &main).unwrap();
    let out = dir.path().join("partial.redwood");
    let output = redwood(&["--json", "recover", text(&path), "--out", text(&out)]);
    assert_eq!(output.status.code(), Some(5));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["complete"], false, "{report}");
    let table = &report["tables"][0];
    assert_eq!(table["lost"][0]["page"], leaf as u64, "{report}");
    let recovered = table["entries_recovered"].as_u64().unwrap();
    assert!(recovered > 0 && recovered < 500, "{report}");
}

/// `GET /` on the dashboard at `url` (`http://ADDR/...`): the status code.
fn dashboard_status(url: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn dashboard_serves_the_demo_and_a_file_and_makes_a_token_off_loopback() {
    use std::io::BufRead;
    // The demo, off loopback without --token: a token is generated, printed once, and needed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_redwood"))
        .args(["--json", "dashboard", "--demo", "--addr", "0.0.0.0:0", "--seconds", "2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let started: Value = serde_json::from_str(&line).unwrap();
    let token = started["token"].as_str().expect("a generated token");
    assert_eq!(token.len(), 32);
    let url = started["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/?token={token}")), "{url}");
    assert_eq!(dashboard_status(url), 200);
    assert_eq!(dashboard_status(url.split_once('?').unwrap().0), 401);
    assert!(child.wait().unwrap().success());

    // A database file, served read-only on loopback for a moment; a missing one is exit code 3.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.redwood");
    expect(&["put", text(&path), "t", "k", "v"], 0);
    let (stdout, _) =
        expect(&["dashboard", text(&path), "--addr", "127.0.0.1:0", "--seconds", "1"], 0);
    assert!(stdout.contains("dashboard of") && stdout.contains("http://127.0.0.1:"), "{stdout}");
    let missing = dir.path().join("missing.redwood");
    expect(&["dashboard", text(&missing), "--addr", "127.0.0.1:0", "--seconds", "1"], 3);
    // Usage: a path or --demo, not both, not neither.
    expect(&["dashboard", "--seconds", "1"], 2);
    expect(&["dashboard", text(&path), "--demo"], 2);
}

/// `backup` writes an archive of the last commit; `restore` builds a database from it that
/// holds the same entries; an existing archive or destination is refused, and a damaged archive
/// is exit code 5 with nothing left at the destination.
#[test]
fn backup_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (path, archive, restored) =
        (dir.path().join("db.redwood"), dir.path().join("db.car"), dir.path().join("copy.redwood"));
    for (key, value) in [("apple", "red"), ("banana", "yellow"), ("cherry", "dark red")] {
        expect(&["put", text(&path), "fruit", key, value], 0);
    }
    let backup = json(&["backup", text(&path), text(&archive)]);
    assert!(backup["pages"].as_u64().unwrap() >= 2, "{backup}");
    assert_eq!(backup["bytes"].as_u64().unwrap(), std::fs::metadata(&archive).unwrap().len());
    let (_, stderr) = expect(&["backup", text(&path), text(&archive)], 10);
    assert!(stderr.contains("already exists"), "{stderr}");

    let (stdout, _) = expect(&["restore", text(&restored), "--from", text(&archive)], 0);
    assert!(stdout.contains("integrity check passed"), "{stdout}");
    assert_eq!(
        expect(&["scan", text(&restored), "fruit"], 0).0,
        expect(&["scan", text(&path), "fruit"], 0).0
    );
    let (_, stderr) = expect(&["restore", text(&restored), "--from", text(&archive)], 10);
    assert!(stderr.contains("already exists"), "{stderr}");

    // An incremental backup after one more put; the chain restores to the newest state.
    expect(&["put", text(&path), "fruit", "damson", "purple"], 0);
    let delta = dir.path().join("delta.car");
    let incremental =
        json(&["backup", text(&path), text(&delta), "--incremental-from", text(&archive)]);
    assert_eq!(incremental["parent"], backup["root"], "{incremental}");
    assert!(
        incremental["pages_written"].as_u64().unwrap() <= incremental["pages"].as_u64().unwrap()
    );
    let chained = dir.path().join("chained.redwood");
    let restored_chain = json(&["restore", text(&chained), "--from", text(&archive), text(&delta)]);
    assert_eq!(restored_chain["archives"].as_array().unwrap().len(), 2);
    assert_eq!(expect(&["get", text(&chained), "fruit", "damson"], 0).0, "purple\n");
    let (_, stderr) =
        expect(&["restore", text(&dir.path().join("x.redwood")), "--from", text(&delta)], 10);
    assert!(stderr.contains("not a chain"), "{stderr}");

    let mut damaged = std::fs::read(&archive).unwrap();
    let at = damaged.len() - 50;
    damaged[at] ^= 0x10;
    let bad = dir.path().join("bad.car");
    std::fs::write(&bad, &damaged).unwrap();
    let elsewhere = dir.path().join("never.redwood");
    let (_, stderr) = expect(&["restore", text(&elsewhere), "--from", text(&bad)], 5);
    assert!(stderr.contains("does not match its hash"), "{stderr}");
    assert!(!elsewhere.exists());
}

/// With a log archive beside the database (`DB.archive`): restore points outlive checkpoints,
/// `restore-point apply` and `restore --archive` build the database as it was at a point, an
/// LSN or a time, and a target out of reach (or not a time) is exit code 10 with nothing made.
#[test]
fn restore_points_and_point_in_time_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = text(&path);
    std::fs::create_dir(dir.path().join("db.redwood.archive")).unwrap();
    expect(&["put", db, "t", "a", "1"], 0);
    let created = json(&["restore-point", "create", db, "first"]);
    assert_eq!(created["archived"], true, "{created}");
    let first_lsn = created["commit_lsn"].as_u64().unwrap();
    expect(&["put", db, "t", "a", "2"], 0);
    expect(&["checkpoint", db, "--mode", "truncate"], 0);
    expect(&["put", db, "t", "b", "3"], 0);

    let before = files(dir.path().join("db.redwood.archive").as_path());
    let listed = json(&["restore-point", "list", db]);
    assert_eq!(listed["restore_points"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["restore_points"][0]["commit_lsn"], first_lsn);
    let (stdout, _) = expect(&["restore-point", "list", db], 0);
    assert!(stdout.contains("first"), "{stdout}");
    assert_eq!(
        files(dir.path().join("db.redwood.archive").as_path()),
        before,
        "list changed the archive"
    );

    let v1 = dir.path().join("v1.redwood");
    let (stdout, _) = expect(&["restore-point", "apply", db, "first", "--out", text(&v1)], 0);
    assert!(stdout.contains("integrity check passed"), "{stdout}");
    assert_eq!(expect(&["get", text(&v1), "t", "a"], 0).0, "1\n");

    // `restore` from the archive directory alone, to a point, an LSN and the newest commit.
    let archive = dir.path().join("db.redwood.archive");
    let by_point = dir.path().join("p.redwood");
    let report =
        json(&["restore", text(&by_point), "--archive", text(&archive), "--point", "first"]);
    assert_eq!(report["commit_lsn"], first_lsn, "{report}");
    assert_eq!(expect(&["get", text(&by_point), "t", "a"], 0).0, "1\n");
    let by_lsn = dir.path().join("l.redwood");
    let lsn = first_lsn.to_string();
    expect(&["restore", text(&by_lsn), "--archive", text(&archive), "--lsn", &lsn], 0);
    assert_eq!(expect(&["scan", text(&by_lsn), "t"], 0).0, "a\t1\n");
    // The newest commit: `apply` ships the log first; the last put is in it.
    let newest = dir.path().join("n.redwood");
    expect(&["restore-point", "apply", db, "--at", "now", "--out", text(&newest)], 0);
    assert_eq!(expect(&["scan", text(&newest), "t"], 0).0, "a\t2\nb\t3\n");

    let never = dir.path().join("never.redwood");
    let (_, stderr) = expect(
        &["restore", text(&never), "--archive", text(&archive), "--at", "2000-01-01 00:00"],
        10,
    );
    assert!(stderr.contains("out of reach") && stderr.contains("reaches from"), "{stderr}");
    let (_, stderr) =
        expect(&["restore-point", "apply", db, "--at", "soon", "--out", text(&never)], 10);
    assert!(stderr.contains("cannot read the time"), "{stderr}");
    let (_, stderr) = expect(&["restore-point", "apply", db, "nope", "--out", text(&never)], 10);
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(!never.exists());
}

#[test]
fn compact_gives_space_back_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.redwood");
    {
        let db = redwood::Database::builder().segment_pages(64).create(&path).unwrap();
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for n in 0u32..5_000 {
            table.insert(n.wrapping_mul(2_654_435_761).to_be_bytes(), [n as u8; 200]).unwrap();
        }
        drop(table);
        write.commit().unwrap();
        let write = db.begin_write().unwrap();
        write.open_table("t").unwrap().retain(|_, value| value[0] % 10 == 0).unwrap();
        write.commit().unwrap();
    }
    let db = path.to_str().unwrap();
    let before = files(dir.path()).values().map(|bytes| bytes.len() as u64).sum::<u64>();
    let report = json(&["compact", db]);
    assert_eq!(report["tables"], 1, "{report}");
    assert_eq!(report["held_back"], false, "{report}");
    let after = files(dir.path()).values().map(|bytes| bytes.len() as u64).sum::<u64>();
    assert!(after * 3 < before, "{after} bytes after, {before} before: {report}");
    assert_eq!(report["bytes_after"].as_u64(), Some(after), "{report}");
    assert_eq!(json(&["check", db])["clean"], true);
    let kept = (0u32..5_000).filter(|&n| (n as u8).is_multiple_of(10)).count();
    assert_eq!(json(&["tables", db])["tables"][0]["entries"], kept);
    let (stdout, _) = expect(&["compact", db], 0);
    assert!(stdout.starts_with("compacted 0 tables"), "already packed: {stdout}");
}
