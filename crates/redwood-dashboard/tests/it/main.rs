//! Integration tests of the dashboard: the server alone (`server.rs`: the snapshot rate, the
//! token, the origin check, the client bound, a slow client beside a busy writer) and the page
//! in a real headless Chromium driven over the DevTools protocol (`browser.rs`, `cdp.rs`).

mod browser;
mod cdp;
mod server;
mod support;
