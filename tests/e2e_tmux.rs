//! End to end: the real binary (the one `cargo test` built) under tmux, driven by send-keys and
//! read with capture-pane. Each test has its own tmux server and its own data directories.

#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tmux::Tmux;

fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect()
}

#[test]
fn demo_shows_the_header_promotes_and_rolls_back() {
    let t = Tmux::start("promote");
    // Speed 1: the first hold lasts 10 minutes, so only our keys move the rollout.
    t.run_console("demo --speed 1 --seed 11", "");
    let (_, first_frame) = t.wait_for("the header", Duration::from_secs(10), |s| {
        s.contains("checkout") && s.contains("PROGRESSING") && s.contains("step 1/4")
    });
    eprintln!("time to first frame (incl. shell start): {first_frame:?}");
    // The judge has its first counts once the rollout is read: then a plain y promotes.
    t.wait_text("COLLECTING");

    t.send(&["p"]);
    t.wait_text("Promote checkout?");
    t.send(&["y"]);
    let screen = t.wait_text("step 2/4");
    assert!(screen.contains("25%"), "{screen}");
    t.wait_text("promote done");

    t.send(&["r"]);
    t.wait_text("Roll back checkout?");
    t.send(&["y"]);
    t.wait_text("ROLLED BACK");

    t.send(&["q"]);
    let screen = t.wait_text("rollout-console: left checkout");
    assert!(screen.contains("ROLLED BACK"), "{screen}");
    let audit = audit_lines(&t.audit_path());
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["action"], "promote");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(
        (
            audit[0]["from_step_index"].as_u64(),
            audit[0]["to_step_index"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(audit[0]["verdicts"].as_array().map(Vec::len), Some(4));
    assert_eq!(audit[0]["operation"], "traffic_promoted");
    assert!(
        audit[0]["verdicts"][0]["threshold"].as_f64().is_some(),
        "{}",
        audit[0]
    );
    assert_eq!(
        audit[0]["response"]["step"], 1,
        "the backend's answer is kept"
    );
    assert_eq!(audit[1]["action"], "rollback");
    assert_eq!(audit[1]["operation"], "rollback_executed");
    assert_eq!(audit[1]["result"], "ok");
    assert!(
        audit[1]["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "RFC 3339 UTC: {}",
        audit[1]["time"]
    );
    t.assert_terminal_sane();
}

#[test]
fn read_only_changes_nothing_and_writes_no_action() {
    let t = Tmux::start("readonly");
    t.run_console("demo --watch --speed 1 --seed 12", "");
    t.wait_text("READ-ONLY");
    for key in ["p", "y", "Space", "y", "r", "y", "Enter"] {
        t.send(&[key]);
    }
    // Enter opens the metric's detail, a view that works in watch mode; Esc closes it.
    t.wait_text("Queries sent (last poll)");
    t.send(&["Escape"]);
    let screen = t.wait_text("read-only: roll back is");
    assert!(
        screen.contains("step 1/4") && screen.contains("PROGRESSING"),
        "{screen}"
    );
    assert!(
        !screen.contains("Promote checkout?") && !screen.contains("Roll back checkout?"),
        "{screen}"
    );
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout at step 1/4");
    assert!(
        audit_lines(&t.audit_path()).is_empty(),
        "read-only wrote an action receipt"
    );

    // The environment variable does the same.
    t.send(&["clear", "Enter"]);
    t.run_console("demo --speed 1 --seed 13", "ROLLOUT_CONSOLE_READ_ONLY=1");
    t.wait_text("READ-ONLY");
    t.send(&["p"]);
    t.wait_text("read-only: promote is");
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout at step 1/4");
    assert!(audit_lines(&t.audit_path()).is_empty());
}

#[test]
fn a_panic_restores_the_terminal_and_prints_the_report() {
    let t = Tmux::start("panic");
    t.run_console(
        "demo --speed 1 --seed 16 --test-panic-after-first-frame",
        "RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0",
    );
    let screen = t.wait_text("panicking after the first frame");
    assert!(
        !screen.contains("Phases"),
        "the report prints on the restored main screen: {screen}"
    );
    t.assert_terminal_sane();
}

#[test]
fn ctrl_c_sigterm_and_sighup_leave_a_sane_terminal() {
    let t = Tmux::start("signals");
    t.run_console("demo --speed 1 --seed 14", "");
    t.wait_text("PROGRESSING");
    t.send(&["C-c"]);
    t.wait_text("rollout-console: left checkout");
    t.assert_terminal_sane();

    t.send(&["clear", "Enter"]);
    t.run_console("demo --speed 1 --seed 15", "");
    t.wait_text("PROGRESSING");
    let pid = t.tmux(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
    // The console is the shell's child: signal it, as a `kill` (TERM) or an SSH drop (HUP) would.
    for (seed, signal) in [(15, "-TERM"), (16, "-HUP")] {
        if seed != 15 {
            t.send(&["clear", "Enter"]);
            t.run_console(&format!("demo --speed 1 --seed {seed}"), "");
            t.wait_text("PROGRESSING");
        }
        let status = Command::new("pkill")
            .args([signal, "-P", pid.trim()])
            .status()
            .expect("pkill");
        assert!(
            status.success(),
            "the console process was found for {signal}"
        );
        // The screen was cleared before this run: the exit line is this run's.
        t.wait_text("rollout-console: left checkout");
        t.assert_terminal_sane();
    }
}
