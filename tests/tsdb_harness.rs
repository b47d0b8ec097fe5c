//! Self-tests of the integration-test harness: a REAL Prometheus and a REAL VictoriaMetrics
//! scrape a static `/metrics` page served by the stub every second, answer PromQL, stop (port
//! closed), and come back on the same port with their data. Both engines run in parallel; the
//! file takes ~8 s, most of it Prometheus 2.42's first-scrape delay (see common/tsdb.rs).

#[path = "common/stub.rs"]
mod stub;
#[path = "common/tsdb.rs"]
mod tsdb;

use std::net::TcpStream;
use std::time::{Duration, Instant};
use stub::{Reply, Stub};
use tsdb::{Engine, Tsdb};

const EXPOSITION: &str = "\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{job=\"checkout\",track=\"canary\",code=\"200\"} 42
# HELP rollout_canary_weight_ratio Share of traffic sent to the canary.
# TYPE rollout_canary_weight_ratio gauge
rollout_canary_weight_ratio{job=\"checkout\",track=\"canary\"} 0.25
";

const COUNTER: &str = "http_requests_total{job=\"checkout\"}";
const GAUGE: &str = "rollout_canary_weight_ratio{job=\"checkout\",track=\"canary\"}";
const SERIES_TIMEOUT: Duration = Duration::from_secs(30);

fn metrics_target() -> Stub {
    Stub::start(|req| match (req.method.as_str(), req.path()) {
        ("GET", "/metrics") => Reply::metrics(EXPOSITION),
        _ => Reply::Json(404, r#"{"error":"not found"}"#.into()),
    })
}

fn port_is_closed(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_err()
}

fn scrape_query_stop_restart(engine: Engine) {
    let t0 = Instant::now();
    let target = metrics_target();
    let mut db = Tsdb::start(engine, &[target.host_port()], Duration::from_secs(1));
    assert_eq!(db.engine, engine);
    assert_eq!(db.url, format!("http://127.0.0.1:{}", db.port));
    let ready = t0.elapsed();

    // The counter, with the target's own labels (honor_labels keeps job="checkout").
    let answer = db.wait_for_series(COUNTER, SERIES_TIMEOUT);
    let first_sample = t0.elapsed();
    let samples = tsdb::instant_samples(&answer);
    assert_eq!(samples.len(), 1, "{answer}");
    let (labels, value) = &samples[0];
    assert_eq!(*value, 42.0);
    assert_eq!(labels["__name__"], "http_requests_total");
    assert_eq!(labels["job"], "checkout");
    assert_eq!(labels["track"], "canary");
    assert_eq!(labels["code"], "200");
    assert_eq!(labels["instance"], target.host_port());
    assert!(!labels.contains_key("exported_job"), "{labels:?}");

    // The gauge came in the same scrape; the engine's own series carry the scrape job.
    let gauge = db.wait_for_series(GAUGE, SERIES_TIMEOUT);
    assert_eq!(tsdb::single_value(&gauge), 0.25);
    assert_eq!(
        tsdb::single_value(&db.query(&format!("up{{job=\"{}\"}}", tsdb::SCRAPE_JOB))),
        1.0
    );
    // PromQL through the API, with characters that need encoding.
    let sum = db.query("sum by (track) (http_requests_total{job=\"checkout\",code=~\"2..\"}) * 2");
    assert_eq!(tsdb::single_value(&sum), 84.0, "{sum}");
    let bad = db.query("sum(");
    assert_eq!(bad["status"], "error", "{bad}");

    // A range query over the last 10 s: every point is 42. VictoriaMetrics blanks the last
    // second of a range (see common/tsdb.rs), so give it two more scrapes first.
    if engine == Engine::VictoriaMetrics {
        let scraped = target.request_count();
        target.wait_for_requests(scraped + 2, Duration::from_secs(10));
    }
    let now = tsdb::now_unix();
    let range = db.query_range(COUNTER, now - 10.0, now, 1.0);
    let series = tsdb::range_series(&range);
    assert_eq!(series.len(), 1, "{range}");
    assert!(!series[0].1.is_empty(), "{range}");
    assert!(series[0].1.iter().all(|&(_, v)| v == 42.0), "{range}");

    // The target saw the engine's scrapes.
    let scrapes = target.requests();
    assert!(!scrapes.is_empty());
    assert!(
        scrapes
            .iter()
            .all(|r| r.method == "GET" && r.path() == "/metrics")
    );

    // stop: the port closes; stop is idempotent; queries fail without panicking in try_query.
    let port = db.port;
    let t_stop = Instant::now();
    db.stop();
    let stopped = t_stop.elapsed();
    assert!(!db.is_running());
    assert!(
        port_is_closed(port),
        "{} still listens on {port}",
        engine.name()
    );
    db.stop();
    assert!(db.try_query("up").is_err());

    // restart: same port, same data; the series is there again.
    let t_restart = Instant::now();
    db.restart();
    assert_eq!(db.port, port);
    assert!(db.is_running());
    let (status, _) = db.get(engine.ready_path()).expect("ready answer");
    assert_eq!(status, 200);
    let again = db.wait_for_series(COUNTER, SERIES_TIMEOUT);
    assert_eq!(tsdb::single_value(&again), 42.0);
    let back = t_restart.elapsed();

    // kill (a crash) also closes the port.
    db.kill();
    assert!(port_is_closed(port));
    eprintln!(
        "{}: ready {ready:.1?}, first sample {first_sample:.1?}, stop {stopped:.1?}, \
         restart→queryable {back:.1?}, total {:.1?}",
        engine.name(),
        t0.elapsed()
    );
}

#[test]
fn prometheus_scrapes_answers_stops_and_restarts() {
    scrape_query_stop_restart(Engine::Prometheus);
}

#[test]
fn victoria_metrics_scrapes_answers_stops_and_restarts() {
    scrape_query_stop_restart(Engine::VictoriaMetrics);
}

#[test]
fn free_ports_are_distinct_and_bindable() {
    let (a, b) = (tsdb::free_port(), tsdb::free_port());
    assert_ne!(a, b);
    std::net::TcpListener::bind(("127.0.0.1", a)).expect("the free port binds");
}

#[test]
fn percent_encoding_round_trips() {
    let promql = "sum(rate(x{job=\"checkout\",code=~\"5..\"}[5m])) / 100 + ünï";
    let encoded = tsdb::percent_encode(promql);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b))
    );
    assert_eq!(stub::percent_decode(&encoded), promql);
}

#[test]
fn stub_replies_as_told_and_records_requests() {
    let stub = Stub::start(|req| match req.path() {
        "/json" => Reply::json(r#"{"ok":true}"#),
        "/raw" => Reply::Raw(503, "text/plain".into(), "down for maintenance".into()),
        "/slow" => Reply::slow(Duration::from_millis(300), Reply::json("{}")),
        "/hang" => Reply::Hang,
        "/close" => Reply::Close,
        "/panic" => panic!("boom"),
        _ => Reply::Json(404, "{}".into()),
    });
    let addr = stub.host_port();
    let get = |path: &str, timeout_ms: u64| {
        tsdb::http_get(&addr, path, Duration::from_millis(timeout_ms))
    };

    assert_eq!(
        get("/json?q=a%20b", 2000),
        Ok((200, r#"{"ok":true}"#.into()))
    );
    assert_eq!(get("/raw", 2000), Ok((503, "down for maintenance".into())));
    let t = Instant::now();
    assert_eq!(get("/slow", 2000), Ok((200, "{}".into())));
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert!(get("/hang", 300).is_err(), "a hung request times out");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(get("/close", 2000).is_err(), "no answer at all");
    assert_eq!(get("/panic", 2000).map(|(s, _)| s), Ok(500));

    let requests = stub.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path()).collect();
    assert_eq!(
        paths,
        ["/json", "/raw", "/slow", "/hang", "/close", "/panic"]
    );
    assert_eq!(requests[0].param("q").as_deref(), Some("a b"));
    assert_eq!(requests[0].header("HOST"), Some(addr.as_str()));

    // A POST body is recorded; form parameters are readable like query parameters.
    let mut conn = TcpStream::connect(stub.addr).expect("connect");
    std::io::Write::write_all(
        &mut conn,
        b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 18\r\nConnection: close\r\n\r\nquery=up%7Bjob%3D%22",
    )
    .expect("send");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let post = stub.wait_for_requests(7, Duration::from_secs(2)).remove(6);
    assert_eq!(post.method, "POST");
    assert_eq!(post.body, "query=up%7Bjob%3D%");
    assert_eq!(post.param("query").as_deref(), Some("up{job=%"));

    // Dropping the stub closes its port.
    let port = stub.port();
    drop(stub);
    assert!(port_is_closed(port));
}
