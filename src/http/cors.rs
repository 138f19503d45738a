//! CORS for the endpoints a browser application (a public client with PKCE) calls from
//! its own origin: discovery, JWKS, token, introspection, revocation and userinfo. No
//! cookies are involved there, so any origin may call them, without credentials. Pages
//! (authorization, sign-in, account, admin) are never opened to other origins.
//!
//! A plain tower service around the router: a request without `Origin` (every server-
//! to-server call) costs one header lookup.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocol::discovery::paths;

/// Whether `path` is one of the endpoints open to other origins.
fn open_to_browsers(path: &str) -> bool {
    matches!(path, paths::DISCOVERY | paths::JWKS | paths::TOKEN | paths::INTROSPECT | paths::REVOKE | paths::USERINFO)
}

/// The CORS service around `S` (see the module documentation).
#[derive(Clone)]
pub struct Cors<S> {
    inner: S,
}

impl<S> Cors<S> {
    pub(super) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> tower_service::Service<Request<B>> for Cors<S>
where
    S: tower_service::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cross_origin = request.headers().contains_key(header::ORIGIN) && open_to_browsers(request.uri().path());
        if cross_origin
            && request.method() == Method::OPTIONS
            && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return CorsFuture::Preflight { response: Some(preflight()) };
        }
        CorsFuture::Inner { inner: self.inner.call(request), cross_origin }
    }
}

/// The answer to a preflight request.
fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

pin_project_lite::pin_project! {
    /// The response future of [`Cors`].
    #[project = CorsProjection]
    pub enum CorsFuture<F> {
        /// A preflight, answered here.
        Preflight { response: Option<Response> },
        /// Any other request, answered by the router.
        Inner { #[pin] inner: F, cross_origin: bool },
    }
}

impl<F, E> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CorsProjection::Preflight { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| StatusCode::NO_CONTENT.into_response())))
            }
            CorsProjection::Inner { inner, cross_origin } => {
                let mut response = ready!(inner.poll(cx))?;
                if *cross_origin {
                    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}
