//! `redwood recover DB --out NEW`: copies what can still be read out of a damaged database into
//! a new one (`redwood::recover`), with a progress bar, and reports per table what was
//! recovered and what was lost, with page ids and key ranges.

use std::path::Path;

use redwood::{LostPart, RecoverReport};
use serde_json::json;

use crate::commands::Outcome;
use crate::exit::{Code, Failure};
use crate::output::{Output, show};

/// Runs the recovery of `path` into `destination`.
pub fn run(out: &Output, path: &Path, destination: &Path) -> Outcome {
    let bar = out.progress(0, "recovering");
    let report = redwood::recover(path, destination, |copied, expected| {
        bar.set_length(expected.max(copied));
        bar.set_position(copied);
    })
    .map_err(|error| Failure::from_error(path, error))?;
    bar.finish_and_clear();
    let document = report_json(&report);
    out.print(&document, || report_text(&report));
    if report.is_complete() {
        return Ok(());
    }
    let lost: usize = report.tables.iter().map(|table| table.lost.len()).sum::<usize>()
        + report.catalog_lost.len();
    Err(Failure::new(
        Code::Damaged,
        format!(
            "recovered {} entries into {}, but {lost} part(s) of {} could not be read; see above",
            report.entries_recovered(),
            destination.display(),
            path.display()
        ),
    ))
}

fn part_json(part: &LostPart) -> serde_json::Value {
    json!({
        "page": part.page_id.map(|page| page.get()),
        "from_key": part.from_key.as_deref().map(show),
        "to_key": part.to_key.as_deref().map(show),
        "reason": part.reason,
    })
}

fn report_json(report: &RecoverReport) -> serde_json::Value {
    let tables: Vec<_> = report
        .tables
        .iter()
        .map(|table| {
            json!({
                "name": table.name,
                "entries_recovered": table.entries_recovered,
                "entries_recorded": table.entries_recorded,
                "lost": table.lost.iter().map(part_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "destination": report.destination.display().to_string(),
        "complete": report.is_complete(),
        "entries_recovered": report.entries_recovered(),
        "tables": tables,
        "catalog_lost": report.catalog_lost.iter().map(part_json).collect::<Vec<_>>(),
        "notes": report.notes,
    })
}

/// `from .. to` of a lost part, as people read it.
fn key_range(part: &LostPart) -> String {
    match (&part.from_key, &part.to_key) {
        (Some(from), Some(to)) if from == to => format!("key {:?}", show(from)),
        (from, to) => format!(
            "keys {} .. {}",
            from.as_deref().map_or("(start)".to_owned(), |key| format!("{:?}", show(key))),
            to.as_deref().map_or("(end)".to_owned(), |key| format!("{:?}", show(key)))
        ),
    }
}

fn report_text(report: &RecoverReport) -> String {
    let mut lines = Vec::new();
    for note in &report.notes {
        lines.push(format!("note: {note}"));
    }
    for part in &report.catalog_lost {
        let page = part.page_id.map(|page| format!("{page}: ")).unwrap_or_default();
        lines.push(format!(
            "catalog: lost {page}tables named in {}: {}",
            key_range(part),
            part.reason
        ));
    }
    for table in &report.tables {
        lines.push(format!(
            "table {:?}: {} of {} entries recovered",
            table.name, table.entries_recovered, table.entries_recorded
        ));
        for part in &table.lost {
            let page = part.page_id.map(|page| format!("{page}, ")).unwrap_or_default();
            lines.push(format!("  lost {page}{}: {}", key_range(part), part.reason));
        }
    }
    let verdict = if report.is_complete() { "complete" } else { "INCOMPLETE" };
    lines.push(format!(
        "recovered {} entries into {} ({verdict})",
        report.entries_recovered(),
        report.destination.display()
    ));
    lines.join("\n")
}
