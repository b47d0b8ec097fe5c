//! `rollout-console simulate` as a child process on a free loopback port, for end-to-end tests.
//! Include with `#[path = "common/simulate.rs"] mod simulate;` (needs `tsdb` for `free_port`).
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Simulate {
    child: Child,
    pub addr: String,
    options: Options,
}

/// `simulate`'s pace: `--speed` (divides the real-world holds 10m/10m/30m) and `--rps` (the
/// service's traffic; the canary gets its weight's share).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub speed: f64,
    pub rps: f64,
}

impl Default for Options {
    /// Speed 1 (10-minute holds, so only the test moves the rollout) at the default 400 rps.
    fn default() -> Self {
        Self {
            speed: 1.0,
            rps: 400.0,
        }
    }
}

impl Simulate {
    pub fn start(scenario: &str) -> Self {
        Self::start_with(scenario, Options::default())
    }

    pub fn start_with(scenario: &str, options: Options) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = spawn_on(&addr, scenario, options);
        Self {
            child,
            addr,
            options,
        }
    }

    /// `simulate --instrumentation <name>`: /metrics under that instrumentation's names. Not
    /// restartable (`restart` starts the default naming).
    pub fn start_instrumented(scenario: &str, instrumentation: &str, options: Options) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = spawn_with(
            &addr,
            &["--scenario", scenario, "--instrumentation", instrumentation],
            options,
            Duration::from_secs(10),
        );
        Self {
            child,
            addr,
            options,
        }
    }

    /// Stop this simulator and, after `down`, start a new one on the same address, as a pod
    /// restarting: the new process's counters start again (from the same seeded hour of
    /// history, so below where the old process's were), and scrapes fail while it is down.
    pub fn restart(&mut self, scenario: &str, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child = spawn_on(&self.addr, scenario, self.options);
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-s", &format!("http://{}{path}", self.addr)])
            .output();
        match out {
            Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).expect("json"),
            _ => http_get_json(&self.addr, path),
        }
    }
}

/// `rollout-console simulate` of one scenario on `addr`, once it accepts connections.
fn spawn_on(addr: &str, scenario: &str, options: Options) -> Child {
    spawn_with(
        addr,
        &["--scenario", scenario],
        options,
        Duration::from_secs(10),
    )
}

/// `rollout-console simulate --fleet n` on `addr`, once it answers (each member simulates its
/// hour of history first, hence the longer wait).
fn spawn_fleet_on(addr: &str, n: usize, options: Options) -> Child {
    spawn_with(
        addr,
        &["--fleet", &n.to_string()],
        options,
        Duration::from_secs(60),
    )
}

/// `rollout-console simulate --listen addr <what> …` (seed 5), once it accepts connections.
fn spawn_with(addr: &str, what: &[&str], options: Options, wait: Duration) -> Child {
    let (speed, rps) = (options.speed.to_string(), options.rps.to_string());
    let child = Command::new(BIN)
        .args(["simulate", "--listen", addr])
        .args(what)
        .args(["--speed", &speed, "--rps", &rps, "--seed", "5"])
        .env("XDG_STATE_HOME", std::env::temp_dir().join("rc-e2e-state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate starts");
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < wait,
            "simulate {} did not listen on {addr}",
            what.join(" ")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// A minimal GET without curl (not every machine has it).
pub fn http_get_json(addr: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Simulate {
    /// POST an action to the deploy API, as the console would.
    pub fn act(&self, action: &str, expected_step: usize) -> serde_json::Value {
        use std::io::{Read, Write};
        let body = format!("{{\"expected_step\": {expected_step}, \"actor\": \"test\"}}");
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect");
        write!(
            s,
            "POST /rollouts/checkout/{action} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("write");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// The simulator's HTTP server in this test's own runtime (no child process); stops when dropped.
pub struct InProcess {
    pub addr: String,
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Speed 1: 10-minute holds, so only the test moves the rollout.
pub async fn in_process(scenario: rollout_console::sim::Scenario, seed: u64) -> InProcess {
    use rollout_console::sim::{SimOptions, Simulator, server};
    let options = SimOptions {
        scenario,
        seed,
        speed: 1.0,
        ..SimOptions::default()
    };
    let sim = Simulator::new(options, chrono::Utc::now());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(server::serve(
        listener,
        std::sync::Arc::new(std::sync::Mutex::new(sim)),
        shutdown,
    ));
    InProcess {
        url: format!("http://{addr}"),
        addr,
        _stop: stop,
    }
}

impl Simulate {
    /// `simulate --fleet n` (seed 5) on a free port. `restart` brings it back as a single rollout.
    pub fn start_fleet(n: usize, options: Options) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = spawn_fleet_on(&addr, n, options);
        Self {
            child,
            addr,
            options,
        }
    }

    /// POST an action to rollout `name` of the deploy API: the status and the JSON answer.
    pub fn act_on(
        &self,
        name: &str,
        action: &str,
        expected_step: usize,
    ) -> (u16, serde_json::Value) {
        let body = format!("{{\"expected_step\": {expected_step}, \"actor\": \"test\"}}");
        let (status, text) = http_request(
            &self.addr,
            &format!(
                "POST /rollouts/{name}/{action} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
                body.len()
            ),
            &body,
        );
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    /// GET `path`: the status and the body as text (e.g. `/metrics`).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        http_request(&self.addr, &format!("GET {path} HTTP/1.1"), "")
    }
}

/// One request (its first line and any headers, without Host and Connection) and its answer:
/// the status and the body.
fn http_request(addr: &str, head: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n{body}"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}
