//! Auth, TLS and path prefixes against the REAL engines (not stubs): Prometheus with its own
//! `--web.config.file` (basic auth users with a bcrypt hash; TLS with a certificate made at
//! test time) and VictoriaMetrics behind `vmauth` (a bearer token; the `/prometheus` path
//! prefix Mimir and Thanos serve, routed by `url_map`). Each case runs the real binary's
//! `check --json` against a `simulate` backend: the right credentials give numbers, each wrong
//! one gives one line naming what to fix, and no secret reaches stdout, stderr or the log file.

#[path = "common/secured.rs"]
mod secured;
#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tmux.rs"]
mod tmux;

use secured::{EXPIRED_ON, Pki, Proc, bcrypt_hash};
use simulate::Simulate;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

const USER: &str = "alice";
/// Secrets distinctive enough that finding them anywhere is a leak.
const PASSWORD: &str = "pw-Zq8Lx3vT";
const WRONG_PASSWORD: &str = "pw-wrong-K7mE";
const TOKEN: &str = "tok-9fJ2kQ4wRb";
const WRONG_TOKEN: &str = "tok-wrong-Hs5N";

/// What the one metric asks: a constant the engine evaluates, so the engine needs no data and
/// a number in the report proves the request went through.
const VALUE: f64 = 0.25;

/// A temp dir with the secrets in files and the console's XDG dirs inside it.
struct Case {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The metric's value for the canary in `check --json`.
    fn canary_value(&self) -> Option<f64> {
        let v: serde_json::Value = serde_json::from_str(&self.stdout).ok()?;
        v["metrics"][0]["canary"].as_f64()
    }

    /// The lines of output that hold `needle`.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("secret file");
        };
        write("password", &format!("{PASSWORD}\n"));
        write("wrong-password", &format!("{WRONG_PASSWORD}\n"));
        write("token", &format!("{TOKEN}\n"));
        write("wrong-token", &format!("{WRONG_TOKEN}\n"));
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `check --json` with `[prometheus]` = `prometheus` (TOML lines) and the simulator as the
    /// backend; the log at trace level, so everything the binary could log is looked at.
    fn check(&self, name: &str, prometheus: &str, sim: &Simulate) -> Run {
        let config = self.config(name, prometheus, sim);
        let out = Command::new(BIN)
            .args(["check", "--json", "--config"])
            .arg(&config)
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("ROLLOUT_CONSOLE_LOG", "trace")
            .output()
            .expect("check runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.assert_no_secret(&run, name, &self.path("state"));
        run
    }

    /// A config with `[prometheus]` = `prometheus` (TOML lines), the simulator as the backend and
    /// one metric.
    fn config(&self, name: &str, prometheus: &str, sim: &Simulate) -> PathBuf {
        let config = self.path(&format!("{name}.toml"));
        let text = format!(
            r#"poll_interval = "1s"
[prometheus]
timeout = "3s"
{prometheus}
[backend]
kind = "http"
url = "http://{addr}"
[[rollouts]]
name = "checkout"
baseline = 'track="baseline"'
canary = 'track="canary"'
[[metrics]]
name = "p95 latency"
query = 'vector({VALUE})'
unit = "seconds"
"#,
            addr = sim.addr
        );
        std::fs::write(&config, text).expect("config");
        config
    }

    /// No password or token, plain or base64 as in an `Authorization: Basic` header, in the
    /// run's output or in any file under the console's state dir (its log).
    fn assert_no_secret(&self, run: &Run, name: &str, state: &Path) {
        use base64_like::encode;
        let mut secrets = vec![
            PASSWORD.to_string(),
            WRONG_PASSWORD.to_string(),
            TOKEN.to_string(),
            WRONG_TOKEN.to_string(),
        ];
        secrets.push(encode(&format!("{USER}:{PASSWORD}")));
        secrets.push(encode(&format!("{USER}:{WRONG_PASSWORD}")));
        let mut places = vec![
            ("stdout".to_string(), run.stdout.clone()),
            ("stderr".to_string(), run.stderr.clone()),
        ];
        let logs = files_under(state);
        assert!(
            !logs.is_empty(),
            "{name}: no log file under {}",
            state.display()
        );
        for file in logs {
            let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read log")).into();
            places.push((file.display().to_string(), text));
        }
        for (place, text) in &places {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{name}: a secret is in {place}:\n{text}"
                );
            }
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Base64 (standard alphabet, padded), enough to look for an encoded header in a log.
mod base64_like {
    pub fn encode(text: &str) -> String {
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn basic_auth(password_file: &Path) -> String {
    format!(
        "basic_auth = {{ username = \"{USER}\", password_file = {} }}",
        toml_path(password_file)
    )
}

fn toml_path(path: &Path) -> String {
    serde_json::json!(path.display().to_string()).to_string()
}

/// The one line of `run` naming `needle`: the error of a config that cannot start (stderr), or
/// the metric's reason in `check --json` (it is repeated in the summary, as `NO DATA (…)`).
fn one_line(run: &Run, needle: &str) -> String {
    let lines: Vec<String> = run
        .lines_with(needle)
        .into_iter()
        .filter(|l| !l.contains("NO DATA ("))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "want one line with {needle:?}, exit {}:\n{}",
        run.code,
        run.text()
    );
    let line = lines.into_iter().next().unwrap_or_default();
    // What a user sees, for the README (`--nocapture`).
    eprintln!("{}", line.trim());
    line
}

#[test]
fn prometheus_basic_auth() {
    let case = Case::new();
    let sim = Simulate::start("healthy");
    let web = format!("basic_auth_users:\n  {USER}: {}\n", bcrypt_hash(PASSWORD));
    let prom = secured::prometheus(case.dir.path(), "basic", &web);
    let url = format!("url = \"http://{}\"", prom.addr);

    let right = case.check(
        "right",
        &format!("{url}\n{}", basic_auth(&case.path("password"))),
        &sim,
    );
    assert_eq!(right.canary_value(), Some(VALUE), "{}", right.text());

    let wrong = case.check(
        "wrong-password",
        &format!("{url}\n{}", basic_auth(&case.path("wrong-password"))),
        &sim,
    );
    let line = one_line(&wrong, "401");
    assert!(
        line.contains(&format!("401 Unauthorized from http://{}", prom.addr))
            && line.contains("check [prometheus] basic_auth.username and basic_auth.password_file"),
        "{line}"
    );

    let none = case.check("no-credentials", &url, &sim);
    let line = one_line(&none, "401");
    assert!(
        line.contains("set [prometheus] basic_auth or bearer_token_file"),
        "{line}"
    );

    let missing = case.path("no-such-password");
    let run = case.check(
        "missing-password-file",
        &format!("{url}\n{}", basic_auth(&missing)),
        &sim,
    );
    assert_eq!(run.code, 2, "{}", run.text());
    let line = one_line(&run, "password_file");
    assert!(
        line.contains(&format!(
            "cannot read [prometheus] basic_auth.password_file {}: No such file",
            missing.display()
        )),
        "{line}"
    );
    drop(prom);
}

fn tls_web_config(pki: &Pki, cert: &Path) -> String {
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        cert.display(),
        pki.key.display()
    )
}

#[test]
fn prometheus_tls() {
    let case = Case::new();
    let pki_dir = case.path("pki");
    std::fs::create_dir_all(&pki_dir).expect("pki dir");
    let pki = Pki::make(&pki_dir);
    let sim = Simulate::start("healthy");
    // TLS and basic auth together, as a Prometheus on the internet would be.
    let web = format!(
        "{}basic_auth_users:\n  {USER}: {}\n",
        tls_web_config(&pki, &pki.cert),
        bcrypt_hash(PASSWORD)
    );
    let prom = secured::prometheus(case.dir.path(), "tls", &web);
    let expired = secured::prometheus(
        case.dir.path(),
        "expired",
        &tls_web_config(&pki, &pki.expired_cert),
    );
    let auth = basic_auth(&case.path("password"));
    let ca = |path: &Path| format!("ca_file = {}", toml_path(path));
    let https = |p: &Proc| format!("url = \"https://{}\"", p.addr);

    let right = case.check(
        "tls-right",
        &format!("{}\n{auth}\n{}", https(&prom), ca(&pki.ca)),
        &sim,
    );
    assert_eq!(right.canary_value(), Some(VALUE), "{}", right.text());

    let no_ca = case.check("tls-no-ca", &format!("{}\n{auth}", https(&prom)), &sim);
    let line = one_line(&no_ca, "certificate");
    assert!(
        line.contains(&format!("https://{}", prom.addr))
            && line.contains("certificate not trusted: set [prometheus] ca_file"),
        "{line}"
    );

    let other_ca = case.check(
        "tls-other-ca",
        &format!("{}\n{auth}\n{}", https(&prom), ca(&pki.other_ca)),
        &sim,
    );
    let line = one_line(&other_ca, "certificate");
    assert!(
        line.contains(&format!(
            "certificate not trusted: not signed by ca_file {}",
            pki.other_ca.display()
        )),
        "{line}"
    );

    let run = case.check(
        "tls-expired",
        &format!("{}\n{}", https(&expired), ca(&pki.ca)),
        &sim,
    );
    let line = one_line(&run, "certificate");
    assert!(
        line.contains(&format!("certificate expired on {EXPIRED_ON}")),
        "{line}"
    );
    drop((prom, expired));
}

#[test]
fn victoria_metrics_behind_vmauth() {
    let case = Case::new();
    let sim = Simulate::start("healthy");
    // Only the Prometheus API under /prometheus, as Mimir serves it; VictoriaMetrics answers
    // /prometheus/api/v1/... itself.
    let auth = format!(
        "users:\n  - bearer_token: \"{TOKEN}\"\n    url_map:\n      - src_paths: [\"/prometheus/api/v1/.+\"]\n        url_prefix: \"{{vm}}\"\n"
    );
    let (vmauth, _vm) = secured::vmauth(case.dir.path(), &auth);
    let prefixed = format!("url = \"http://{}/prometheus\"", vmauth.addr);
    let token = |path: &Path| format!("bearer_token_file = {}", toml_path(path));

    let right = case.check(
        "vm-right",
        &format!("{prefixed}\n{}", token(&case.path("token"))),
        &sim,
    );
    assert_eq!(right.canary_value(), Some(VALUE), "{}", right.text());

    let wrong = case.check(
        "vm-wrong-token",
        &format!("{prefixed}\n{}", token(&case.path("wrong-token"))),
        &sim,
    );
    // vmauth 1.79 answers an unknown token with 400 and the token itself in the body.
    let line = one_line(&wrong, "bearer_token_file");
    assert!(
        line.contains(&format!(
            "400 Bad Request from http://{}/prometheus: check [prometheus] bearer_token_file",
            vmauth.addr
        )),
        "{line}"
    );

    let missing = case.path("no-such-token");
    let run = case.check(
        "vm-missing-token-file",
        &format!("{prefixed}\n{}", token(&missing)),
        &sim,
    );
    assert_eq!(run.code, 2, "{}", run.text());
    let line = one_line(&run, "bearer_token_file");
    assert!(
        line.contains(&format!(
            "cannot read [prometheus] bearer_token_file {}: No such file",
            missing.display()
        )),
        "{line}"
    );

    // The right token, the prefix left out: vmauth has no route for /api/v1/query.
    let bare = case.check(
        "vm-no-prefix",
        &format!(
            "url = \"http://{}\"\n{}",
            vmauth.addr,
            token(&case.path("token"))
        ),
        &sim,
    );
    let line = one_line(&bare, "prometheus.url");
    assert!(line.contains("path prefix"), "{line}");
}

/// The console itself (under tmux): the refusal shows on screen in the same words, and neither
/// the screen nor the log holds the password.
#[test]
fn console_shows_the_refusal() {
    let case = Case::new();
    let sim = Simulate::start("healthy");
    let web = format!("basic_auth_users:\n  {USER}: {}\n", bcrypt_hash(PASSWORD));
    let prom = secured::prometheus(case.dir.path(), "console", &web);
    let config = case.config(
        "console",
        &format!(
            "url = \"http://{}\"\n{}",
            prom.addr,
            basic_auth(&case.path("wrong-password"))
        ),
        &sim,
    );
    let t = tmux::Tmux::start("auth");
    t.run_console(
        &format!("--config {}", config.display()),
        "ROLLOUT_CONSOLE_LOG=trace",
    );
    let screen = t.wait_text("401 Unauthorized");
    // The panel may wrap or cut the line; the key to fix is on screen.
    assert!(screen.contains("basic_auth"), "{screen}");
    for line in screen
        .lines()
        .filter(|l| l.contains("401") || l.contains("basic_auth"))
    {
        eprintln!("{}", line.trim_end());
    }
    t.send(&["q"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let run = Run {
        code: 0,
        stdout: t.screen(),
        stderr: String::new(),
    };
    case.assert_no_secret(&run, "console", &t.dir.path().join("state"));
}
