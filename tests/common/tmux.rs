//! Drives the real binary under tmux: send-keys to type, capture-pane to read. Each instance has its
//! own tmux server and its own XDG directories. Include with `#[path = "common/tmux.rs"] mod tmux;`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

pub struct Tmux {
    socket: String,
    pub dir: tempfile::TempDir,
}

impl Tmux {
    pub fn start(name: &str) -> Self {
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

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("data/rollout-console/audit.jsonl")
    }

    /// Run the console in the pane's shell with isolated XDG directories.
    pub fn run_console(&self, args: &str, extra_env: &str) {
        let d = self.dir.path().display();
        let line = format!(
            "env XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state XDG_CONFIG_HOME={d}/config {extra_env} {BIN} {args}"
        );
        self.send(&[&line, "Enter"]);
    }

    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    pub fn wait_for(
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

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, Duration::from_secs(15), |s| s.contains(text))
            .0
    }

    /// After the console exits: is the terminal back in cooked mode with echo?
    /// Waits until the console has exited, the shell in the foreground again: a line typed
    /// while it is still going away (a panic's unwinding on a busy machine) is read by its
    /// terminal reader, not by the shell.
    pub fn wait_for_the_shell(&self) {
        let start = Instant::now();
        loop {
            let foreground = self.tmux(&[
                "display-message",
                "-p",
                "-t",
                "main",
                "#{pane_current_command}",
            ]);
            if !foreground.contains("rollout") {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the console is still running; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn assert_terminal_sane(&self) {
        self.wait_for_the_shell();
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
