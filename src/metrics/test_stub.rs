//! A tiny HTTP/1.1 stub on 127.0.0.1 that records what it was sent, for the unit tests of
//! the Prometheus client and source, and the fixtures they share.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// URL query and form body parameters, decoded.
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

pub fn reply(status: u16, body: impl ToString) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

pub struct Stub {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

pub async fn stub(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler: Handler = Arc::new(handler);
    let recorded = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, handler.clone(), recorded.clone()));
        }
    });
    Stub { addr, seen }
}

pub fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://stub/?{encoded}"))
        .expect("pairs")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn serve(mut socket: TcpStream, handler: Handler, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..head_end + 4 + length]).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = decode_pairs(query);
    if method == "POST" {
        params.extend(decode_pairs(&body));
    }
    let request = Seen {
        method,
        path: path.to_string(),
        params,
        headers,
        body,
    };
    seen.lock().expect("lock").push(request.clone());
    let Reply {
        status,
        body,
        delay,
    } = handler(&request);
    tokio::time::sleep(delay).await;
    let response = format!(
        "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

// ---- Fixtures shared by the Prometheus unit tests ----

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::metrics::MetricQuery;
use crate::metrics::client::{PrometheusClient, PrometheusSettings};
use crate::metrics::source::{PrometheusSource, Selectors};

pub const BASELINE: &str = r#"job="checkout", track="baseline""#;
pub const CANARY: &str = r#"job="checkout", track="canary""#;

pub fn config(url: &str) -> PrometheusSettings {
    PrometheusSettings {
        url: url.to_string(),
        timeout: Duration::from_secs(5),
        bearer_token_file: None,
        basic_auth: None,
        headers: BTreeMap::new(),
        ca_file: None,
    }
}

pub fn client(url: &str) -> PrometheusClient {
    PrometheusClient::new(config(url)).expect("client")
}

pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

pub fn success(data: serde_json::Value) -> String {
    json!({"status": "success", "data": data}).to_string()
}

pub fn source(url: &str) -> PrometheusSource {
    PrometheusSource::new(
        client(url),
        Selectors {
            baseline: BASELINE.into(),
            canary: CANARY.into(),
            service: r#"job="checkout""#.into(),
            rollout: "checkout".into(),
        },
    )
}

pub fn metric(name: &str, query: &str) -> MetricQuery {
    MetricQuery {
        name: name.into(),
        query: query.into(),
        window: None,
        counts: None,
    }
}
