//! `check --wait` through the real binary, on the built-in simulator (`[backend] kind = "demo"`).

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn run(speed: u32, args: &[&str]) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rc.toml");
    std::fs::write(
        &config,
        format!("poll_interval = \"1s\"\n[backend]\nkind = \"demo\"\nspeed = {speed}\nseed = 3\n"),
    )
    .expect("write");
    let start = Instant::now();
    let out = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(&config)
        .args(args)
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("check runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text, start.elapsed())
}

#[test]
fn wait_gives_up_after_the_timeout_as_inconclusive() {
    // Real-world holds (10 minutes): the hold cannot be satisfied within 3 seconds.
    let (code, out, took) = run(1, &["--wait", "--timeout", "3s"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("timed out after 3s waiting for the hold"),
        "{out}"
    );
    assert!(
        out.contains("check: waiting (hold: "),
        "progress goes to stderr: {out}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn wait_exits_0_once_a_hold_is_satisfied() {
    // Holds of 6s, 6s and 18s: a step becomes ready within seconds.
    let (code, out, took) = run(100, &["--wait", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("READY_TO_PROMOTE: YES"), "{out}");
    assert!(took < Duration::from_secs(40), "{took:?}");
}

#[test]
fn without_wait_one_evaluation_and_done() {
    // Seconds into a 10-minute hold the judge is still counting: inconclusive, not a pass.
    let (code, out, took) = run(1, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("COLLECTING"), "{out}");
    assert!(out.contains("READY_TO_PROMOTE: NO (hold: "), "{out}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
