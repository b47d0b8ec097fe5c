//! The command line as a user meets it: help texts, and errors that say what to fix (exit 2).

use std::process::Command;

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
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs an interactive terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (code, _, err) = run(&["demo"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs an interactive terminal"), "{err}");
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
