//! Invariants of the repository itself, checked as ordinary tests so that `cargo test` (and so
//! `cargo xtask ci`) is the whole check (STYLE.md, "the house"): the crate dependency graph of
//! DESIGN.md §3 holds, read from `cargo metadata`; every Rust source file opens with a `//!`
//! header; no debugging or placeholder macros are left in; and every folder under `crates/` is a
//! workspace member named after its package. Each check is a pure function over plain data,
//! unit-tested here with a bad input, so that the checks are seen to fail when they should; the
//! tests that read the real repository then feed them what is on disk.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The dependency graph (DESIGN.md §3).

/// The allowed Redwood-internal normal (and build) dependency edges: each governed crate and the
/// internal crates it may depend on. Any other internal edge out of a governed crate is a
/// violation, so a new crate under `crates/` must be added here, with DESIGN.md §3 updated.
const ALLOWED: &[(&str, &[&str])] = &[
    ("redwood-telemetry", &[]),
    ("redwood-pager", &["redwood-telemetry"]),
    ("redwood-wal", &["redwood-pager"]),
    ("redwood-bufpool", &["redwood-pager"]),
    // Long keys keep their tails in overflow chains, which the B+Tree owns (ADR-17).
    ("redwood-btree", &["redwood-pager", "redwood-overflow"]),
    ("redwood-overflow", &["redwood-pager"]),
    (
        "redwood",
        &[
            "redwood-pager",
            "redwood-wal",
            "redwood-bufpool",
            "redwood-btree",
            "redwood-overflow",
            "redwood-telemetry",
        ],
    ),
    // The dashboard sits on the facade alone; its HTTP stack goes no lower (see below).
    ("redwood-dashboard", &["redwood"]),
    ("redwood-cli", &["redwood", "redwood-dashboard"]),
    ("redwood-crash", &["redwood", "redwood-pager"]),
];

/// External crates that only the named Redwood crate may depend on, with why: the HTTP server
/// stack stays out of the core crates (issue 21).
const ONLY_IN: &[(&str, &str, &str)] = &[(
    "axum",
    "redwood-dashboard",
    "the HTTP server stack lives in redwood-dashboard only, not in the core crates",
)];

/// Absences that DESIGN.md names outright, checked on their own (with the reason) even though
/// [`ALLOWED`] already excludes them, so that widening the table cannot silently allow them.
const FORBIDDEN: &[(&str, &str, &str)] = &[
    ("redwood-btree", "redwood-wal", "the B+Tree knows nothing of the WAL"),
    ("redwood-btree", "redwood-bufpool", "the B+Tree sees only the PageStore trait"),
    ("redwood-overflow", "redwood-wal", "overflow chains know nothing of the WAL"),
    ("redwood-overflow", "redwood-bufpool", "overflow chains see only the PageStore trait"),
];

/// The embedded stores Redwood is benchmarked against: they belong to `benches/` only.
const PEERS: &[&str] = &["redb", "heed", "rusqlite", "fjall", "rocksdb"];

/// Workspace members that are tooling rather than Redwood itself: their own dependencies are free
/// (the benchmarks need the peers), but nothing may depend on them.
const TOOLING: &[&str] = &["xtask", "redwood-benches"];

/// The kind of a dependency, as `cargo metadata` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `[dependencies]`.
    Normal,
    /// `[build-dependencies]`: ships with the crate's build, so it is held to the same rules.
    Build,
    /// `[dev-dependencies]`: tests only, not part of the graph.
    Dev,
}

/// One dependency edge: package `from` depends on package `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edge {
    /// The depending package.
    from: String,
    /// The package depended on (its real name, not a `package =` rename).
    to: String,
    /// Normal, build or dev.
    kind: Kind,
}

impl Edge {
    fn new(from: &str, to: &str, kind: Kind) -> Self {
        Edge { from: from.to_owned(), to: to.to_owned(), kind }
    }
}

/// Whether `name` is a Redwood crate held to the graph: a library or the CLI, not tooling.
fn is_governed(name: &str) -> bool {
    (name == "redwood" || name.starts_with("redwood-")) && !TOOLING.contains(&name)
}

/// Whether the allowed table permits `from -> to`.
fn is_allowed(from: &str, to: &str) -> bool {
    ALLOWED.iter().any(|(crate_name, deps)| *crate_name == from && deps.contains(&to))
}

/// Every way in which `edges` break the graph of DESIGN.md §3, as readable messages; empty when
/// the graph holds. `members` are the workspace's package names. Dev-dependencies are not
/// checked (a crate may dev-depend on itself to turn on a feature for its tests).
fn graph_violations(members: &BTreeSet<String>, edges: &[Edge]) -> Vec<String> {
    let mut violations = Vec::new();
    for edge in edges.iter().filter(|edge| edge.kind != Kind::Dev) {
        let (from, to) = (edge.from.as_str(), edge.to.as_str());
        let kind = match edge.kind {
            Kind::Build => " (build-dependency)",
            Kind::Normal | Kind::Dev => "",
        };
        if TOOLING.contains(&to) {
            violations.push(format!(
                "{from} -> {to}{kind}: nothing may depend on the tooling crate {to}"
            ));
        }
        if !is_governed(from) {
            continue;
        }
        for (dependency, owner, why) in ONLY_IN {
            if to == *dependency && from != *owner {
                violations.push(format!("{from} -> {to}{kind}: forbidden, {why}"));
            }
        }
        if PEERS.contains(&to) {
            violations.push(format!(
                "{from} -> {to}{kind}: the peer {to} may only be a dependency of benches/"
            ));
        }
        for (forbidden_from, forbidden_to, why) in FORBIDDEN {
            if from == *forbidden_from && to == *forbidden_to {
                violations.push(format!("{from} -> {to}{kind}: forbidden, {why}"));
            }
        }
        let internal = members.contains(to) || is_governed(to);
        if internal && !TOOLING.contains(&to) && !is_allowed(from, to) {
            violations.push(format!(
                "{from} -> {to}{kind}: not an allowed edge of DESIGN.md §3 \
                 (the table ALLOWED in xtask/tests/repo.rs)"
            ));
        }
    }
    violations
}

/// `cargo metadata --format-version 1 --no-deps` for the workspace, parsed.
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .expect("could not run `cargo metadata`");
    assert!(
        output.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("`cargo metadata` printed invalid JSON")
}

/// The workspace's packages, from `cargo metadata`.
fn packages(metadata: &Value) -> &[Value] {
    metadata["packages"].as_array().expect("`cargo metadata` has no `packages` array")
}

/// A string field of a JSON object, or a panic that names it.
fn string_field<'a>(object: &'a Value, field: &str) -> &'a str {
    object[field]
        .as_str()
        .unwrap_or_else(|| panic!("`cargo metadata`: field `{field}` missing in {object}"))
}

/// Every dependency edge out of every workspace package.
fn edges(metadata: &Value) -> Vec<Edge> {
    let mut edges = Vec::new();
    for package in packages(metadata) {
        let from = string_field(package, "name");
        let deps = package["dependencies"]
            .as_array()
            .expect("`cargo metadata`: package without `dependencies`");
        for dep in deps {
            let kind = match dep["kind"].as_str() {
                None => Kind::Normal,
                Some("build") => Kind::Build,
                Some("dev") => Kind::Dev,
                Some(other) => panic!("`cargo metadata`: unknown dependency kind `{other}`"),
            };
            edges.push(Edge::new(from, string_field(dep, "name"), kind));
        }
    }
    edges
}

#[test]
fn the_design_graph_itself_is_accepted() {
    let members: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    let mut edges = Vec::new();
    for (from, deps) in ALLOWED {
        for to in *deps {
            edges.push(Edge::new(from, to, Kind::Normal));
        }
    }
    edges.push(Edge::new("redwood-pager", "crc32c", Kind::Normal));
    assert_eq!(graph_violations(&members, &edges), Vec::<String>::new());
}

#[test]
fn btree_depending_on_the_wal_is_rejected() {
    let members: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    let edges = [
        Edge::new("redwood-btree", "redwood-pager", Kind::Normal),
        Edge::new("redwood-btree", "redwood-wal", Kind::Normal),
    ];
    let violations = graph_violations(&members, &edges);
    assert!(
        violations
            .iter()
            .any(|v| v.contains("redwood-btree -> redwood-wal") && v.contains("forbidden")),
        "{violations:?}"
    );
    assert!(violations.iter().any(|v| v.contains("not an allowed edge")), "{violations:?}");
}

#[test]
fn other_bad_edges_are_rejected() {
    let members: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    let bad = [
        // an absence named in DESIGN.md, as a build-dependency
        Edge::new("redwood-overflow", "redwood-bufpool", Kind::Build),
        // an upward edge
        Edge::new("redwood-pager", "redwood", Kind::Normal),
        // a sideways edge between two crates that share the pager
        Edge::new("redwood-wal", "redwood-bufpool", Kind::Normal),
        // a peer in a library crate, and in the CLI
        Edge::new("redwood-pager", "rusqlite", Kind::Normal),
        Edge::new("redwood-cli", "redb", Kind::Normal),
        // a new crate not yet in the table
        Edge::new("redwood-lsm", "redwood-pager", Kind::Normal),
        // a library crate reaching into tooling
        Edge::new("redwood", "redwood-benches", Kind::Normal),
        // the dashboard below the facade, a core crate above it, the HTTP stack in the core
        Edge::new("redwood-dashboard", "redwood-pager", Kind::Normal),
        Edge::new("redwood", "redwood-dashboard", Kind::Normal),
        Edge::new("redwood", "axum", Kind::Normal),
        Edge::new("redwood-telemetry", "axum", Kind::Build),
    ];
    for edge in bad {
        let violations = graph_violations(&members, std::slice::from_ref(&edge));
        assert!(!violations.is_empty(), "{edge:?} was accepted");
    }
}

#[test]
fn dev_edges_and_tooling_dependencies_are_free() {
    let members: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    let fine = [
        Edge::new("redwood-pager", "redwood-pager", Kind::Dev),
        Edge::new("redwood-pager", "proptest", Kind::Dev),
        Edge::new("redwood-benches", "redwood", Kind::Normal),
        Edge::new("redwood-benches", "rusqlite", Kind::Normal),
        Edge::new("redwood-benches", "heed", Kind::Normal),
        Edge::new("xtask", "anyhow", Kind::Normal),
        Edge::new("redwood-dashboard", "axum", Kind::Normal),
    ];
    assert_eq!(graph_violations(&members, &fine), Vec::<String>::new());
}

#[test]
fn workspace_dependency_graph_holds() {
    let metadata = metadata();
    let members: BTreeSet<String> = packages(&metadata)
        .iter()
        .map(|package| string_field(package, "name").to_owned())
        .collect();
    for (name, _) in ALLOWED {
        assert!(
            members.contains(*name),
            "{name} is in the allowed graph but not a workspace member: {members:?}"
        );
    }
    let edges = edges(&metadata);
    assert!(
        edges.iter().any(|edge| edge.kind == Kind::Normal
            && is_governed(&edge.from)
            && is_governed(&edge.to)),
        "read no internal edges from `cargo metadata`; is the parsing broken? {edges:?}"
    );
    let violations = graph_violations(&members, &edges);
    assert!(
        violations.is_empty(),
        "the dependency graph breaks DESIGN.md §3:\n  {}",
        violations.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Source files: `//!` headers and forbidden macros.

/// The macros that must not be left in the code. Built by concatenation so that this file,
/// which is itself scanned, does not contain them.
const FORBIDDEN_MACROS: [&str; 3] =
    [concat!("dbg", "!("), concat!("todo", "!("), concat!("unimplemented", "!(")];

/// Whether the first non-empty line of `text` is a `//!` inner doc comment.
fn has_doc_header(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .is_some_and(|line| line.starts_with("//!"))
}

/// Each use of a [`FORBIDDEN_MACROS`] macro in `text`, as (1-based line, macro); a match must
/// not be the tail of a longer identifier (`my_dbg!(` is someone else's macro).
fn forbidden_macro_uses(text: &str) -> Vec<(usize, &'static str)> {
    let mut uses = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for pattern in FORBIDDEN_MACROS {
            let mut rest = 0;
            while let Some(found) = line[rest..].find(pattern) {
                let at = rest + found;
                let joined_to_identifier =
                    line[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
                if !joined_to_identifier {
                    uses.push((index + 1, pattern));
                }
                rest = at + pattern.len();
            }
        }
    }
    uses
}

/// The workspace root: the parent of the xtask crate.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The directories under `crates/`, sorted.
fn crate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .expect("cannot read crates/")
        .map(|entry| entry.expect("cannot read crates/").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every `.rs` file under `dir`, recursively, appended to `out`; a missing `dir` adds nothing.
fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("cannot list a source directory").path();
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The Rust files held to the source rules: `src/` and `tests/` of every crate under `crates/`,
/// of `xtask/` and of `benches/`. Sorted, so messages come in a stable order.
fn checked_rust_files(root: &Path) -> Vec<PathBuf> {
    let mut crate_roots = crate_dirs(root);
    crate_roots.push(root.join("xtask"));
    crate_roots.push(root.join("benches"));
    let mut files = Vec::new();
    for crate_root in crate_roots {
        collect_rust_files(&crate_root.join("src"), &mut files);
        collect_rust_files(&crate_root.join("tests"), &mut files);
    }
    files.sort();
    files
}

/// `path` relative to the workspace root, for messages.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[test]
fn doc_header_detection() {
    assert!(has_doc_header("//! Header.\nfn main() {}\n"));
    assert!(has_doc_header("\n\n   //! Indented, after blank lines.\n"));
    assert!(!has_doc_header("/// An outer doc comment.\nfn f() {}\n"));
    assert!(!has_doc_header("#![no_std]\n//! Too late.\n"));
    assert!(!has_doc_header("// A plain comment.\n//! Too late.\n"));
    assert!(!has_doc_header(""));
}

#[test]
fn forbidden_macro_detection() {
    let debug = format!("fn f() {{\n    let x = {}1);\n}}\n", FORBIDDEN_MACROS[0]);
    assert_eq!(forbidden_macro_uses(&debug), vec![(2, FORBIDDEN_MACROS[0])]);
    let both = format!("std::{}) {}\"later\")", FORBIDDEN_MACROS[2], FORBIDDEN_MACROS[1]);
    assert_eq!(forbidden_macro_uses(&both).len(), 2);
    let other = format!("my_{}x)", FORBIDDEN_MACROS[0]);
    assert_eq!(forbidden_macro_uses(&other), vec![]);
    assert_eq!(forbidden_macro_uses("fn todo() {}\n"), vec![]);
}

#[test]
fn every_source_file_opens_with_a_doc_header() {
    let root = workspace_root();
    let files = checked_rust_files(&root);
    assert!(
        files.iter().any(|f| f.ends_with("xtask/tests/repo.rs")),
        "the file walk missed this very file: {files:?}"
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = fs::read_to_string(path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            !has_doc_header(&text)
        })
        .map(|path| shown(&root, path))
        .collect();
    assert!(
        missing.is_empty(),
        "these files must open with a `//!` header saying what they are for:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn no_debugging_or_placeholder_macros() {
    let root = workspace_root();
    let mut found = Vec::new();
    for path in checked_rust_files(&root) {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        for (line, pattern) in forbidden_macro_uses(&text) {
            found.push(format!("{}:{line}: {pattern}", shown(&root, &path)));
        }
    }
    assert!(found.is_empty(), "remove these before committing:\n  {}", found.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// Workspace layout (DESIGN.md §2): a flat crates/ whose folder names equal package names.

#[test]
fn every_crate_folder_is_a_member_named_after_its_package() {
    let root = workspace_root();
    let metadata = metadata();
    let workspace_root_of_metadata = PathBuf::from(string_field(&metadata, "workspace_root"));
    let canonical = |path: &Path| {
        path.canonicalize().unwrap_or_else(|err| panic!("cannot resolve {}: {err}", path.display()))
    };
    assert_eq!(
        canonical(&workspace_root_of_metadata),
        canonical(&root),
        "`cargo metadata` describes another workspace"
    );
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .expect("`cargo metadata` has no `workspace_members`")
        .iter()
        .map(|id| id.as_str().expect("a package id is a string"))
        .collect();
    let by_manifest: BTreeMap<PathBuf, (&str, &str)> = packages(&metadata)
        .iter()
        .map(|package| {
            let manifest = PathBuf::from(string_field(package, "manifest_path"));
            (canonical(&manifest), (string_field(package, "name"), string_field(package, "id")))
        })
        .collect();

    let mut problems = Vec::new();
    let dirs = crate_dirs(&root);
    assert!(!dirs.is_empty(), "crates/ holds no crate");
    for dir in dirs {
        let folder =
            dir.file_name().and_then(|name| name.to_str()).expect("a crate folder name is UTF-8");
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            problems.push(format!("crates/{folder} has no Cargo.toml"));
            continue;
        }
        match by_manifest.get(&canonical(&manifest)) {
            None => problems.push(format!(
                "crates/{folder} is not a workspace member (add it to [workspace] members)"
            )),
            Some((name, id)) => {
                if !members.contains(id) {
                    problems.push(format!("crates/{folder} ({name}) is not a workspace member"));
                }
                if *name != folder {
                    problems.push(format!(
                        "crates/{folder} holds package `{name}`: the folder must be named after it"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "the layout breaks DESIGN.md §2:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// `unsafe` and the file system: each only where it is allowed (DEVELOPERS.md, rules 9 and 10).

/// The files that may hold `unsafe` code, each with why. A new use needs a measurement, a
/// `// SAFETY:` comment, a test, miri where it applies, and a line here.
const UNSAFE_ALLOWED: &[(&str, &str)] = &[
    ("crates/redwood-pager/src/io/uring.rs", "io_uring submissions hand buffers to the kernel"),
    ("crates/redwood-telemetry/src/heap.rs", "CountingAllocator implements GlobalAlloc"),
    (
        "crates/redwood-pager/src/log.rs",
        "PageCache::unpin/repin are unsafe: pins guard frame reuse",
    ),
    ("crates/redwood-pager/src/guard.rs", "a page guard releases its cache pin (PageCache::unpin)"),
    (
        "crates/redwood-pager/src/page.rs",
        "a prefetch of a page's lines (the intrinsic takes a pointer)",
    ),
    ("crates/redwood-bufpool/src/slab.rs", "the buffer pool's page memory: one slab of raw frames"),
    ("crates/redwood-bufpool/src/pool.rs", "reads and fills slab frames under the pin protocol"),
    ("crates/redwood-telemetry/tests/heap.rs", "the allocator's test calls its unsafe methods"),
    ("benches/src/engines/lmdb.rs", "heed's EnvOpenOptions::open is unsafe (a peer, benches only)"),
];

/// The source files (under a crate's `src/`) that may use `std::fs`, each with why: only the
/// pager's `io` module touches a database's files; everything else goes through `Vfs`.
const FS_ALLOWED: &[(&str, &str)] = &[
    ("crates/redwood-pager/src/io/", "the one module that touches the file system"),
    ("crates/redwood-telemetry/src/process.rs", "reads /proc/self/status, not a database"),
    ("crates/redwood-crash/src/main.rs", "the harness's scratch directory and report files"),
];

/// The code of each line of `text`: without `//` comments and without the contents of string
/// literals, which may span lines (a rough lexer, enough for the checks below, which look for a
/// word and a path; raw strings holding `"` would confuse it, and none do).
fn code_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_string = false;
    for line in text.lines() {
        let mut code = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if in_string => {
                    chars.next();
                }
                '"' => in_string = !in_string,
                '\'' if !in_string => {
                    // A char literal ('"' or '\'') must not open a string; a lifetime stays.
                    let rest: String = chars.clone().take(3).collect();
                    if rest.starts_with("\"'") || rest.starts_with("\\") {
                        chars.nth(if rest.starts_with('\\') { 2 } else { 1 });
                    }
                    code.push(c);
                }
                '/' if !in_string && chars.peek() == Some(&'/') => break,
                _ if in_string => {}
                _ => code.push(c),
            }
        }
        lines.push(code);
    }
    lines
}

/// Whether `code` holds `word` as a whole identifier.
fn has_word(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The 1-based lines of `text` whose code uses `unsafe`.
fn unsafe_lines(text: &str) -> Vec<usize> {
    let lines = code_lines(text).into_iter().enumerate();
    lines.filter(|(_, code)| has_word(code, "unsafe")).map(|(i, _)| i + 1).collect()
}

/// The 1-based lines of `text` whose code names `std::fs`: a path through it, an import of it
/// (`use std::fs` or `use std::{fs, ..}`), or, after such an import, a path `fs::..`.
fn fs_lines(text: &str) -> Vec<usize> {
    let codes = code_lines(text);
    let is_import = |code: &str| {
        let code = code.replace(' ', "");
        code.starts_with("usestd::fs") || (code.starts_with("usestd::{") && has_word(&code, "fs"))
    };
    let imports_fs = codes.iter().any(|code| is_import(code));
    let uses = |code: &str| {
        let path_start = |at: usize| {
            !code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_')
        };
        code.contains("std::fs")
            || is_import(code)
            || (imports_fs && code.match_indices("fs::").any(|(at, _)| path_start(at)))
    };
    let lines = codes.iter().enumerate();
    lines.filter(|(_, code)| uses(code)).map(|(i, _)| i + 1).collect()
}

/// Whether `shown` (a path relative to the root) is covered by an entry of `allowed`: equal to
/// it, or under it when the entry ends with `/`.
fn is_listed(allowed: &[(&str, &str)], shown: &str) -> bool {
    allowed.iter().any(|(entry, _)| {
        if entry.ends_with('/') { shown.starts_with(entry) } else { shown == *entry }
    })
}

#[test]
fn unsafe_and_fs_detection() {
    assert_eq!(unsafe_lines("fn f() {\n    unsafe { g() }\n}\n"), vec![2]);
    assert_eq!(unsafe_lines("// unsafe in a comment\nlet s = \"unsafe\";\n"), Vec::<usize>::new());
    assert_eq!(unsafe_lines("unsafe_code = 1; not_unsafe();\n"), Vec::<usize>::new());
    assert_eq!(unsafe_lines("unsafe impl Send for X {}\n"), vec![1]);
    assert_eq!(unsafe_lines("let s = \"a\n  unsafe\n\";\nlet c = '\"'; unsafe {}\n"), vec![4]);
    assert_eq!(fs_lines("let f = std::fs::File::open(p);\n"), vec![1]);
    assert_eq!(fs_lines("use std::{fs, io};\nfs::remove_file(p);\n"), vec![1, 2]);
    assert_eq!(fs_lines("use std::fs;\n"), vec![1]);
    assert_eq!(fs_lines("vfs::remove(p); // std::fs\nlet s = \"std::fs\";\n"), Vec::<usize>::new());
    assert_eq!(fs_lines("mem_fs::open();\n"), Vec::<usize>::new());
    assert!(is_listed(FS_ALLOWED, "crates/redwood-pager/src/io/os.rs"));
    assert!(!is_listed(FS_ALLOWED, "crates/redwood-cli/src/demo.rs"));
    assert!(is_listed(UNSAFE_ALLOWED, "crates/redwood-telemetry/src/heap.rs"));
}

#[test]
fn unsafe_appears_only_in_the_allowlist() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for path in checked_rust_files(&root) {
        let shown = shown(&root, &path);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        let lines = unsafe_lines(&text);
        if lines.is_empty() {
            continue;
        }
        seen.insert(shown.clone());
        if !is_listed(UNSAFE_ALLOWED, &shown) {
            found.extend(lines.iter().map(|line| format!("{shown}:{line}")));
        }
    }
    assert!(
        found.is_empty(),
        "`unsafe` outside the allowlist (UNSAFE_ALLOWED; see DEVELOPERS.md rule 9):\n  {}",
        found.join("\n  ")
    );
    for (entry, _) in UNSAFE_ALLOWED {
        assert!(seen.contains(*entry), "{entry} is allowlisted but holds no unsafe: remove it");
    }
}

#[test]
fn only_the_pagers_io_module_touches_files_with_std_fs() {
    let root = workspace_root();
    let mut found = Vec::new();
    for path in checked_rust_files(&root) {
        let shown = shown(&root, &path);
        // Tests and tooling may make, damage and inspect files as they like.
        if !shown.starts_with("crates/") || !shown.contains("/src/") {
            continue;
        }
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        if is_listed(FS_ALLOWED, &shown) {
            continue;
        }
        found.extend(fs_lines(&text).iter().map(|line| format!("{shown}:{line}")));
    }
    assert!(
        found.is_empty(),
        "std::fs outside the pager's io module (go through redwood_pager::io::Vfs, or add the \
         file to FS_ALLOWED with its reason):\n  {}",
        found.join("\n  ")
    );
}
