//! A tiny HTTP/1.1 server on `127.0.0.1:0` for what the runner must publish
//! or receive itself: documents the OP fetches during dynamic registration
//! (a JWK Set, a sector identifier document) and the back-channel logout
//! requests the OP POSTs. Each check starts its own; it stops when dropped.
//!
//! Every connection serves one request (`Connection: close`). `GET` answers
//! a published document (404 otherwise); `POST` is recorded and answered
//! `200` with `Cache-Control: no-store` (Back-Channel Logout 1.0 §2.8).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// A request the listener received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Received {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of a header (name in any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub(crate) fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }
}

#[derive(Default)]
struct Shared {
    /// path -> (content type, body)
    docs: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// Every request, in arrival order.
    requests: Mutex<Vec<Received>>,
}

/// The running server.
pub(crate) struct Listener {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Binds `127.0.0.1:0` and starts serving.
    pub(crate) async fn start() -> Result<Self, String> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("cannot read the listener address: {e}"))?.port();
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), serve(stream, &state)).await;
                });
            }
        });
        Ok(Self { base: format!("http://127.0.0.1:{port}"), shared, task })
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Publishes a document at `path`.
    pub(crate) fn publish(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        if let Ok(mut docs) = self.shared.docs.lock() {
            docs.insert(path.to_string(), (content_type.to_string(), body.into()));
        }
    }

    /// Every request received so far for `path`.
    pub(crate) fn requests(&self, path: &str) -> Vec<Received> {
        self.shared.requests.lock().map(|r| r.iter().filter(|q| q.path == path).cloned().collect()).unwrap_or_default()
    }

    /// How many requests `path` received.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.requests(path).len()
    }

    /// Waits up to `limit` for the first `POST` to `path`.
    pub(crate) async fn wait_post(&self, path: &str, limit: Duration) -> Option<Received> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(r) = self.requests(path).into_iter().find(|r| r.method == "POST") {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, records it and answers.
async fn serve(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > MAX_HEAD {
            return respond(&mut stream, 431, "text/plain", b"request head too large").await;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let Some(mut request) = parse_head(&buf[..head_end]) else {
        return respond(&mut stream, 400, "text/plain", b"bad request").await;
    };
    let length = request.header("content-length").and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
    if length > MAX_BODY {
        return respond(&mut stream, 413, "text/plain", b"body too large").await;
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    request.body = body;
    let method = request.method.clone();
    let path = request.path.clone();
    if let Ok(mut all) = shared.requests.lock() {
        all.push(request);
    }
    match method.as_str() {
        "GET" | "HEAD" => {
            let doc = shared.docs.lock().ok().and_then(|d| d.get(&path).cloned());
            match doc {
                Some((content_type, body)) => respond(&mut stream, 200, &content_type, &body).await,
                None => respond(&mut stream, 404, "text/plain", b"not found").await,
            }
        }
        "POST" => respond(&mut stream, 200, "text/plain", b"").await,
        _ => respond(&mut stream, 405, "text/plain", b"method not allowed").await,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Request Header Fields Too Large",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// Parses a request line and headers.
fn parse_head(head: &[u8]) -> Option<Received> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?;
    if method.is_empty() || !target.starts_with('/') {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Received { method, path, headers, body: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_heads() {
        let r =
            parse_head(b"POST /bc?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n");
        let r = r.unwrap_or_default();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/bc");
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert!(parse_head(b"GET nothing HTTP/1.1\r\n\r\n").is_none());
    }

    #[tokio::test]
    async fn serves_documents_and_records_posts() {
        let listener = Listener::start().await.unwrap_or_else(|e| unreachable!("{e}"));
        listener.publish("/doc.json", "application/json", br#"["a"]"#.to_vec());
        let http = reqwest::Client::new();
        let got = http.get(listener.url("/doc.json")).send().await.map(|r| r.status().as_u16());
        assert_eq!(got.ok(), Some(200));
        let missing = http.get(listener.url("/nope")).send().await.map(|r| r.status().as_u16());
        assert_eq!(missing.ok(), Some(404));
        let posted = http.post(listener.url("/bc")).form(&[("logout_token", "a.b.c")]).send().await;
        assert_eq!(posted.map(|r| r.status().as_u16()).ok(), Some(200));
        let received = listener.wait_post("/bc", Duration::from_secs(2)).await.unwrap_or_default();
        assert_eq!(received.form(), vec![("logout_token".to_string(), "a.b.c".to_string())]);
        assert_eq!(listener.hits("/doc.json"), 1);
        assert!(listener.wait_post("/other", Duration::from_millis(100)).await.is_none());
    }
}
