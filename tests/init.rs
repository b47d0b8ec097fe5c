//! `rollout-console init` end to end: a real Prometheus scraping `simulate --instrumentation X`
//! for every preset; init recognises it, writes a config, and `explain` on that config exits 0.
//! And the bad inputs: an unreachable Prometheus, one with no metric init knows, a rollout name
//! no series carries, an existing output file.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use rollout_console::config::presets;
use simulate::{Options, Simulate};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tsdb::{Engine, Tsdb};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn run(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .output()
        .expect("the console runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_writes_a_config_explain_passes_for_every_instrumentation() {
    let sims: Vec<(&presets::Preset, Simulate)> = presets::ALL
        .iter()
        .map(|p| {
            let sim = Simulate::start_instrumented("healthy", p.name, Options::default());
            (*p, sim)
        })
        .collect();
    let targets: Vec<&str> = sims.iter().map(|(_, s)| s.addr.as_str()).collect();
    let prom = Tsdb::start(Engine::Prometheus, &targets, Duration::from_secs(1));
    for (p, sim) in &sims {
        prom.wait_for_series(
            &format!("{}{{instance=\"{}\"}}", p.recognise_by[0], sim.addr),
            Duration::from_secs(40),
        );
    }
    // Two scrapes at least, for rate().
    std::thread::sleep(Duration::from_secs(4));
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, sim) in &sims {
        let output = format!("{}.toml", p.name);
        let backend = format!("http://{}", sim.addr);
        let (code, out, err) = run(
            &[
                "init",
                "--prometheus",
                &prom.url,
                "--rollout",
                "checkout",
                "--preset",
                p.name,
                "--backend",
                &backend,
                "--output",
                &output,
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{}: init:\n{err}\n{out}", p.name);
        assert!(
            err.contains("recognised: ") && err.contains(p.name),
            "{}: {err}",
            p.name
        );
        assert!(out.contains(&format!("preset = \"{}\"", p.name)), "{out}");
        // The tracks: the pods' hashes where the instrumentation runs in the pod, else the
        // proxy's own label.
        let tracks = match p.tracks {
            presets::Tracks::PodHash => "init: tracks: the pod-template hashes".to_string(),
            presets::Tracks::Labels { baseline, .. } => {
                let label = baseline.split(['=', '!']).next().unwrap_or_default();
                format!("init: tracks: {label}")
            }
        };
        assert!(err.contains(&tracks), "{}: {tracks}\n{err}", p.name);
        assert!(
            out.contains("22 queries: 22 with data, 0 with no data, 0 failed"),
            "{}: {out}",
            p.name
        );
        let written = std::fs::read_to_string(dir.path().join(&output)).expect("written");
        assert!(
            out.starts_with(written.trim_end()),
            "stdout shows the file first"
        );
        let (code, out, err) = run(&["explain", "--config", &output], dir.path());
        assert_eq!(
            code, 0,
            "{}: explain on init's config:\n{err}\n{out}",
            p.name
        );
    }

    // An existing file is never written over without --force.
    let existing = dir.path().join("prometheus.toml");
    std::fs::write(&existing, "# mine\n").expect("write");
    let (code, _, err) = run(
        &[
            "init",
            "--prometheus",
            &prom.url,
            "--rollout",
            "checkout",
            "--output",
            "prometheus.toml",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("prometheus.toml exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&existing).expect("read"),
        "# mine\n"
    );

    // A rollout no series names: what exists is listed.
    let (code, _, err) = run(
        &[
            "init",
            "--prometheus",
            &prom.url,
            "--rollout",
            "chekout",
            "--output",
            "typo.toml",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("\"chekout\"") && err.contains("\"checkout\""),
        "{err}"
    );
    assert!(!dir.path().join("typo.toml").exists());
}

#[test]
fn init_says_what_it_looked_for_and_an_unreachable_prometheus_in_one_line() {
    // A Prometheus scraping nothing but itself: no instrumentation init knows.
    let prom = Tsdb::start(Engine::Prometheus, &[] as &[&str], Duration::from_secs(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(
        &["init", "--prometheus", &prom.url, "--output", "x.toml"],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it looked for"), "{err}");
    for p in presets::ALL {
        assert!(err.contains(p.recognise_by[0]), "{}: {err}", p.name);
    }
    assert!(!dir.path().join("x.toml").exists());

    let port = tsdb::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = run(
        &["init", "--prometheus", &url, "--output", "x.toml"],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(&url), "{err}");
}
