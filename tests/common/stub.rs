//! A tiny std-only HTTP/1.1 stub server for failure tests: every connection is served on its
//! own thread with whatever [`Reply`] the test's closure picks for the [`Request`], and every
//! request is recorded so the test can check what was sent. One request per connection
//! (answers carry `Connection: close`). Dropping the [`Stub`] closes its port.
//!
//! Self-contained (std only); include it from a test file with
//!
//! ```ignore
//! #[path = "common/stub.rs"]
//! mod stub;
//! ```
// Each test crate that includes this file uses a different part of it. (`unused`, not
// `dead_code`: includers may put `#[allow(dead_code)]` on their `mod`, and clippy denies a
// duplicated attribute.)
#![allow(unused)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests larger than this are refused (413).
const MAX_BODY: usize = 16 << 20;

/// A request as the stub received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// As sent: `/api/v1/query?query=up`.
    pub path_and_query: String,
    /// In order, names as sent.
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
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
    stop: AtomicBool,
}

/// A running stub server on `127.0.0.1:<free port>`.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
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
        let shared = Arc::new(Shared {
            handler: Box::new(reply),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let for_acceptor = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name(format!("stub-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &for_acceptor))
            .expect("start the stub's accept thread");
        Stub {
            url: format!("http://{addr}"),
            addr,
            shared,
            acceptor: Some(acceptor),
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
        self.lock_requests().clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock_requests().len()
    }

    pub fn clear_requests(&self) {
        self.lock_requests().clear();
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

    /// Stop accepting and close the port (connections being served end within ~50 ms).
    /// Idempotent; also done on drop.
    pub fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() up; it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
    }

    fn lock_requests(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(stream) => {
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("stub-conn".into())
                    .spawn(move || serve(stream, &shared));
                if spawned.is_err() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            // E.g. too many open files: don't spin.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let request = match read_request(&stream) {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(status) => {
            let _ = write_response(&stream, status, "text/plain", "bad request\n");
            return;
        }
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request.clone());
    let reply =
        catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))).unwrap_or_else(|_| {
            Reply::Raw(
                500,
                "text/plain".into(),
                "the stub's reply closure panicked\n".into(),
            )
        });
    respond(&stream, reply, &shared.stop);
}

/// `Ok(None)`: the client closed without sending a request (e.g. the stop wake-up).
fn read_request(stream: &TcpStream) -> Result<Option<Request>, u16> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return Ok(None),
        Ok(_) => {}
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    let (method, path_and_query) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').ok_or(400_u16)?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().map_err(|_| 400_u16))
        .transpose()?
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return Ok(None);
    }
    Ok(Some(Request {
        method,
        path_and_query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

fn respond(stream: &TcpStream, reply: Reply, stop: &AtomicBool) {
    match reply {
        Reply::Json(status, body) => finish(stream, status, "application/json", &body),
        Reply::Raw(status, content_type, body) => finish(stream, status, &content_type, &body),
        Reply::Slow(delay, reply) => {
            if sleep_unless_stopped(delay, stop) {
                respond(stream, *reply, stop);
            }
        }
        Reply::Hang => hang(stream, stop),
        Reply::Close => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Answer, then close gracefully: half-close, and let the client read before the socket goes
/// (closing with unread input would send a reset that can eat the answer).
fn finish(stream: &TcpStream, status: u16, content_type: &str, body: &str) {
    if write_response(stream, status, content_type, body).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut sink = [0_u8; 1024];
    let mut reader = stream;
    while Instant::now() < deadline {
        match reader.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn write_response(
    mut stream: &TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )?;
    stream.flush()
}

/// Hold the connection without answering until the client leaves or the stub stops.
fn hang(stream: &TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut sink = [0_u8; 1024];
    let mut reader = stream;
    while !stop.load(Ordering::SeqCst) {
        match reader.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Sleep `delay` in small steps; `false` if the stub stopped meanwhile.
fn sleep_unless_stopped(delay: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
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
