//! The command line as a user meets it: help texts, and errors that say what to fix (exit 2).

use std::process::{Command, Stdio};

#[path = "common/tsdb.rs"]
mod tsdb;

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn run(args: &[&str], config_home: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env("XDG_STATE_HOME", config_home.join("state"))
        .env_remove("ROLLOUT_CONSOLE_CONFIG")
        .env_remove("ROLLOUT_CONSOLE_READ_ONLY")
        .env("COLUMNS", "100")
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_texts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, _) = run(&["--help"], dir.path());
    assert_eq!(code, 0);
    insta::assert_snapshot!("help", out);
    let (code, out, _) = run(&["demo", "--help"], dir.path());
    assert_eq!(code, 0);
    insta::assert_snapshot!("demo_help", out);
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rc.toml");
    std::fs::write(
        &path,
        "poll_interval = \"5s\"\n[backend]\nkind = \"demo\"\nscenaro = \"healthy\"\n",
    )
    .expect("write");
    let (code, _, err) = run(&["--config", path.to_str().expect("utf8")], dir.path());
    assert_eq!(code, 2, "{err}");
    insta::assert_snapshot!(
        "config_unknown_key",
        err.replace(&dir.path().display().to_string(), "[DIR]")
    );

    std::fs::write(&path, "[backend]\nkind = \"kubernetes\"\n").expect("write");
    let (code, _, err) = run(&["--config", path.to_str().expect("utf8")], dir.path());
    assert_eq!(code, 2, "{err}");
    insta::assert_snapshot!(
        "config_bad_kind",
        err.replace(&dir.path().display().to_string(), "[DIR]")
    );
}

#[test]
fn no_config_says_where_it_looked_and_suggests_the_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(&[], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no config found"), "{err}");
    assert!(err.contains("rollout-console demo"), "{err}");
    let (code, _, err) = run(&["--config", "/nonexistent/rc.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/rc.toml (from --config) does not exist"),
        "{err}"
    );
}

#[test]
fn an_argo_backend_with_a_url_is_a_clear_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rc.toml");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
            .expect("example");
    std::fs::write(&path, example.replace("kind = \"http\"", "kind = \"argo\"")).expect("write");
    let (code, _, err) = run(&["--config", path.to_str().expect("utf8")], dir.path());
    assert_eq!(code, 2, "{err}");
    // argo takes its server from the kubeconfig: the example's url is a mistake worth naming.
    assert!(
        err.contains("kind = \"argo\" takes the server and credentials from the kubeconfig"),
        "{err}"
    );
}

#[test]
fn without_a_terminal_the_console_says_so_instead_of_panicking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rc.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"),
        &path,
    )
    .expect("copy");
    let (code, _, err) = run(&["--config", path.to_str().expect("utf8")], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the console needs a terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn without_a_terminal_demo_says_one_plain_line_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    // stdin null, stdout piped: neither is a TTY.
    let out = Command::new(BIN)
        .arg("demo")
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env_remove("ROLLOUT_CONSOLE_READ_ONLY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        "rollout-console: the console needs a terminal (stdin and stdout must be a TTY); for \
         headless use, run `rollout-console check`\n"
    );
    assert!(
        !err.contains("Location") && !err.contains('\u{1b}'),
        "{err}"
    );
}

#[test]
fn read_only_is_refused_where_it_means_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["check", "--read-only"][..],
        &["--read-only", "check"],
        &["audit", "--watch"],
        &["explain", "--read-only"],
        &["init", "--prometheus", "http://127.0.0.1:9", "--read-only"],
        &["simulate", "--listen", "127.0.0.1:0", "--read-only"],
    ] {
        let (code, _, err) = run(args, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("--read-only") || err.contains("--watch"),
            "{err}"
        );
    }
    // check/audit help no longer offers it; demo's still does.
    for cmd in ["check", "explain", "init", "audit", "simulate"] {
        let (_, out, _) = run(&[cmd, "--help"], dir.path());
        assert!(!out.contains("--read-only"), "{cmd}: {out}");
    }
    let (_, out, _) = run(&["demo", "--help"], dir.path());
    assert!(out.contains("--read-only"), "{out}");
}

#[test]
fn check_timeout_needs_wait_and_override_reason_says_what_it_overrides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(&["check", "--timeout", "5m"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--timeout <TIMEOUT>") && err.contains("--wait"),
        "{err}"
    );
    let (_, out, _) = run(&["check", "--help"], dir.path());
    assert!(out.contains("never passes a failing gate"), "{out}");
    // A completed rollout is exit 0, as `check` does (tests/check.rs).
    assert!(out.contains("or the rollout already completed"), "{out}");
    // A demo-backed config whose canary fails its gates: the override cannot pass it, and says so.
    let path = dir.path().join("rc.toml");
    std::fs::write(
        &path,
        "[backend]\nkind = \"demo\"\nscenario = \"error-spike\"\nspeed = 2000\n",
    )
    .expect("write");
    let config = path.to_str().expect("utf8");
    let (code, out, err) = run(
        &[
            "check",
            "--config",
            config,
            "--wait",
            "--timeout",
            "20s",
            "--override-reason",
            "hotfix",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("--override-reason lifts only the error-budget policy"),
        "{err}"
    );
}

#[test]
fn speed_zero_says_more_than_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(&["demo", "--speed", "0"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("speed must be more than 0 and at most 10000, got 0"),
        "{err}"
    );
}

#[test]
fn an_integer_poll_interval_says_durations_are_strings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rc.toml");
    std::fs::write(&path, "poll_interval = 5\n[backend]\nkind = \"demo\"\n").expect("write");
    let (code, _, err) = run(
        &["check", "--config", path.to_str().expect("utf8")],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rc.toml:1:17"), "{err}");
    assert!(err.contains("durations are strings like \"5s\""), "{err}");
}

/// The example config aimed at `prometheus_url`, with one query replaced by `query`; the
/// backend is a port nothing listens on.
fn config_with_query(
    dir: &std::path::Path,
    prometheus_url: &str,
    query: &str,
) -> std::path::PathBuf {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
            .expect("example");
    let p99 = "query = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))'";
    assert!(example.contains(p99), "the example's p99 query moved");
    let text = example
        .replace(
            "url = \"http://127.0.0.1:9090\"",
            &format!("url = \"{prometheus_url}\""),
        )
        .replace(
            "url = \"http://127.0.0.1:8080\"",
            "url = \"http://127.0.0.1:9\"",
        )
        .replace(p99, &format!("query = '{query}'"));
    let path = dir.join("rc.toml");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_query_prometheus_cannot_parse_is_a_config_error_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prometheus = tsdb::Tsdb::start(
        tsdb::Engine::Prometheus,
        &[] as &[&str],
        std::time::Duration::from_secs(1),
    );
    let path = config_with_query(dir.path(), &prometheus.url, "rate(foo[5m]");
    let text = std::fs::read_to_string(&path).expect("read");
    let line = text
        .lines()
        .position(|l| l == "query = 'rate(foo[5m]'")
        .expect("the broken query")
        + 1;
    let (code, _, err) = run(
        &["check", "--config", path.to_str().expect("utf8")],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "rc.toml:{line}:9: [[metrics]] \"p99 latency\": query: Prometheus cannot parse it"
        )),
        "{err}"
    );
    assert!(err.contains("parse error"), "{err}");
    // The console refuses it the same way, after the terminal check (none here): use check only.
    // A good config against the same Prometheus passes the start-up check.
    let good = config_with_query(
        dir.path(),
        &prometheus.url,
        "sum(rate(foo{$selector}[$window]))",
    );
    let (code, _, err) = run(
        &["check", "--config", good.to_str().expect("utf8")],
        dir.path(),
    );
    assert_ne!(code, 2, "{err}");
}

#[test]
fn an_unreachable_prometheus_at_start_up_is_not_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config_with_query(dir.path(), "http://127.0.0.1:9", "rate(foo[5m]");
    let (code, out, err) = run(
        &["check", "--config", path.to_str().expect("utf8")],
        dir.path(),
    );
    assert_ne!(code, 2, "{out}{err}");
    assert!(!err.contains("config error"), "{err}");
}

#[test]
fn unknown_scenario_lists_the_valid_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(&["demo", "--scenario", "meltdown"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("healthy, latency-regression, error-spike, slow-burn, mild-latency"),
        "{err}"
    );
}

#[test]
fn rps_out_of_range_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (cmd, rps) in [("demo", "0"), ("simulate", "100001"), ("demo", "-5")] {
        let rps = format!("--rps={rps}");
        let mut args = vec![cmd, rps.as_str()];
        if cmd == "simulate" {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        let (code, _, err) = run(&args, dir.path());
        assert_eq!(code, 2, "{cmd} {rps}: {err}");
        assert!(
            err.contains("--rps <N>") && err.contains("more than 0 and at most 100000"),
            "{err}"
        );
    }
    let (code, _, err) = run(&["simulate", "--rps", "lots"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("is not a number of requests per second"),
        "{err}"
    );
}

#[test]
fn audit_lists_receipts_filtered_by_rollout_and_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("data/rollout-console/audit.jsonl");
    std::fs::create_dir_all(log.parent().expect("parent")).expect("mkdir");
    let now = chrono::Utc::now();
    let line = |rollout: &str, age_h: i64, op: &str| {
        serde_json::json!({
            "time": (now - chrono::Duration::hours(age_h)).to_rfc3339(), "actor": "alice@bastion", "rollout": rollout,
            "action": "promote", "operation": op, "from_step": 0, "from_weight": 5, "to_step": 1, "to_weight": 25,
            "verdicts": [], "result": "ok"
        })
        .to_string()
    };
    let text = [
        line("checkout", 30, "traffic_promoted"),
        line("checkout", 1, "deployment_complete"),
        line("search", 1, "traffic_promoted"),
    ]
    .join("\n");
    std::fs::write(&log, text + "\n").expect("write");
    let audit = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("audit")
            .args(args)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env_remove("ROLLOUT_CONSOLE_CONFIG")
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = audit(&[]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4, "header + 3: {out}");
    assert!(
        out.contains("deployment_complete") && out.contains("1 → 2"),
        "{out}"
    );
    let (_, out) = audit(&["--rollout", "checkout", "--since", "24h", "--json"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["operation"], "deployment_complete");
}

/// Every subcommand, as completions and the man page must name them.
const SUBCOMMANDS: [&str; 8] = [
    "demo",
    "simulate",
    "check",
    "explain",
    "init",
    "audit",
    "completions",
    "man",
];

#[test]
fn completions_name_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(&["completions", "bash"], dir.path());
    assert_eq!(code, 0, "{err}");
    for sub in SUBCOMMANDS {
        assert!(out.contains(sub), "{sub} missing from:\n{out}");
    }
    assert!(out.contains("complete -F"), "{out}");
    let (code, out, _) = run(&["completions", "zsh"], dir.path());
    assert_eq!(code, 0);
    assert!(out.starts_with("#compdef rollout-console"), "{out}");
    let (code, _, err) = run(&["completions", "tcsh"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("bash") && err.contains("fish"), "{err}");
}

#[test]
fn man_prints_roff_naming_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(&["man"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".TH rollout-console 1"), "{out}");
    for sub in SUBCOMMANDS {
        assert!(
            out.contains(&format!("rollout-console {sub}"))
                || out.contains(&format!("rollout\\-console {sub}")),
            "{sub} missing from:\n{out}"
        );
    }
    assert!(
        out.contains("\\-\\-override\\-reason"),
        "check's options are in it: {out}"
    );
}

#[test]
fn without_rollout_or_entries_the_http_backends_only_rollout_is_shown() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sim = Command::new(BIN)
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--rollout",
            "payments",
        ])
        .env("XDG_STATE_HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulate starts");
    let mut line = String::new();
    std::io::BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the banner");
    let addr = line
        .split("http://")
        .nth(1)
        .map(|rest| rest.split(':').take(2).collect::<Vec<_>>().join(":"))
        .expect("the address in the banner");
    let path = dir.path().join("rc.toml");
    std::fs::write(
        &path,
        format!(
            "[prometheus]\nurl = \"http://127.0.0.1:9\"\n[backend]\nkind = \"http\"\nurl = \"http://{addr}\"\n"
        ),
    )
    .expect("write");
    let (code, out, err) = run(
        &["check", "--json", "--config", path.to_str().expect("utf8")],
        dir.path(),
    );
    sim.kill().expect("stop the simulator");
    let _ = sim.wait();
    assert_ne!(code, 2, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(report["rollout"], "payments", "{out}");
}

#[test]
fn an_audit_log_that_cannot_be_read_is_a_runtime_failure_not_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("data/rollout-console/audit.jsonl");
    std::fs::create_dir_all(log.parent().expect("parent")).expect("mkdir");
    let audit = || {
        let out = Command::new(BIN)
            .arg("audit")
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env_remove("ROLLOUT_CONSOLE_CONFIG")
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A corrupt line: named with its number, exit 1 (2 is a usage or config error).
    std::fs::write(&log, "{not json}\n").expect("write");
    let (code, err) = audit();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot read the audit log") && err.contains("audit.jsonl:1:"),
        "{err}"
    );
    assert!(err.contains("each line is one JSON receipt"), "{err}");
    // A file that cannot be read at all (here a directory): the same outcome.
    std::fs::remove_file(&log).expect("rm");
    std::fs::create_dir(&log).expect("mkdir in its place");
    let (code, err) = audit();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot read the audit log"), "{err}");
}
