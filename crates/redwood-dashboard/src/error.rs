//! The crate's `Error`: what can keep a dashboard from starting. Once it runs, a failure
//! (a client that goes away, a snapshot of a closed database) ends that client or shows on the
//! page; it never reaches the application.

use std::net::SocketAddr;

/// Why a dashboard did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A non-loopback address without a token: anyone on the network could read the figures.
    #[error("binding {addr}, which is not a loopback address, needs a token")]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The token is empty, too long, or has characters that do not fit a URL unescaped.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// An option is out of its range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The server's runtime (its one worker thread) could not be started.
    #[error("cannot start the dashboard's runtime: {0}")]
    Runtime(std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
