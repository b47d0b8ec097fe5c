//! The README's CI recipes cannot rot: the `rollout-console …` lines of `assets/ci/*.yml` (which
//! the README shows verbatim) run here, as written, against a real Prometheus scraping
//! `simulate`: a healthy canary passes `explain` and `check --wait`; an error spike fails the gate
//! with exit 1, which fails the CI job.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::{Options, Simulate};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tsdb::{Engine, Tsdb};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");
const RECIPES: [&str; 2] = ["assets/ci/github-actions.yml", "assets/ci/gitlab-ci.yml"];
/// Where both recipes expect the service's console config, relative to the job's directory.
const CONFIG: &str = "deploy/rollout-console.toml";

fn recipe(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("recipe")
}

/// The recipe's command lines that run the console, as argv (they quote nothing).
fn console_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter_map(|l| {
            let l = l
                .strip_prefix("run:")
                .or_else(|| l.strip_prefix('-'))?
                .trim();
            l.starts_with("rollout-console ")
                .then(|| l.split_whitespace().map(str::to_string).collect())
        })
        .collect()
}

#[test]
fn the_readme_shows_each_recipe_verbatim_and_each_runs_explain_then_check_wait() {
    let readme = recipe("README.md");
    for path in RECIPES {
        let text = recipe(path);
        assert!(
            readme.contains(text.trim_end()),
            "README.md must show {path} verbatim (copy it in again)"
        );
        let lines = console_lines(&text);
        let subcommands: Vec<&str> = lines.iter().map(|argv| argv[1].as_str()).collect();
        assert_eq!(subcommands, ["explain", "check"], "{path}: {lines:?}");
        assert!(
            lines[1].iter().any(|a| a == "--wait") && lines[1].iter().any(|a| a == "--timeout"),
            "{path}: the gate waits, with a timeout: {lines:?}"
        );
        for argv in &lines {
            let config = argv.iter().skip_while(|a| *a != "--config").nth(1);
            assert_eq!(config.map(String::as_str), Some(CONFIG), "{path}: {argv:?}");
        }
    }
}

fn write_config(dir: &Path, prometheus: &str, sim: &Simulate, token: &Path) {
    let instance = format!("instance=\"{}\"", sim.addr);
    let text = format!(
        r#"poll_interval = "1s"
[prometheus]
url = "{prometheus}"
bearer_token_file = "{token}"
[backend]
kind = "http"
url = "http://{addr}"
[[rollouts]]
name = "checkout"
baseline = 'job="checkout", track="baseline", {instance}'
canary   = 'job="checkout", track="canary", {instance}'
service  = 'job="checkout", {instance}'
[[metrics]]
name = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
window = "20s"
gate = {{ max_increase_pct = 50, for = 2, severity = "hold" }}
[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
window = "20s"
gate = {{ max = 0.01, max_ratio = 2.0, min_baseline = 0.005, for = 2, severity = "rollback" }}
"#,
        addr = sim.addr,
        token = token.display(),
    );
    let path = dir.join(CONFIG);
    std::fs::create_dir_all(path.parent().expect("deploy/")).expect("mkdir");
    std::fs::write(path, text).expect("config");
}

/// Run one recipe line as the CI job would: from the job's directory, the binary on the PATH.
fn run(argv: &[String], job_dir: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(&argv[1..])
        .current_dir(job_dir)
        .env("XDG_DATA_HOME", job_dir.join("data"))
        .env("XDG_STATE_HOME", job_dir.join("state"))
        .output()
        .expect("the console runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_recipes_command_lines_pass_a_healthy_canary_and_fail_an_error_spike() {
    // Holds of 10 s (speed 60): `check --wait` sees one satisfied within seconds.
    let fast = Options {
        speed: 60.0,
        ..Options::default()
    };
    let healthy = Simulate::start_with("healthy", fast);
    let errors = Simulate::start("error-spike");
    // The spike bites at 25%; paused there so the simulator's controller does not roll it back.
    errors.act("promote", 0);
    errors.act("pause", 1);
    let prom = Tsdb::start(
        Engine::Prometheus,
        &[healthy.addr.as_str(), errors.addr.as_str()],
        Duration::from_secs(1),
    );
    prom.wait_for_series(
        &format!(
            "http_requests_total{{track=\"canary\",instance=\"{}\"}}",
            errors.addr
        ),
        Duration::from_secs(40),
    );
    // Fill the 20 s rate windows.
    std::thread::sleep(Duration::from_secs(22));

    let secrets = tempfile::tempdir().expect("tempdir");
    let token = secrets.path().join("prom-token");
    std::fs::write(&token, "ci-recipe-token-5f3a9c").expect("token");

    for path in RECIPES {
        let lines = console_lines(&recipe(path));
        let good = tempfile::tempdir().expect("tempdir");
        write_config(good.path(), &prom.url, &healthy, &token);
        for argv in &lines {
            let (code, out) = run(argv, good.path());
            assert_eq!(
                code,
                0,
                "{path}: `{}` on a healthy canary:\n{out}",
                argv.join(" ")
            );
            assert!(!out.contains("ci-recipe-token"), "the token leaked:\n{out}");
        }

        let bad = tempfile::tempdir().expect("tempdir");
        write_config(bad.path(), &prom.url, &errors, &token);
        let (explain, check) = (&lines[0], &lines[1]);
        let (code, out) = run(explain, bad.path());
        assert_eq!(
            code, 0,
            "{path}: the queries answer even when the canary is bad:\n{out}"
        );
        let (code, out) = run(check, bad.path());
        assert_eq!(code, 1, "{path}: an error spike fails the job:\n{out}");
        assert!(out.contains("ERROR_RATE:") && out.contains("FAIL"), "{out}");
    }
}
