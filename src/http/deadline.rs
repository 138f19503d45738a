//! The request deadline: every route that reaches a store answers within
//! `request_timeout`. A backend stall that no port timeout caught gives a 503
//! (`temporarily_unavailable`, or the error page for a browser), never a hang; the edge
//! adds `Retry-After`, as to every 503.
//!
//! A plain tower layer rather than `from_fn`: no boxed future per request, and the timer
//! is only armed when the route actually waits (the route is polled first).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::pages;

/// Bounds each request by `limit` (see the module documentation).
#[derive(Clone, Copy)]
pub(super) struct Deadline {
    limit: Duration,
}

impl Deadline {
    /// A deadline of `limit` per request.
    pub(super) fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> tower_layer::Layer<S> for Deadline {
    type Service = Bounded<S>;
    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded { inner, limit: self.limit }
    }
}

/// A service whose requests are bounded by a deadline (see [`Deadline`]).
#[derive(Clone)]
pub(super) struct Bounded<S> {
    inner: S,
    limit: Duration,
}

impl<S> tower_service::Service<Request> for Bounded<S>
where
    S: tower_service::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoundedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let wants_page = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        BoundedFuture {
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(self.limit),
            limit: self.limit,
            wants_page,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Bounded`].
    pub(super) struct BoundedFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: tokio::time::Sleep,
        limit: Duration,
        wants_page: bool,
    }
}

impl<F, E> Future for BoundedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => match this.sleep.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Ok(timed_out(*this.limit, *this.wants_page))),
            },
        }
    }
}

/// The answer when the deadline passes first (the route's future is dropped with it).
fn timed_out(limit: Duration, wants_page: bool) -> Response {
    tracing::error!(limit_ms = limit.as_millis() as u64, "request timed out: answered 503");
    if wants_page {
        pages::error(503, "temporarily_unavailable", crate::protocol::authorize::Locale::Vi)
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
            r#"{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable"}"#,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use tower_layer::Layer as _;
    use tower_service::Service as _;

    use super::*;

    /// A route that answers after `delay` with `status`.
    #[derive(Clone)]
    struct After {
        delay: Duration,
        status: StatusCode,
    }

    impl tower_service::Service<Request> for After {
        type Response = Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request) -> Self::Future {
            let (delay, status) = (self.delay, self.status);
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(status.into_response())
            })
        }
    }

    async fn run(delay_ms: u64, status: StatusCode, accept: &str) -> Response {
        let route = After { delay: Duration::from_millis(delay_ms), status };
        let mut bounded = Deadline::new(Duration::from_millis(100)).layer(route);
        let request = Request::builder().header(header::ACCEPT, accept).body(Body::empty()).unwrap();
        bounded.call(request).await.unwrap()
    }

    async fn body(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_route_within_the_deadline_answers_as_it_likes() {
        let r = run(99, StatusCode::OK, "application/json").await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_route_gives_the_oauth_503() {
        let r = run(60_000, StatusCode::OK, "application/json").await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert!(body(r).await.contains(r#""error":"temporarily_unavailable""#));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_page_gives_the_error_page() {
        let r = run(60_000, StatusCode::OK, "text/html,application/xhtml+xml").await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert!(body(r).await.contains("<html"));
    }
}
