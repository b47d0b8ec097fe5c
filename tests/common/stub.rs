//! A stub HTTP server for failure tests, built on axum: every request is answered with whatever
//! [`Reply`] the test's closure picks for the [`Request`], and recorded so the test can check
//! what was sent. One request per connection (answers carry `Connection: close`). Each stub
//! runs on its own thread with its own tokio runtime, so it can be started from a plain `#[test]`
//! or from inside an async test; dropping the [`Stub`] closes its port and its connections.
//!
//! Besides HTTP answers it can misbehave the ways failure tests need: answer late
//! ([`Reply::Slow`]), never ([`Reply::Hang`]), close without answering ([`Reply::Close`]), or
//! write bytes that are not HTTP at all ([`Reply::Bytes`], the raw escape hatch: the bytes go on
//! the socket as they are, under hyper's feet).
//!
//! Include it from a test file with
//!
//! ```ignore
//! #[path = "common/stub.rs"]
//! mod stub;
//! ```
//!
//! (The library's own unit tests use it too: `src/metrics/test_stub.rs` includes this file.)
// Each test crate that includes this file uses a different part of it. (`unused`, not
// `dead_code`: includers may put `#[allow(dead_code)]` on their `mod`, and clippy denies a
// duplicated attribute.)
#![allow(unused)]

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::serve::IncomingStream;

/// Requests larger than this are refused (413).
const MAX_BODY: usize = 16 << 20;

/// A request as the stub received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// As sent: `/api/v1/query?query=up`.
    pub path_and_query: String,
    /// In order, names lowercased (as hyper hands them over).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    /// The raw query string (after `?`), or "".
    pub fn query_string(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    /// All values of the query parameter (or, for a form POST, body parameter) `name`,
    /// percent-decoded.
    pub fn params(&self, name: &str) -> Vec<String> {
        let form = self
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let body = if form { self.body.as_str() } else { "" };
        [self.query_string(), body]
            .into_iter()
            .flat_map(|s| s.split('&'))
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .filter(|(k, _)| percent_decode(k) == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }

    /// The first value of the parameter `name` (see [`Request::params`]).
    pub fn param(&self, name: &str) -> Option<String> {
        self.params(name).into_iter().next()
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the stub does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `status` with a JSON body (`Content-Type: application/json`).
    Json(u16, String),
    /// `status`, content type, body.
    Raw(u16, String, String),
    /// Wait, then reply (nothing at all is sent while waiting).
    Slow(Duration, Box<Reply>),
    /// Never answer; the connection stays open until the client gives up or the stub stops.
    Hang,
    /// Close the connection without answering.
    Close,
    /// Write these bytes on the socket as they are (no status line, no headers: not HTTP
    /// unless they say so), then close the connection.
    Bytes(Vec<u8>),
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(body: impl Into<String>) -> Reply {
        Reply::Json(200, body.into())
    }

    /// 200 with a Prometheus text exposition (what a `/metrics` endpoint answers).
    pub fn metrics(exposition: impl Into<String>) -> Reply {
        Reply::Raw(
            200,
            "text/plain; version=0.0.4; charset=utf-8".into(),
            exposition.into(),
        )
    }

    pub fn slow(delay: Duration, reply: Reply) -> Reply {
        Reply::Slow(delay, Box::new(reply))
    }

    /// Raw bytes on the socket instead of an HTTP answer (see [`Reply::Bytes`]).
    pub fn bytes(raw: impl Into<Vec<u8>>) -> Reply {
        Reply::Bytes(raw.into())
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
}

impl Shared {
    fn lock_requests(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running stub server on `127.0.0.1:<free port>`.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// Start a stub that answers every request with `reply(&request)`.
pub fn start(reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
    Stub::start(reply)
}

impl Stub {
    /// Start a stub that answers every request with `reply(&request)`. If `reply` panics, the
    /// client gets a 500 whose body says so.
    pub fn start(reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub on 127.0.0.1:0");
        let addr = listener.local_addr().expect("the stub's address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener for tokio");
        let shared = Arc::new(Shared {
            handler: Box::new(reply),
            requests: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared))
            .into_make_service_with_connect_info::<Conn>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the stub's tokio runtime");
        let server = std::thread::Builder::new()
            .name(format!("stub-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("hand the stub's listener to tokio");
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here drops the listener and every connection task
                // (slow and hung answers included).
            })
            .expect("start the stub's thread");
        Stub {
            url: format!("http://{addr}"),
            addr,
            shared,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// `127.0.0.1:PORT` (what a scrape config's `targets` takes).
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock_requests().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.lock_requests().len()
    }

    pub fn clear_requests(&self) {
        self.shared.lock_requests().clear();
    }

    /// Wait until at least `n` requests arrived, and return them all; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "stub {}: {} request(s) after {timeout:?}, wanted {n}: {requests:#?}",
                self.url,
                requests.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop serving: the port and every open connection are closed on return. Idempotent;
    /// also done on drop.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The connection a request came on, for the answers that are not HTTP: a second handle on
/// its socket (a dup of the descriptor), to shut it down or write raw bytes on it.
#[derive(Clone)]
struct Conn(Option<Arc<TcpStream>>);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        let dup = stream.io().as_fd().try_clone_to_owned().ok();
        Conn(dup.map(|fd| Arc::new(TcpStream::from(fd))))
    }
}

impl Conn {
    fn close(&self) {
        if let Some(socket) = &self.0 {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Write all of `bytes` (the socket is non-blocking: retry while it would block).
    fn write_raw(&self, bytes: &[u8]) {
        let Some(socket) = &self.0 else {
            return;
        };
        let mut socket: &TcpStream = socket;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut rest = bytes;
        while !rest.is_empty() && Instant::now() < deadline {
            match socket.write(rest) {
                Ok(0) => return,
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return answer(
            413,
            "text/plain",
            "request too large (or cut short)\n".into(),
        );
    };
    let request = Request {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.to_string(), ToString::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), value)
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    shared.lock_requests().push(request.clone());
    let reply =
        catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))).unwrap_or_else(|_| {
            Reply::Raw(
                500,
                "text/plain".into(),
                "the stub's reply closure panicked\n".into(),
            )
        });
    respond(reply, &conn).await
}

async fn respond(mut reply: Reply, conn: &Conn) -> Response {
    loop {
        reply = match reply {
            Reply::Json(status, body) => return answer(status, "application/json", body),
            Reply::Raw(status, content_type, body) => return answer(status, &content_type, body),
            Reply::Slow(delay, reply) => {
                tokio::time::sleep(delay).await;
                *reply
            }
            Reply::Hang => std::future::pending().await,
            Reply::Close => {
                conn.close();
                // hyper's answer goes nowhere: the socket is shut.
                return answer(500, "text/plain", String::new());
            }
            Reply::Bytes(bytes) => {
                conn.write_raw(&bytes);
                conn.close();
                return answer(500, "text/plain", String::new());
            }
        }
    }
}

fn answer(status: u16, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `a%20b+c` → `a b c`.
pub fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
