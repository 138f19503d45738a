//! OpenTelemetry trace export: with `DINHDANH_OTLP_ENDPOINT` a collector (here a tiny
//! in-test HTTP listener) receives OTLP/HTTP protobuf exports of the request spans, with
//! the route template and an incoming `traceparent` honoured, and no query strings;
//! without the setting nothing is built and nothing is sent.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::helpers::TestApp;

/// One request the collector received: method, path, content type, body.
type Export = (String, String, String, Bytes);

/// Starts a fake collector; returns its base URL and what it received.
async fn collector() -> (String, Arc<Mutex<Vec<Export>>>) {
    let received: Arc<Mutex<Vec<Export>>> = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 4 << 20).await.unwrap();
            let ct = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            seen.lock().unwrap().push((parts.method.to_string(), parts.uri.path().to_owned(), ct, body));
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn otlp_export_reaches_the_collector() {
    let (endpoint, received) = collector().await;
    let provider = dinhdanh::telemetry::otlp_provider_for(Some(&endpoint)).unwrap().unwrap();
    // Current-thread runtime: the server's tasks run on this thread and see this subscriber.
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(dinhdanh::telemetry::otlp_layer(&provider)),
    );
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = http
        .get(app.url("/.well-known/openid-configuration"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http.get(app.url("/authorize?client_id=nobody&login_hint=001099012345&state=s3cr3t-state")).send().await;
    assert!(res.unwrap().status().is_client_error());
    // An id inside the path (here an interaction id) is exported as the route template only.
    let res = http.get(app.url("/interaction/raw-interaction-id-0123456789")).send().await.unwrap();
    assert!(res.status().is_client_error());
    assert!(received.lock().unwrap().is_empty(), "export is batched, off the request path");

    let flushing = provider.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush()).await.unwrap().unwrap();
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector received nothing");
    let all: Vec<u8> = got.iter().flat_map(|(_, _, _, body)| body.to_vec()).collect();
    for (method, path, ct, body) in &got {
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/v1/traces"));
        assert_eq!(ct, "application/x-protobuf");
        assert!(!body.is_empty());
    }
    assert!(contains(&all, b"/.well-known/openid-configuration"), "route template exported");
    assert!(contains(&all, b"GET /.well-known/openid-configuration"), "span named after method and route");
    let id: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert!(contains(&all, &id), "the incoming traceparent's trace id is kept");
    assert!(!contains(&all, b"001099012345"), "no personal number");
    assert!(!contains(&all, b"s3cr3t-state"), "no query string");
    assert!(contains(&all, b"/interaction/{id}"), "the interaction route template");
    assert!(!contains(&all, b"raw-interaction-id-0123456789"), "no raw path with its ids");
    tokio::task::spawn_blocking(move || provider.shutdown()).await.unwrap().unwrap();
}

#[tokio::test]
async fn without_the_setting_nothing_is_exported() {
    let (_endpoint, received) = collector().await;
    assert!(dinhdanh::telemetry::otlp_provider_for(None).unwrap().is_none());
    let app = TestApp::spawn().await;
    let res = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(received.lock().unwrap().is_empty());
    let config = &app.running.state.services.config;
    assert_eq!(config.otlp_endpoint, None);
}
