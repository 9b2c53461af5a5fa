//! How commands print: text for people or one JSON document for machines (`--json`), keys and
//! values shown as text when they are printable UTF-8 and escaped otherwise, and progress bars
//! on standard error that only a terminal sees.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// Where and how a command prints.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Text or JSON output.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints `document` in JSON mode, or the lines `text` makes otherwise.
    pub fn print(&self, document: &Value, text: impl FnOnce() -> String) {
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`redwood scan ... | head`) is not an error worth a message.
        let _ =
            if self.json { writeln!(stdout, "{document}") } else { writeln!(stdout, "{}", text()) };
    }

    /// A progress bar of `len` steps labelled `message`, drawn on standard error when it is a
    /// terminal and never in JSON mode.
    pub fn progress(&self, len: u64, message: &'static str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if self.json {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template(
            "{msg:>12} [{bar:32}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message);
        bar
    }
}

/// `bytes` as text: unchanged if it is printable UTF-8, else with every byte outside printable
/// ASCII escaped (`\xNN`), so any key or value prints on one line and round-trips by eye.
pub fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_owned(),
        _ => bytes
            .iter()
            .flat_map(|&byte| std::ascii::escape_default(byte))
            .map(char::from)
            .collect(),
    }
}

/// A stored entry as JSON.
pub fn entry_json(key: &[u8], value: &[u8]) -> Value {
    serde_json::json!({ "key": show(key), "value": show(value) })
}
