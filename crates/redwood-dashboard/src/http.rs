//! The routes (`GET /`, the page; `GET /snapshot.json`, the newest snapshot;
//! `GET /shape.json`, the newest shape message; `GET /ws`, the stream), the checks every
//! request passes (the token, when one is set), the origin check of a WebSocket upgrade, and
//! the listener that bounds open connections. Nothing here writes to the database: the server
//! holds only a snapshot source and a shape source, both read-only.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::server::Shared;

/// The largest message or frame a client may send (clients have nothing to say; the bound
/// keeps a hostile one from making the server buffer much).
pub(crate) const INCOMING_MESSAGE_MAX_BYTES: usize = 4096;

/// The page, with its style and script inlined, so that one request (which carries the token)
/// fetches all of it.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("../assets/index.html")
        .replace("/*APP_CSS*/", include_str!("../assets/app.css"))
        .replace("/*APP_JS*/", include_str!("../assets/app.js"))
});

/// What the page may load: nothing from elsewhere, and only its own inline style and script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Serves `shared`'s routes on `listener` until the runtime stops.
pub(crate) async fn serve(listener: TcpListener, connections_max: usize, shared: Arc<Shared>) {
    let router = Router::new()
        .route("/", get(page))
        .route("/snapshot.json", get(snapshot))
        .route("/shape.json", get(shape))
        .route("/ws", get(crate::ws::upgrade))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), guard))
        .with_state(shared);
    let listener = BoundedListener { listener, permits: Arc::new(Semaphore::new(connections_max)) };
    if let Err(error) = axum::serve(listener, router).await {
        tracing::warn!(target: "redwood::dashboard", %error, "the dashboard stopped serving");
    }
}

/// Every request: the token first (401 without it), then the route, then headers that keep
/// the page from being framed, sniffed or cached.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(token) = &shared.token
        && !presents_token(request.headers(), request.uri().query(), token)
    {
        return (StatusCode::UNAUTHORIZED, "a token is required (?token=... or a bearer token)\n")
            .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Whether the request carries `token`: `Authorization: Bearer TOKEN` or `token=TOKEN` in the
/// query.
pub(crate) fn presents_token(headers: &HeaderMap, query: Option<&str>, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| same(given, token));
    let in_query = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("token="))
        .any(|given| same(given, token));
    bearer || in_query
}

/// Compares two strings in time that depends on their lengths only.
fn same(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given.bytes().zip(expected.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// Whether a WebSocket upgrade may proceed: without an `Origin` (not a browser, so not a
/// page of another site), or with one whose host and port are the request's `Host`.
pub(crate) fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let (Ok(origin), Some(Ok(host))) =
        (origin.to_str(), headers.get(header::HOST).map(|host| host.to_str()))
    else {
        return false;
    };
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

async fn page() -> Response {
    let content_type = HeaderValue::from_static("text/html; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], PAGE.as_str()).into_response()
}

async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    let newest = shared.snapshots.borrow().clone();
    json_or(newest, "no snapshot yet\n")
}

async fn shape(State(shared): State<Arc<Shared>>) -> Response {
    let newest = shared.shapes.borrow().clone();
    json_or(newest, "no shape yet (or no table to draw)\n")
}

/// `text` as a JSON response, or 503 with `missing` when there is none yet.
fn json_or(text: Option<axum::extract::ws::Utf8Bytes>, missing: &'static str) -> Response {
    match text {
        Some(text) => {
            let content_type = HeaderValue::from_static("application/json");
            ([(header::CONTENT_TYPE, content_type)], text.as_str().to_owned()).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, missing).into_response(),
    }
}

/// A refusal: `status` with a one-line reason.
pub(crate) fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

/// Configures an accepted upgrade's limits.
pub(crate) fn limited(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade.max_message_size(INCOMING_MESSAGE_MAX_BYTES).max_frame_size(INCOMING_MESSAGE_MAX_BYTES)
}

/// A listener that holds one permit per open connection: past `connections_max`, it stops
/// accepting until a connection closes (further clients wait in the kernel's listen queue).
struct BoundedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                // The semaphore is never closed; should it be, stop accepting for good.
                std::future::pending::<()>().await;
                continue;
            };
            match self.listener.accept().await {
                Ok((stream, addr)) => return (BoundedStream { stream, _permit: permit }, addr),
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::debug!(target: "redwood::dashboard", %error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// An accepted connection and its permit, given back when the connection is dropped.
struct BoundedStream {
    stream: tokio::net::TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for BoundedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for BoundedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_token_is_taken_from_the_header_or_the_query() {
        assert!(presents_token(&headers(&[(header::AUTHORIZATION, "Bearer s3")]), None, "s3"));
        assert!(presents_token(&HeaderMap::new(), Some("a=1&token=s3"), "s3"));
        assert!(!presents_token(&HeaderMap::new(), Some("token=s4"), "s3"));
        assert!(!presents_token(&HeaderMap::new(), Some("token=s3x"), "s3"));
        assert!(!presents_token(&headers(&[(header::AUTHORIZATION, "Basic s3")]), None, "s3"));
        assert!(!presents_token(&HeaderMap::new(), None, "s3"));
    }

    #[test]
    fn only_the_pages_own_origin_may_upgrade() {
        let host = (header::HOST, "127.0.0.1:7878");
        assert!(origin_allowed(&headers(std::slice::from_ref(&host))));
        assert!(origin_allowed(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:7878")
        ])));
        assert!(!origin_allowed(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ])));
        assert!(!origin_allowed(&headers(&[host.clone(), (header::ORIGIN, "null")])));
        assert!(!origin_allowed(&headers(&[(header::ORIGIN, "http://127.0.0.1:7878")])));
    }
}
