//! Fault injection for token endpoints: a relay in front of a peer's token URL that passes
//! requests through, answers 503 (an outage), or holds them without answering (a request in
//! flight when its sender dies).

use std::sync::{
    atomic::{AtomicU8, AtomicUsize, Ordering},
    Arc,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};

/// What the relay does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RelayMode {
    /// Forward to the peer and return its answer.
    Pass = 0,
    /// `503` with `Retry-After: 1`.
    Down = 1,
    /// Never answer (the connection stays open until the client gives up).
    Hold = 2,
}

/// A running relay (serving until the test's runtime ends).
#[derive(Clone)]
pub struct TokenRelay {
    /// The relay's token URL, to put in an app definition.
    pub url: String,
    mode: Arc<AtomicU8>,
    held: Arc<AtomicUsize>,
}

impl TokenRelay {
    /// Starts a relay forwarding to `token_url`.
    ///
    /// # Panics
    /// If it cannot listen.
    pub async fn start(token_url: String) -> Self {
        let mode = Arc::new(AtomicU8::new(RelayMode::Pass as u8));
        let held = Arc::new(AtomicUsize::new(0));
        let state = (token_url, mode.clone(), held.clone());
        let router = Router::new().route(
            "/token",
            post(move |headers: HeaderMap, body: Bytes| {
                let (url, mode, held) = state.clone();
                async move { relay(&url, &mode, &held, &headers, body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url: format!("http://{addr}/token"),
            mode,
            held,
        }
    }

    /// Switches the mode.
    pub fn set(&self, mode: RelayMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests held so far.
    #[must_use]
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

async fn relay(
    url: &str,
    mode: &AtomicU8,
    held: &AtomicUsize,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match mode.load(Ordering::SeqCst) {
        m if m == RelayMode::Down as u8 => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                "down",
            )
                .into_response();
        }
        m if m == RelayMode::Hold as u8 => {
            held.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        _ => {}
    }
    let mut request = reqwest::Client::new().post(url).body(body);
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.bytes().await.unwrap()).into_response()
}
