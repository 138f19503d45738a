//! The outermost service, around the whole router: a request id for every request
//! (kept if a proxy in front set a plausible one), echoed on the response; the security
//! headers on every response that did not set its own; and `Retry-After` on every 503
//! (a store down, shutdown, the request deadline) that did not say when to come back.
//!
//! Hand-written as a plain `tower` service rather than `axum::middleware::from_fn`:
//! it wraps the router once, not each route, and costs no boxed future or cloned
//! service per request (it runs on every request, JWKS and discovery included).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};

/// The request id header, read from the request and echoed on the response.
pub(super) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers every response carries unless the handler set its own.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];

/// Request ids: a random per-process prefix and a counter (`3f9a61c2-1b7`), unique per
/// process and cheap: no random number and no string formatting per request.
#[derive(Clone)]
struct RequestIds {
    prefix: [u8; 8],
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let mut prefix = [0u8; 8];
        for (pair, b) in prefix.chunks_exact_mut(2).zip(crate::crypto::opaque::random_bytes::<4>()) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        Self { prefix, next: Arc::new(AtomicU64::new(1)) }
    }

    /// The next id: the prefix, `-`, the counter in lower-case hex.
    fn make(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 8 + 1 + 16];
        buf[..8].copy_from_slice(&self.prefix);
        buf[8] = b'-';
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        for (i, slot) in buf[9..9 + digits].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - i);
            *slot = HEX[((n >> shift) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&buf[..9 + digits]).unwrap_or(HeaderValue::from_static("-"))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Longest request id kept from the request; a longer one is replaced by ours.
const MAX_ID_LEN: usize = 128;

/// Whether an incoming request id is kept: short, and only letters, digits and
/// `-_.:/+=` (what proxies and tracing systems use). Anything else (a client stuffing
/// the logs) is replaced by an id of ours.
fn is_plausible_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= MAX_ID_LEN && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:/+=".contains(c))
}

/// The edge service around `S` (see the module documentation).
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    ids: RequestIds,
}

impl<S> Edge<S> {
    /// Wraps `inner`, with a fresh request-id prefix.
    pub(super) fn new(inner: S) -> Self {
        Self { inner, ids: RequestIds::new() }
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for Edge<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(v) if is_plausible_id(v) => v.clone(),
            _ => {
                let v = self.ids.make();
                request.headers_mut().insert(X_REQUEST_ID, v.clone());
                v
            }
        };
        EdgeFuture { inner: self.inner.call(request), id: Some(id) }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Edge`]: adds the headers once the response is ready.
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let h = response.headers_mut();
        for (name, value) in SECURITY_HEADERS {
            if !h.contains_key(&name) {
                h.insert(name, value);
            }
        }
        if let Some(id) = this.id.take() {
            h.insert(X_REQUEST_ID, id);
        }
        // Every 503 (a store down, shutting down, the deadline) says when to come back.
        if response.status() == StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key(header::RETRY_AFTER)
        {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower_service::Service as _;

    use super::*;

    /// A route answering `status` with the given headers.
    #[derive(Clone)]
    struct Answer(StatusCode, Vec<(HeaderName, &'static str)>);

    impl tower_service::Service<Request<()>> for Answer {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<()>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            let mut r = Response::new(());
            *r.status_mut() = self.0;
            for (name, value) in &self.1 {
                r.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
            }
            std::future::ready(Ok(r))
        }
    }

    async fn answer(status: StatusCode, headers: Vec<(HeaderName, &'static str)>) -> Response<()> {
        Edge::new(Answer(status, headers)).call(Request::new(())).await.unwrap()
    }

    #[tokio::test]
    async fn every_response_gets_the_security_headers_unless_it_set_its_own() {
        let r = answer(StatusCode::OK, vec![]).await;
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(r.headers()[&name], value, "{name}");
        }
        assert!(!r.headers().contains_key(header::RETRY_AFTER));
        let own = answer(StatusCode::OK, vec![(header::CONTENT_SECURITY_POLICY, "default-src 'none'")]).await;
        assert_eq!(own.headers()[header::CONTENT_SECURITY_POLICY], "default-src 'none'");
        assert_eq!(own.headers().get_all(header::CONTENT_SECURITY_POLICY).iter().count(), 1);
    }

    #[tokio::test]
    async fn every_503_says_when_to_come_back() {
        let r = answer(StatusCode::SERVICE_UNAVAILABLE, vec![]).await;
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let own = answer(StatusCode::SERVICE_UNAVAILABLE, vec![(header::RETRY_AFTER, "30")]).await;
        assert_eq!(own.headers()[header::RETRY_AFTER], "30");
        let other = answer(StatusCode::INTERNAL_SERVER_ERROR, vec![]).await;
        assert!(!other.headers().contains_key(header::RETRY_AFTER));
    }

    #[tokio::test]
    async fn the_request_id_is_echoed_and_a_plausible_incoming_one_kept() {
        let mut edge = Edge::new(Answer(StatusCode::OK, vec![]));
        let mut request = Request::new(());
        request.headers_mut().insert(X_REQUEST_ID, HeaderValue::from_static("lb-7f3a"));
        let r = edge.call(request).await.unwrap();
        assert_eq!(r.headers()[X_REQUEST_ID], "lb-7f3a");
        let r = edge.call(Request::new(())).await.unwrap();
        assert_eq!(r.headers()[X_REQUEST_ID].as_bytes()[..8], edge.ids.prefix);
    }

    #[test]
    fn request_ids_are_the_prefix_and_a_hex_counter() {
        let ids = RequestIds { prefix: *b"0a1b2c3d", next: Arc::new(AtomicU64::new(1)) };
        let got: Vec<_> = (0..3).map(|_| ids.make()).collect();
        assert_eq!(got, ["0a1b2c3d-1", "0a1b2c3d-2", "0a1b2c3d-3"]);
        ids.next.store(0x1f, Ordering::Relaxed);
        assert_eq!(ids.make(), "0a1b2c3d-1f");
        ids.next.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(ids.make(), "0a1b2c3d-ffffffffffffffff");
        ids.next.store(0, Ordering::Relaxed);
        assert_eq!(ids.make(), "0a1b2c3d-0");
    }

    #[test]
    fn only_short_plain_incoming_ids_are_kept() {
        for kept in ["proxy-given-1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a/b:c.d_e+f="] {
            assert!(is_plausible_id(&HeaderValue::from_static(kept)), "{kept}");
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        for replaced in ["", "has space", "quote\"", "tab\tid", long.as_str()] {
            let v = HeaderValue::from_str(replaced).unwrap();
            assert!(!is_plausible_id(&v), "{replaced:?}");
        }
        assert!(is_plausible_id(&HeaderValue::from_str(&"x".repeat(MAX_ID_LEN)).unwrap()));
    }

    #[test]
    fn the_prefix_is_eight_lower_case_hex_digits() {
        let ids = RequestIds::new();
        assert!(ids.prefix.iter().all(|c| HEX.contains(c)), "{:?}", ids.prefix);
        let other = RequestIds::new();
        let (a, b) = (ids.make(), other.make());
        assert_eq!(a.len(), 10);
        assert_ne!(a, b, "two processes get different prefixes (4 random bytes)");
    }
}
