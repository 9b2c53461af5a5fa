//! The `shape` message: the top levels of the visualized table's tree (`redwood::TreeShape`,
//! from `ShapeSource::shape`) as JSON, and [`ShapeSchedule`], which decides when the sampler
//! walks the tree again: at most once per shape interval, and only when something changed (the
//! last commit's LSN or the commit count moved, or tree events arrived) or no walk was taken
//! yet. A walk whose message would be the same as the last one publishes nothing.
//!
//! The message's fields (`status` says which of `shape` and `message` are set):
//!
//! ```text
//! { "type": "shape", "seq": 3, "table": "users", "taken_at_unix_ms": 1767225600000,
//!   "limits": { "levels_max": 4, "nodes_per_level_max": 64 },
//!   "status": "ok",                   // or "missing" (no such table yet), or "error"
//!   "message": null,                  // "missing" and "error": a sentence to show as text
//!   "error_kind": null,               // "error": the redwood::ErrorKind, e.g. "Corrupt"
//!   "shape": {                        // "ok" only, else null
//!     "root": 14, "height": 3, "entries": 40000,
//!     "levels": [                     // from the root down, at most levels_max
//!       { "depth": 0, "truncated": false,
//!         "nodes": [                  // in key order
//!           { "page_id": 14, "kind": "interior", "cells": 3, "used_bytes": 120,
//!             "page_bytes": 4096, "parent": null, "first_key_prefix": "00000000" } ] } ] } }
//! ```
//!
//! `first_key_prefix` is the hex of the node's first key's first bytes (at most
//! `redwood::SHAPE_KEY_PREFIX_MAX_BYTES`), `parent` the page id of the node's parent.

use std::time::{Duration, Instant};

use redwood::{NodeKind, ShapeLimits, TreeShape};
use serde_json::{Value, json};

/// When the sampler walks the tree again.
#[derive(Debug)]
pub(crate) struct ShapeSchedule {
    interval: Duration,
    /// When the last walk was taken (`None` before the first).
    last_walk: Option<Instant>,
    /// The last commit's LSN and the commit count, as the last snapshot had them.
    seen: Option<(u64, u64)>,
    /// Whether something changed since the last walk (true before the first).
    pending: bool,
}

impl ShapeSchedule {
    /// At most one walk per `interval`.
    pub fn new(interval: Duration) -> ShapeSchedule {
        ShapeSchedule { interval, last_walk: None, seen: None, pending: true }
    }

    /// Takes in what one snapshot saw: the database's commit figures, and whether tree events
    /// arrived since the last snapshot.
    pub fn observe(&mut self, commits: (u64, u64), events_arrived: bool) {
        if self.seen != Some(commits) || events_arrived {
            self.pending = true;
        }
        self.seen = Some(commits);
    }

    /// Whether a walk is due at `now`; if so, counts it as taken.
    pub fn take_due(&mut self, now: Instant) -> bool {
        let rested = self.last_walk.is_none_or(|last| now.duration_since(last) >= self.interval);
        if !(self.pending && rested) {
            return false;
        }
        self.pending = false;
        self.last_walk = Some(now);
        true
    }
}

/// What one walk gave.
pub(crate) enum Walked {
    /// The shape.
    Shape(TreeShape),
    /// The table does not exist (yet).
    Missing,
    /// The walk failed: a damaged page (`Corrupt`), an I/O error, or a panic in the walk.
    Failed {
        /// The error as a sentence.
        message: String,
        /// Its `redwood::ErrorKind`, by name.
        kind: String,
    },
}

impl Walked {
    /// The result of `ShapeSource::shape`, sorted (the table missing is not a failure).
    pub fn from_result(result: redwood::Result<TreeShape>) -> Walked {
        match result {
            Ok(shape) => Walked::Shape(shape),
            Err(redwood::Error::TableNotFound(_)) => Walked::Missing,
            Err(error) => {
                Walked::Failed { message: error.to_string(), kind: format!("{:?}", error.kind()) }
            }
        }
    }
}

/// The body of a shape message (all but `seq` and `taken_at_unix_ms`, so that two walks that
/// saw the same tree compare equal).
pub(crate) fn shape_body(table: &str, limits: ShapeLimits, walked: &Walked) -> Value {
    let (status, message, error_kind, shape) = match walked {
        Walked::Shape(shape) => ("ok", None, None, Some(shape_json(shape))),
        Walked::Missing => {
            ("missing", Some(format!("table {table:?} does not exist yet")), None, None)
        }
        Walked::Failed { message, kind } => {
            ("error", Some(message.clone()), Some(kind.as_str()), None)
        }
    };
    json!({
        "type": "shape",
        "table": table,
        "limits": {
            "levels_max": limits.levels_max,
            "nodes_per_level_max": limits.nodes_per_level_max,
        },
        "status": status,
        "message": message,
        "error_kind": error_kind,
        "shape": shape,
    })
}

/// The message: `body` with its number and time.
pub(crate) fn shape_message(mut body: Value, seq: u64, taken_at_unix_ms: u64) -> Value {
    body["seq"] = json!(seq);
    body["taken_at_unix_ms"] = json!(taken_at_unix_ms);
    body
}

fn shape_json(shape: &TreeShape) -> Value {
    let levels: Vec<Value> = shape
        .levels
        .iter()
        .map(|level| {
            let nodes: Vec<Value> = level
                .nodes
                .iter()
                .map(|node| {
                    json!({
                        "page_id": node.page_id,
                        "kind": match node.kind {
                            NodeKind::Leaf => "leaf",
                            NodeKind::Interior => "interior",
                        },
                        "cells": node.cells,
                        "used_bytes": node.used_bytes,
                        "page_bytes": node.page_bytes,
                        "parent": node.parent,
                        "first_key_prefix": hex(&node.first_key_prefix),
                    })
                })
                .collect();
            json!({ "depth": level.depth, "truncated": level.truncated, "nodes": nodes })
        })
        .collect();
    json!({
        "root": shape.root,
        "height": shape.height,
        "entries": shape.entries,
        "levels": levels,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redwood::{PageId, ShapeLevel, ShapeNode};

    #[test]
    fn a_walk_is_due_once_per_interval_and_only_after_a_change() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut schedule = ShapeSchedule::new(second);
        schedule.observe((5, 2), false);
        assert!(schedule.take_due(start), "the first walk is due at once");
        schedule.observe((5, 2), false);
        assert!(!schedule.take_due(start + 2 * second), "nothing changed");
        schedule.observe((6, 3), false);
        assert!(schedule.take_due(start + 2 * second));
        schedule.observe((7, 4), false);
        assert!(!schedule.take_due(start + 2 * second + second / 2), "too soon");
        assert!(schedule.take_due(start + 3 * second), "the change waited for the interval");
        schedule.observe((7, 4), true);
        assert!(schedule.take_due(start + 4 * second), "events arrived");
    }

    #[test]
    fn the_message_carries_the_levels_and_says_what_failed() {
        let leaf = |page_id, parent| ShapeNode {
            page_id,
            kind: NodeKind::Leaf,
            cells: 10,
            used_bytes: 2048,
            page_bytes: 4096,
            parent,
            first_key_prefix: vec![0xab, 0x01],
        };
        let root =
            ShapeNode { kind: NodeKind::Interior, first_key_prefix: vec![], ..leaf(3, None) };
        let shape = TreeShape {
            root: 3,
            height: 2,
            entries: 20,
            levels: vec![
                ShapeLevel { depth: 0, nodes: vec![root], truncated: false },
                ShapeLevel { depth: 1, nodes: vec![leaf(4, Some(3))], truncated: true },
            ],
        };
        let limits = ShapeLimits::default();
        let body = shape_body("t", limits, &Walked::Shape(shape));
        let message = shape_message(body.clone(), 7, 1);
        assert_eq!((message["type"].as_str(), message["seq"].as_u64()), (Some("shape"), Some(7)));
        assert_eq!(message["status"], "ok");
        assert_eq!(message["shape"]["root"], 3);
        assert_eq!(message["shape"]["levels"][0]["nodes"][0]["kind"], "interior");
        assert_eq!(message["shape"]["levels"][0]["nodes"][0]["parent"], Value::Null);
        let node = &message["shape"]["levels"][1]["nodes"][0];
        assert_eq!((node["page_id"].as_u64(), node["parent"].as_u64()), (Some(4), Some(3)));
        assert_eq!(node["first_key_prefix"], "ab01");
        assert_eq!(message["shape"]["levels"][1]["truncated"], true);
        assert_eq!(message["limits"]["levels_max"], 4);

        let missing = shape_body(
            "t",
            limits,
            &Walked::from_result(Err(redwood::Error::TableNotFound("t".into()))),
        );
        assert_eq!(missing["status"], "missing");
        assert_eq!(missing["message"], "table \"t\" does not exist yet");
        assert_eq!(missing["shape"], Value::Null);

        let corrupt = redwood::Error::Tree(redwood::TreeError::Corrupt {
            page_id: PageId::new(9),
            reason: "a bad node".into(),
        });
        let failed = shape_body("t", limits, &Walked::from_result(Err(corrupt)));
        assert_eq!(failed["status"], "error");
        assert_eq!(failed["error_kind"], "Corrupt");
        assert!(failed["message"].as_str().unwrap().contains("a bad node"), "{failed}");
    }
}
