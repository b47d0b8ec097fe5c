//! End to end: the real binary (the one `cargo test` built) under tmux, driven by send-keys and
//! read with capture-pane. Each test has its own tmux server and its own data directories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start(name: &str) -> Self {
        let available = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            available,
            "tmux is required for the end-to-end tests: scripts/test.sh installs it"
        );
        let socket = format!("rc-e2e-{name}-{}", std::process::id());
        let t = Self {
            socket,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "120",
            "-y",
            "40",
            "bash --norc --noprofile",
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("data/rollout-console/audit.jsonl")
    }

    /// Run the console in the pane's shell with isolated XDG directories.
    fn run_console(&self, args: &str, extra_env: &str) {
        let d = self.dir.path().display();
        let line = format!(
            "env XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state XDG_CONFIG_HOME={d}/config {extra_env} {BIN} {args}"
        );
        self.send(&[&line, "Enter"]);
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return (screen, start.elapsed());
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, Duration::from_secs(15), |s| s.contains(text))
            .0
    }

    /// After the console exits: is the terminal back in cooked mode with echo?
    fn assert_terminal_sane(&self) {
        self.send(&["clear; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; printf '%s%s\\n' :ST TY", "Enter"]);
        let (screen, _) = self.wait_for("stty output", Duration::from_secs(10), |s| {
            s.lines().any(|l| l.trim_end().ends_with(":STTY"))
        });
        let line = screen
            .lines()
            .find(|l| l.trim_end().ends_with(":STTY"))
            .unwrap_or_default()
            .to_string();
        assert!(
            line.contains("icanon") && !line.contains("-icanon"),
            "terminal left in raw mode: {line}"
        );
        assert!(
            line.contains("echo") && !line.contains("-echo"),
            "terminal left without echo: {line}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

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
        (audit[0]["from_step"].as_u64(), audit[0]["to_step"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(audit[0]["verdicts"].as_array().map(Vec::len), Some(4));
    assert_eq!(audit[1]["action"], "rollback");
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
        "demo --speed 1 --seed 16",
        "ROLLOUT_CONSOLE_TEST_PANIC=1 RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0",
    );
    let screen = t.wait_text("panicking after the first frame");
    assert!(
        !screen.contains("Phases"),
        "the report prints on the restored main screen: {screen}"
    );
    t.assert_terminal_sane();
}

#[test]
fn ctrl_c_and_sigterm_leave_a_sane_terminal() {
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
    // The console is the shell's child: signal it, as an SSH drop or a `kill` would.
    let status = Command::new("pkill")
        .args(["-TERM", "-P", pid.trim()])
        .status()
        .expect("pkill");
    assert!(status.success(), "the console process was found");
    t.wait_text("rollout-console: left checkout");
    t.assert_terminal_sane();
}
