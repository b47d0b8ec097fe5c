//! A REAL Prometheus-compatible engine for integration tests: Prometheus or VictoriaMetrics,
//! started as a child process on a free loopback port with a temporary data dir, scraping the
//! given targets, and stopped when the [`Tsdb`] is dropped (so also when a test panics).
//!
//! Self-contained (std, serde_json, tempfile, and tokio + reqwest for its HTTP client); include
//! it from a test file with
//!
//! ```ignore
//! #[path = "common/tsdb.rs"]
//! mod tsdb;
//! ```
//!
//! The engines come from the Debian packages `prometheus` (2.42) and `victoria-metrics` (1.79),
//! which `scripts/test.sh` installs. Quirks of those versions that tests must live with:
//!
//! * **Prometheus 2.42 scrapes its first target only ~5–10 s after it is ready**: service
//!   discovery hands targets over on a hard-coded 5 s tick and the scrape manager applies them
//!   on another 5 s tick (the `--scrape.discovery-reload-interval` flag came later). So the first
//!   sample lands ~6 s after start (also after [`Tsdb::restart`]); use
//!   [`Tsdb::wait_for_series`] / [`Tsdb::wait_for_targets_up`] rather than sleeping.
//! * **VictoriaMetrics hides the last 30 s by default** (`-search.latencyOffset=30s`: an instant
//!   query without `nocache=1` is evaluated at `now - 30s`). We pass `-search.latencyOffset=0s`;
//!   versions before 1.88 clamp it to 1 s, so answers are at most ~1 s behind (and VM re-stamps
//!   them with the requested time). `-search.disableCache` turns off the rollup-result cache, so
//!   numbers are computed from raw samples on every query, and range queries keep the requested
//!   `start`/`end` instead of aligning them to `step`. The same (clamped) offset makes VM replace
//!   the points of a range query that fall in the last second before "now" with the previous
//!   point's value, and drop them if there is none: a series scraped for the first time a moment
//!   ago has an empty `query_range` on VM, while Prometheus already shows its point.
//! * **VictoriaMetrics < 1.88 caches "no series match" for up to ~10 s**: ingested index entries
//!   become searchable ~1 s after a series is created, but a query with the same selectors that
//!   ran in between caches its empty answer until a 10 s background tick invalidates the cache.
//!   No flag changes that. [`Tsdb::wait_for_series`] therefore probes VictoriaMetrics with a
//!   fresh no-op `extra_filters[]` on every poll (a new cache key each time) and only then asks
//!   the plain query, so it never poisons the cache for the selector being waited on. A console
//!   under test that polls a selector *before* its series exist may see it ~10 s late on VM.
//!
//! The engines are spawned from one long-lived thread through `setpriv --pdeathsig KILL` when
//! `setpriv` (util-linux) is there, so even a test binary that is killed outright (or a `Tsdb`
//! kept in a `static`, which is never dropped) leaves no engine running behind it.
// Each test crate that includes this file uses a different part of it. (`unused`, not
// `dead_code`: includers may put `#[allow(dead_code)]` on their `mod`, and clippy denies a
// duplicated attribute.)
#![allow(unused)]

use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long [`Tsdb::start`] / [`Tsdb::restart`] wait for the engine to report ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Tsdb::stop`] waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Timeout of one HTTP request made by the harness.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The `job_name` of the scrape config (the target's own `job` label wins: `honor_labels`).
pub const SCRAPE_JOB: &str = "sim";

/// A Prometheus-compatible engine the harness can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    Prometheus,
    VictoriaMetrics,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Prometheus, Engine::VictoriaMetrics];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Prometheus => "prometheus",
            Engine::VictoriaMetrics => "victoria-metrics",
        }
    }

    /// The environment variable that may point at the binary, overriding the lookup.
    pub fn env_var(self) -> &'static str {
        match self {
            Engine::Prometheus => "TSDB_PROMETHEUS_BIN",
            Engine::VictoriaMetrics => "TSDB_VICTORIA_METRICS_BIN",
        }
    }

    /// Names looked up on PATH, then well-known paths (Debian packages first).
    fn candidates(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Engine::Prometheus => (
                &["prometheus"],
                &["/usr/bin/prometheus", "/usr/local/bin/prometheus"],
            ),
            // Debian ships `/usr/bin/victoria-metrics`; upstream release tarballs name the
            // single-node binary `victoria-metrics-prod`.
            Engine::VictoriaMetrics => (
                &["victoria-metrics", "victoria-metrics-prod"],
                &[
                    "/usr/bin/victoria-metrics",
                    "/usr/local/bin/victoria-metrics",
                    "/usr/local/bin/victoria-metrics-prod",
                ],
            ),
        }
    }

    /// Where the engine's binary is, if it is installed.
    pub fn binary(self) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.env_var()).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path)).filter(|p| is_executable(p));
        }
        let (names, paths) = self.candidates();
        names
            .iter()
            .find_map(|name| which(name))
            .or_else(|| paths.iter().map(PathBuf::from).find(|p| is_executable(p)))
    }

    pub fn is_installed(self) -> bool {
        self.binary().is_some()
    }

    /// The path that answers 200 once the engine serves queries.
    pub fn ready_path(self) -> &'static str {
        match self {
            Engine::Prometheus => "/-/ready",
            Engine::VictoriaMetrics => "/health",
        }
    }

    /// Command-line flags for one run.
    fn args(self, listen: &str, data: &Path, config: &Path) -> Vec<String> {
        let (data, config) = (data.display(), config.display());
        match self {
            Engine::Prometheus => vec![
                format!("--config.file={config}"),
                format!("--storage.tsdb.path={data}"),
                format!("--web.listen-address={listen}"),
                // Only what the tests query lives here; keep nothing around for long.
                "--storage.tsdb.retention.time=1d".into(),
                "--log.level=info".into(),
            ],
            Engine::VictoriaMetrics => vec![
                format!("-httpListenAddr={listen}"),
                format!("-storageDataPath={data}"),
                format!("-promscrape.config={config}"),
                // Default 30s hides fresh samples from instant queries; 0s (clamped to 1s
                // before v1.88) makes a scrape visible within a second or two.
                "-search.latencyOffset=0s".into(),
                // No rollup-result cache: every answer is computed from raw samples, and
                // query_range keeps the requested start/end instead of aligning them to step.
                "-search.disableCache".into(),
                "-retentionPeriod=1d".into(),
                "-loggerLevel=INFO".into(),
            ],
        }
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `which NAME`: the first executable NAME in a PATH directory.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// A loopback port that was free a moment ago (bound to 127.0.0.1:0, read, released). Never
/// returns the same port twice within one test binary, so parallel tests don't collide.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0 to find a free port")
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("no fresh free loopback port after 100 tries");
}

/// Seconds since the Unix epoch, as the query API takes them.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A running (or stopped) engine with its own data dir, config and log, on its own port.
pub struct Tsdb {
    /// `http://127.0.0.1:PORT`, what a client puts in front of `/api/v1/...`.
    pub url: String,
    pub engine: Engine,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub port: u16,
    /// The scrape targets (`host:port`), as given to [`Tsdb::start`].
    pub targets: Vec<String>,
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    launches: u32,
}

impl Tsdb {
    /// Start `engine` scraping `targets` (`"127.0.0.1:PORT"`, path `/metrics`) every
    /// `scrape_interval`, and wait until it is ready (not until the first scrape landed: see
    /// [`Tsdb::wait_for_series`]). Panics if the engine is not installed or does not come up.
    /// `targets` may be `&[String]` or `&[&str]`.
    pub fn start(engine: Engine, targets: &[impl AsRef<str>], scrape_interval: Duration) -> Self {
        Self::start_inner(engine, targets, scrape_interval, None)
    }

    /// [`Tsdb::start`] with a Prometheus rules file (`groups:` YAML, as Sloth or Pyrra write
    /// them), evaluated every `scrape_interval`. Prometheus only: VictoriaMetrics evaluates
    /// rules in a separate process (vmalert).
    pub fn start_with_rules(
        engine: Engine,
        targets: &[impl AsRef<str>],
        scrape_interval: Duration,
        rules_yaml: &str,
    ) -> Self {
        assert_eq!(
            engine,
            Engine::Prometheus,
            "only Prometheus evaluates recording rules itself"
        );
        Self::start_inner(engine, targets, scrape_interval, Some(rules_yaml))
    }

    pub fn rules_path(&self) -> PathBuf {
        self.dir.path().join("rules.yml")
    }

    fn start_inner(
        engine: Engine,
        targets: &[impl AsRef<str>],
        scrape_interval: Duration,
        rules_yaml: Option<&str>,
    ) -> Self {
        let targets: Vec<String> = targets.iter().map(|t| t.as_ref().to_string()).collect();
        let binary = engine.binary().unwrap_or_else(|| {
            let (names, paths) = engine.candidates();
            panic!(
                "{} is not installed (looked for {names:?} on PATH, at {paths:?} and in ${}); \
                 install it with scripts/test.sh (apt-get install -y prometheus victoria-metrics)",
                engine.name(),
                engine.env_var(),
            )
        });
        assert!(
            scrape_interval >= Duration::from_millis(1),
            "scrape interval must be at least 1ms"
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("tsdb-{}-", engine.name()))
            .tempdir()
            .expect("create a temporary dir for the engine");
        fs::create_dir_all(dir.path().join("data")).expect("create the engine's data dir");
        let mut config = scrape_config(&targets, scrape_interval);
        if let Some(rules) = rules_yaml {
            let path = dir.path().join("rules.yml");
            fs::write(&path, rules).expect("write the rules file");
            let interval_ms = scrape_interval.as_millis().max(1);
            config = config.replacen(
                "global:\n",
                &format!("global:\n  evaluation_interval: {interval_ms}ms\n"),
                1,
            );
            let _ = writeln!(config, "rule_files:\n  - {}", serde_json::json!(path));
        }
        fs::write(dir.path().join("scrape.yml"), config).expect("write the scrape config");

        let port = free_port();
        let mut db = Tsdb {
            url: String::new(),
            engine,
            addr: String::new(),
            port,
            targets,
            binary,
            dir,
            child: None,
            launches: 0,
        };
        db.set_port(port);
        // The port was free when picked; if something grabbed it since, take another one.
        for _ in 0..5 {
            match db.launch() {
                Ok(()) => return db,
                Err(Launch::PortInUse) => db.set_port(free_port()),
                Err(Launch::Failed(why)) => db.fail(&why),
            }
        }
        db.fail("the port was taken 5 times in a row")
    }

    fn set_port(&mut self, port: u16) {
        self.port = port;
        self.addr = format!("127.0.0.1:{port}");
        self.url = format!("http://{}", self.addr);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("scrape.yml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("engine.log")
    }

    /// The last `lines` lines of the engine's stdout+stderr (all runs, appended).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn fail(&mut self, why: &str) -> ! {
        self.kill();
        panic!(
            "{} on {} did not come up: {why}\n--- {} (tail) ---\n{}",
            self.engine.name(),
            self.addr,
            self.log_path().display(),
            self.log_tail(40)
        )
    }

    /// One run of the engine: spawn it and wait until it is ready.
    fn launch(&mut self) -> Result<(), Launch> {
        self.launches += 1;
        let log_path = self.log_path();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the engine log");
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let args = self
            .engine
            .args(&self.addr, &self.data_dir(), &self.config_path());
        writeln!(
            log,
            "=== tsdb harness: run #{} of {} {}",
            self.launches,
            self.binary.display(),
            args.join(" ")
        )
        .expect("write the engine log");
        let stderr = log.try_clone().expect("clone the engine log handle");
        let (binary, cwd) = (self.binary.clone(), self.dir.path().to_path_buf());
        let child = spawn_tied(move || {
            let mut cmd = match which("setpriv") {
                Some(setpriv) => {
                    let mut cmd = Command::new(setpriv);
                    cmd.args(["--pdeathsig", "KILL", "--"]).arg(binary);
                    cmd
                }
                None => Command::new(binary),
            };
            cmd.args(args)
                .current_dir(cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(stderr))
                .spawn()
        })
        .map_err(|e| Launch::Failed(format!("cannot spawn {}: {e}", self.binary.display())))?;
        self.child = Some(child);

        let log_since_start = || {
            fs::read(&log_path)
                .map(|b| {
                    String::from_utf8_lossy(&b[(log_start as usize).min(b.len())..]).into_owned()
                })
                .unwrap_or_default()
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut answered = false;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().ok().flatten().map(|s| s.to_string()),
                None => Some("an unknown status".into()),
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(if log_since_start().contains("address already in use") {
                    Launch::PortInUse
                } else {
                    Launch::Failed(format!("it exited with {status}"))
                });
            }
            // Ready, and still alive a moment later (so it is ours answering, not a server
            // that took the port first while ours is failing to bind it).
            if answered {
                return Ok(());
            }
            if let Ok((200, _)) = http_get(&self.addr, self.engine.ready_path(), HTTP_TIMEOUT) {
                answered = true;
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            if Instant::now() >= deadline {
                return Err(Launch::Failed(format!(
                    "GET {}{} did not answer 200 within {READY_TIMEOUT:?}",
                    self.url,
                    self.engine.ready_path()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the engine process is alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// The engine's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stop the engine and wait for it: SIGTERM (it flushes its data, as on a clean shutdown),
    /// SIGKILL if it is still there after 10 s. Idempotent; the port is closed on return.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let termed = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            let deadline = Instant::now() + if termed { STOP_GRACE } else { Duration::ZERO };
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// SIGKILL the engine and wait for it: a crash, whatever was not flushed is lost.
    /// Idempotent; the port is closed on return.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the engine if it runs, then start it again on the same port with the same data
    /// dir and config (for "the engine went away mid-run, then came back"). Waits for ready.
    pub fn restart(&mut self) {
        self.stop();
        match self.launch() {
            Ok(()) => {}
            Err(Launch::PortInUse) => self.fail("its port was taken while it was down"),
            Err(Launch::Failed(why)) => self.fail(&why),
        }
    }

    /// A raw GET on the engine: `(status, body)`, or why there was no answer.
    pub fn get(&self, path_and_query: &str) -> Result<(u16, String), String> {
        http_get(&self.addr, path_and_query, HTTP_TIMEOUT)
    }

    /// A GET whose body must be JSON (error answers of the API are JSON too, and returned).
    pub fn get_json(&self, path_and_query: &str) -> Result<Value, String> {
        let (status, body) = self.get(path_and_query)?;
        serde_json::from_str(&body).map_err(|e| {
            format!(
                "GET {path_and_query}: HTTP {status}, body is not JSON ({e}): {}",
                truncate(&body, 300)
            )
        })
    }

    /// The instant query as `/api/v1/query` answers it (`{"status":..,"data":..}`), at the
    /// engine's "now"; `Err` if the engine did not answer (e.g. it is stopped).
    pub fn try_query(&self, promql: &str) -> Result<Value, String> {
        self.get_json(&format!("/api/v1/query?query={}", percent_encode(promql)))
    }

    /// [`Tsdb::try_query`] that panics (with the engine log) if there is no answer. An API
    /// error (`"status":"error"`) is returned as is.
    pub fn query(&self, promql: &str) -> Value {
        self.try_query(promql)
            .unwrap_or_else(|e| self.no_answer(&format!("query {promql:?}"), &e))
    }

    /// The instant query evaluated at `time_unix` (Unix seconds: an integer or an `f64`).
    pub fn query_at(&self, promql: &str, time_unix: impl Secs) -> Value {
        let time = time_unix.api_text();
        let path = format!("/api/v1/query?query={}&time={time}", percent_encode(promql));
        self.get_json(&path)
            .unwrap_or_else(|e| self.no_answer(&format!("query {promql:?} at {time}"), &e))
    }

    /// `/api/v1/query_range` from `start_unix` to `end_unix` (Unix seconds) every `step_secs`
    /// seconds; each an integer or an `f64`.
    pub fn query_range(
        &self,
        promql: &str,
        start_unix: impl Secs,
        end_unix: impl Secs,
        step_secs: impl Secs,
    ) -> Value {
        let path = format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            percent_encode(promql),
            start_unix.api_text(),
            end_unix.api_text(),
            step_secs.api_text()
        );
        self.get_json(&path)
            .unwrap_or_else(|e| self.no_answer(&format!("query_range {promql:?}"), &e))
    }

    fn no_answer(&self, what: &str, err: &str) -> ! {
        panic!(
            "{} at {}: {what}: no answer: {err}\n--- {} (tail) ---\n{}",
            self.engine.name(),
            self.url,
            self.log_path().display(),
            self.log_tail(20)
        )
    }

    /// Poll until `promql` returns at least one sample (scrapes take a few seconds to land:
    /// ~6 s after start on Prometheus 2.42, ~2 s on VictoriaMetrics), and return that answer.
    /// On timeout, panics with the last answer, the scrape targets' health and the log tail.
    pub fn wait_for_series(&self, promql: &str, timeout: Duration) -> Value {
        static NONCE: AtomicU64 = AtomicU64::new(0);
        let deadline = Instant::now() + timeout;
        loop {
            // See the module docs: on VictoriaMetrics, probe with a no-op filter that is new on
            // every poll, so an early empty answer is never cached for the plain query.
            let probe = match self.engine {
                Engine::Prometheus => None,
                Engine::VictoriaMetrics => {
                    let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
                    let noop = format!("{{__tsdb_harness_poll__!=\"{nonce}\"}}");
                    Some(self.get_json(&format!(
                        "/api/v1/query?query={}&extra_filters%5B%5D={}",
                        percent_encode(promql),
                        percent_encode(&noop)
                    )))
                }
            };
            let probe_has_data = probe
                .as_ref()
                .is_none_or(|r| r.as_ref().is_ok_and(|v| !instant_samples(v).is_empty()));
            let answer = if probe_has_data {
                self.try_query(promql)
            } else {
                probe.unwrap_or_else(|| Err("no probe".into()))
            };
            let last = match answer {
                Ok(v) if probe_has_data && !instant_samples(&v).is_empty() => return v,
                Ok(v) => v.to_string(),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{} at {}: no sample for {promql:?} after {timeout:?}\nlast answer: {}\n\
                     targets:\n{}\n--- {} (tail) ---\n{}",
                    self.engine.name(),
                    self.url,
                    truncate(&last, 500),
                    self.targets_summary(),
                    self.log_path().display(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `/api/v1/targets` as the engine answers it.
    pub fn targets(&self) -> Result<Value, String> {
        self.get_json("/api/v1/targets")
    }

    /// One line per active target: `scrapeUrl health lastError`.
    pub fn targets_summary(&self) -> String {
        match self.targets() {
            Ok(v) => v["data"]["activeTargets"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            format!(
                                "  {} {} {}",
                                t["scrapeUrl"].as_str().unwrap_or("?"),
                                t["health"].as_str().unwrap_or("?"),
                                t["lastError"].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "  (none active yet)".into()),
            Err(e) => format!("  (cannot list targets: {e})"),
        }
    }

    /// Poll until every configured target has been scraped successfully (`health == "up"`).
    pub fn wait_for_targets_up(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let up = self.targets().ok().and_then(|v| {
                let ts = v["data"]["activeTargets"].as_array()?.clone();
                Some(ts.len() >= self.targets.len() && ts.iter().all(|t| t["health"] == "up"))
            });
            if up == Some(true) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} at {}: targets not all up after {timeout:?}:\n{}\n--- log tail ---\n{}",
                    self.engine.name(),
                    self.url,
                    self.targets_summary(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tsdb {
    /// Stops the engine and removes its dir, unless `TSDB_KEEP_DIR` is set (to read the log,
    /// config and data of a failed test afterwards: the path is printed).
    fn drop(&mut self) {
        self.stop();
        if std::env::var_os("TSDB_KEEP_DIR").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "tsdb harness: kept the {} dir {}",
                self.engine.name(),
                self.dir.path().display()
            );
        }
    }
}

enum Launch {
    PortInUse,
    Failed(String),
}

/// The scrape config both engines read (VictoriaMetrics parses it strictly: no unknown keys).
fn scrape_config(targets: &[String], interval: Duration) -> String {
    let interval_ms = interval.as_millis().max(1);
    // The timeout may not exceed the interval (Prometheus refuses the config otherwise).
    let timeout_ms = interval_ms.min(10_000);
    let mut yaml =
        format!("global:\n  scrape_interval: {interval_ms}ms\n  scrape_timeout: {timeout_ms}ms\n");
    if targets.is_empty() {
        yaml.push_str("scrape_configs: []\n");
        return yaml;
    }
    // honor_labels: the target's own `job` (e.g. job="checkout") is kept instead of being
    // renamed `exported_job`; the engine-made series (`up`, `scrape_*`) get job="sim".
    let _ = write!(
        yaml,
        "scrape_configs:\n  - job_name: {SCRAPE_JOB}\n    honor_labels: true\n    \
         metrics_path: /metrics\n    static_configs:\n      - targets:\n"
    );
    for target in targets {
        let _ = writeln!(yaml, "          - {}", serde_json::json!(target));
    }
    yaml
}

/// Run `spawn` on one thread that lives as long as the test binary. With `setpriv --pdeathsig`
/// the child is killed when the thread that spawned it exits: a per-test thread would take
/// the engine down with it (fatal for a shared engine), this one only goes at process exit.
fn spawn_tied(spawn: impl FnOnce() -> io::Result<Child> + Send + 'static) -> io::Result<Child> {
    type Job = (
        Box<dyn FnOnce() -> io::Result<Child> + Send>,
        mpsc::Sender<io::Result<Child>>,
    );
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tsdb-spawner".into())
            .spawn(move || {
                for (job, reply) in rx {
                    let _ = reply.send(job());
                }
            })
            .expect("start the tsdb spawner thread");
        tx
    });
    let (tx, rx) = mpsc::channel();
    spawner
        .send((Box::new(spawn), tx))
        .map_err(|_| io::Error::other("the tsdb spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the tsdb spawner thread is gone"))?
}

// ---------------------------------------------------------------------------------------------
// Answers of the query API.

/// The samples of an instant query answer (`vector` or `scalar`): `(labels, value)`. Empty for
/// an error or an empty result.
pub fn instant_samples(answer: &Value) -> Vec<(BTreeMap<String, String>, f64)> {
    let data = &answer["data"];
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| Some((labels(&r["metric"]), sample_value(&r["value"])?)))
                    .collect()
            })
            .unwrap_or_default(),
        Some("scalar") => sample_value(&data["result"])
            .map(|v| vec![(BTreeMap::new(), v)])
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// The single value of an instant answer that must have exactly one sample.
pub fn single_value(answer: &Value) -> f64 {
    match instant_samples(answer).as_slice() {
        [(_, v)] => *v,
        other => panic!(
            "expected exactly one sample, got {}: {}",
            other.len(),
            truncate(&answer.to_string(), 500)
        ),
    }
}

/// The series of a range query answer (`matrix`): `(labels, [(unix secs, value)])`.
pub type RangeSeries = (BTreeMap<String, String>, Vec<(f64, f64)>);

pub fn range_series(answer: &Value) -> Vec<RangeSeries> {
    answer["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let points = r["values"]
                        .as_array()
                        .map(|ps| {
                            ps.iter()
                                .filter_map(|p| Some((p[0].as_f64()?, sample_value(p)?)))
                                .collect()
                        })
                        .unwrap_or_default();
                    (labels(&r["metric"]), points)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// `[1700000000.123, "42"]` → 42 (also "NaN", "+Inf", "-Inf").
fn sample_value(pair: &Value) -> Option<f64> {
    let text = pair.get(1)?.as_str()?;
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

// ---------------------------------------------------------------------------------------------
// The harness's HTTP client: reqwest, driven by one background tokio runtime, so it can be
// called from a plain `#[test]` and from inside an async test alike (it blocks the caller's
// thread, never enters the caller's runtime).

/// `GET path_and_query` on `addr` (`host:port`), one connection per request; returns the
/// status and the body. `Err` says why there was no answer.
pub fn http_get(
    addr: &str,
    path_and_query: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    static CLIENT: OnceLock<(tokio::runtime::Runtime, reqwest::Client)> = OnceLock::new();
    let (runtime, client) = CLIENT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tsdb-http")
            .enable_all()
            .build()
            .expect("the tsdb harness's HTTP runtime");
        let client = reqwest::Client::builder()
            .user_agent("rollout-console-tsdb-harness")
            // No pooled connection outlives a request (an engine may restart in between).
            .pool_max_idle_per_host(0)
            .build()
            .expect("the tsdb harness's HTTP client");
        (runtime, client)
    });
    let url = format!("http://{addr}{path_and_query}");
    let request = client
        .get(&url)
        .header("accept", "application/json")
        .timeout(timeout);
    let (tx, rx) = mpsc::channel();
    runtime.spawn(async move {
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let _ = tx.send(answer.map_err(|e| error_chain(&e)));
    });
    rx.recv()
        .map_err(|_| "the tsdb harness's HTTP runtime is gone".to_string())?
        .map_err(|e| format!("GET {path_and_query} on {addr}: {e}"))
}

/// An error and its sources: `error sending request: connection refused`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Percent-encode everything but the RFC 3986 unreserved characters (for a query value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Seconds (a timestamp or a step) as the query API takes them: any integer, or an `f64`
/// (written with millisecond precision: `1700000000.25`).
pub trait Secs {
    fn api_text(&self) -> String;
}

macro_rules! integer_secs {
    ($($t:ty),*) => {$(
        impl Secs for $t {
            fn api_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_secs!(i32, i64, u32, u64, usize);

impl Secs for f64 {
    fn api_text(&self) -> String {
        let text = format!("{self:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl Secs for Duration {
    fn api_text(&self) -> String {
        self.as_secs_f64().api_text()
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
