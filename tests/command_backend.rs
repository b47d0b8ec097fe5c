//! The `command` deploy backend against the bash scripts in tests/fixtures/command/, which keep the
//! rollout's state in a temp dir so the action scripts change what the status script prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rollout_console::backend::command::{CommandController, CommandReader};
use rollout_console::backend::{ActionError, ActionRequest, RolloutController, RolloutReader};
use rollout_console::config::{self, CommandConfig};
use rollout_console::domain::action::ActionKind;
use rollout_console::domain::{RolloutState, Step};
use rollout_console::setup::{Identity, from_config};

/// A fixture's path, made executable in case a checkout lost the mode bits.
fn fixture(name: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/command")
        .join(name);
    let mode = std::fs::metadata(&path)
        .expect("fixture exists")
        .permissions()
        .mode();
    if mode & 0o111 != 0o111 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod fixture");
    }
    path.display().to_string()
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Status, promote, pause and rollback on the state in `dir`; no resume command.
fn config(dir: &Path) -> CommandConfig {
    let dir = dir.to_str().expect("utf-8 temp dir");
    let action = fixture("action.sh");
    CommandConfig {
        status: argv(&[&fixture("status.sh"), dir, "{name}"]),
        list: None,
        status_all: None,
        promote: Some(argv(&[
            &action,
            dir,
            "promote",
            "{name}",
            "--step={step}",
            "--to={next_step}",
            "--weight={weight}%",
            "--by={actor}",
            "--reason={reason}",
            "{reason}",
        ])),
        pause: Some(argv(&[&action, dir, "pause", "{name}"])),
        resume: None,
        rollback: Some(argv(&[&action, dir, "rollback", "{name}"])),
        promote_full: None,
        retry: None,
        undo: None,
        timeout: Duration::from_secs(10),
        steps: Vec::new(),
    }
}

fn request(kind: ActionKind, expected_step: usize) -> ActionRequest {
    ActionRequest {
        kind,
        rollout: "checkout".into(),
        expected_step: Some(expected_step),
        actor: "alice@bastion".into(),
        reason: "looks good".into(),
    }
}

fn runs(dir: &Path, kind: &str) -> u32 {
    match std::fs::read_to_string(dir.join(format!("{kind}.count"))) {
        Ok(text) => text.trim().parse().expect("a count"),
        Err(_) => 0,
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[tokio::test]
async fn status_parses_the_rollout_json() {
    let dir = temp();
    let reader = CommandReader::new(&config(dir.path())).expect("reader");
    let r = reader.get("checkout").await.expect("status");
    assert_eq!(r.name, "checkout");
    assert_eq!(
        (r.step, r.canary_weight, r.state),
        (0, 5, RolloutState::Progressing)
    );
    assert_eq!(r.steps.len(), 4);
    assert_eq!(r.steps[0].hold, Some(Duration::from_secs(600)));
    assert!(
        reader.describe().contains("status.sh"),
        "{}",
        reader.describe()
    );
}

#[tokio::test]
async fn status_all_reads_the_fleet_in_one_run_and_names_it_without_a_list() {
    let dir = temp();
    let mut cfg = config(dir.path());
    assert!(
        !CommandReader::new(&cfg)
            .expect("reader")
            .reads_fleet_whole()
    );
    let at = dir.path().to_str().expect("utf-8");
    cfg.status_all = Some(argv(&[&fixture("status-all.sh"), at, "checkout", "search"]));
    let reader = CommandReader::new(&cfg).expect("reader");
    assert!(reader.reads_fleet_whole());

    let all = reader.get_all().await.expect("every rollout");
    let seen: Vec<_> = all
        .iter()
        .map(|r| (r.name.as_str(), r.step, r.steps.len()))
        .collect();
    assert_eq!(seen, [("checkout", 0, 4), ("search", 0, 4)]);
    assert_eq!(runs(dir.path(), "status_all"), 1, "one run for the fleet");
    // No `list`: the fleet screen's names come from the same command.
    assert_eq!(reader.list().await.expect("names"), ["checkout", "search"]);
    assert_eq!(runs(dir.path(), "status_all"), 2);

    // An action shows in the next fleet read.
    let drive = CommandController::new(&cfg).expect("controller");
    drive
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    let all = reader.get_all().await.expect("after promote");
    assert!(all.iter().all(|r| r.step == 1), "{all:?}");

    // Items without steps take the config's; without those the error names the rollout.
    std::fs::write(dir.path().join("no_steps"), "").expect("flag");
    let err = reader.get_all().await.expect_err("no steps").to_string();
    assert!(
        err.starts_with("status_all command `") && err.contains("(rollout checkout)"),
        "{err}"
    );
    assert!(err.contains("steps = ["), "{err}");
    cfg.steps = vec![
        Step {
            weight: 10,
            hold: None,
        },
        Step {
            weight: 100,
            hold: None,
        },
    ];
    let reader = CommandReader::new(&cfg).expect("reader");
    let all = reader.get_all().await.expect("config steps");
    assert!(all.iter().all(|r| r.steps.len() == 2), "{all:?}");
}

#[tokio::test]
async fn config_steps_fill_in_when_the_status_has_none() {
    let dir = temp();
    std::fs::write(dir.path().join("no_steps"), "").expect("flag");
    let mut cfg = config(dir.path());
    let reader = CommandReader::new(&cfg).expect("reader");
    let err = reader.get("checkout").await.unwrap_err().to_string();
    assert!(
        err.contains("without steps") && err.contains("steps = ["),
        "{err}"
    );

    cfg.steps = vec![
        Step {
            weight: 10,
            hold: Some(Duration::from_secs(300)),
        },
        Step {
            weight: 100,
            hold: None,
        },
    ];
    let reader = CommandReader::new(&cfg).expect("reader");
    let r = reader.get("checkout").await.expect("status");
    assert_eq!(r.steps, cfg.steps);
}

#[tokio::test]
async fn promote_on_the_right_step_runs_once_and_returns_the_new_step() {
    let dir = temp();
    let control = CommandController::new(&config(dir.path())).expect("controller");
    let r = control
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!((r.step, r.canary_weight), (1, 25));
    assert_eq!(runs(dir.path(), "promote"), 1);
    // The status JSON has no message, so the command's own output is kept there.
    let message = r.message.expect("the command's output");
    assert!(
        message.starts_with("promote: ")
            && message.contains("promote done")
            && message.contains("traffic shift"),
        "{message}"
    );
}

#[tokio::test]
async fn a_stale_expected_step_conflicts_and_runs_nothing() {
    let dir = temp();
    let control = CommandController::new(&config(dir.path())).expect("controller");
    let err = control
        .act(&request(ActionKind::Promote, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ActionError::Conflict {
                current_step: Some(0),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(runs(dir.path(), "promote"), 0);
    assert_eq!(control.get("checkout").await.expect("status").step, 0);
}

#[tokio::test]
async fn pause_and_rollback_change_the_state_and_resume_is_not_configured() {
    let dir = temp();
    let control = CommandController::new(&config(dir.path())).expect("controller");
    let r = control
        .act(&request(ActionKind::Pause, 0))
        .await
        .expect("pause");
    assert_eq!(r.state, RolloutState::Paused);
    let err = control
        .act(&request(ActionKind::Resume, 0))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ActionError::Rejected("no resume command configured in [backend.command]".into())
    );
    let r = control
        .act(&request(ActionKind::Rollback, 0))
        .await
        .expect("rollback");
    assert_eq!((r.state, r.canary_weight), (RolloutState::RolledBack, 0));
    assert_eq!(
        (runs(dir.path(), "pause"), runs(dir.path(), "rollback")),
        (1, 1)
    );
}

#[tokio::test]
async fn placeholders_are_substituted_and_the_reason_arrives_verbatim() {
    let dir = temp();
    std::fs::write(dir.path().join("step"), "1").expect("state");
    let control = CommandController::new(&config(dir.path())).expect("controller");
    let reason = "\"; rm -rf / $(touch pwned) `id` {name} && echo 'hi'\nsecond line";
    let mut req = request(ActionKind::Promote, 1);
    req.reason = reason.into();
    let r = control.act(&req).await.expect("promote");
    assert_eq!(r.step, 2);
    let args = std::fs::read(dir.path().join("promote.args")).expect("args file");
    let args: Vec<String> = args
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8(a.to_vec()).expect("utf-8"))
        .collect();
    assert_eq!(
        args,
        vec![
            "checkout".to_string(),
            "--step=1".into(),
            "--to=2".into(),
            "--weight=25%".into(),
            "--by=alice@bastion".into(),
            format!("--reason={reason}"),
            reason.into(),
        ]
    );
    assert!(!dir.path().join("pwned").exists());
    assert!(!Path::new("pwned").exists());
}

#[tokio::test]
async fn a_failing_action_is_rejected_with_its_exit_code_and_output() {
    let dir = temp();
    let mut cfg = config(dir.path());
    cfg.rollback = Some(argv(&[&fixture("fail.sh"), "--reason={reason}"]));
    let control = CommandController::new(&cfg).expect("controller");
    let err = control
        .act(&request(ActionKind::Rollback, 0))
        .await
        .unwrap_err();
    let ActionError::Rejected(why) = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert!(why.starts_with("rollback command `"), "{why}");
    assert!(why.contains("fail.sh --reason={reason}` exited 3"), "{why}");
    assert!(
        why.contains("error: canary is not healthy (5xx at 4.2%)"),
        "{why}"
    );
    assert!(why.contains("stdout: checking canary health"), "{why}");
    // The typed reason is never echoed into the error (it goes to the audit log, not here).
    assert!(!why.contains("looks good"), "{why}");
}

/// Whether `pid` is gone or a zombie (killed, not yet reaped).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

async fn wait_dead(pid_file: &Path) {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .expect("the hanging script wrote its pid")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !is_dead(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} still runs after the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_action_is_unknown_and_killed_within_the_timeout() {
    let dir = temp();
    let pid_file: PathBuf = dir.path().join("hang.pid");
    let mut cfg = config(dir.path());
    cfg.timeout = Duration::from_secs(1);
    cfg.pause = Some(argv(&[
        &fixture("hang.sh"),
        pid_file.to_str().expect("utf-8"),
    ]));
    let control = CommandController::new(&cfg).expect("controller");
    let started = Instant::now();
    let err = control
        .act(&request(ActionKind::Pause, 0))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took too long");
    let ActionError::Unknown(why) = &err else {
        panic!("expected Unknown, got {err:?}");
    };
    assert!(
        why.contains("pause command `") && why.contains("did not finish within 1s (killed)"),
        "{why}"
    );
    wait_dead(&pid_file).await;
}

#[tokio::test]
async fn a_hanging_status_times_out_and_is_killed() {
    let dir = temp();
    let pid_file = dir.path().join("status.pid");
    let mut cfg = config(dir.path());
    cfg.timeout = Duration::from_secs(1);
    cfg.status = argv(&[&fixture("hang.sh"), pid_file.to_str().expect("utf-8")]);
    let reader = CommandReader::new(&cfg).expect("reader");
    let started = Instant::now();
    let err = reader.get("checkout").await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "took too long");
    assert!(
        err.starts_with("status command `") && err.ends_with("did not finish within 1s (killed)"),
        "{err}"
    );
    wait_dead(&pid_file).await;
}

#[tokio::test]
async fn invalid_json_is_an_error_naming_the_command() {
    let dir = temp();
    let mut cfg = config(dir.path());
    cfg.status = argv(&[&fixture("bad-json.sh"), "{name}"]);
    let control = CommandController::new(&cfg).expect("controller");
    let err = control.get("checkout").await.unwrap_err().to_string();
    let expected = format!(
        "status command `{} checkout` printed something that is not a Rollout JSON: ",
        fixture("bad-json.sh")
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(
        err.ends_with("(first line: Error: not logged in, run: flyctl auth login)"),
        "{err}"
    );
    // The check before acting fails too: nothing is run.
    let err = control
        .act(&request(ActionKind::Promote, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::Rejected(why) if why.contains("not a Rollout JSON") && why.ends_with("nothing was done")),
        "{err:?}"
    );
    assert_eq!(runs(dir.path(), "promote"), 0);
}

#[tokio::test]
async fn a_failing_or_missing_status_command_says_what_failed() {
    let dir = temp();
    let mut cfg = config(dir.path());
    cfg.status = argv(&[&fixture("fail.sh")]);
    let err = CommandReader::new(&cfg)
        .expect("reader")
        .get("checkout")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("fail.sh` exited 3: error: canary is not healthy (5xx at 4.2%)"),
        "{err}"
    );

    cfg.status = argv(&["/nonexistent/deploy.sh", "status", "{name}"]);
    let err = CommandReader::new(&cfg)
        .expect("reader")
        .get("checkout")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "status command `/nonexistent/deploy.sh status checkout` could not start: No such file or directory"
    );
}

#[test]
fn unknown_placeholders_fail_at_construction_naming_them() {
    let dir = temp();
    let mut cfg = config(dir.path());
    cfg.promote = Some(argv(&["./deploy.sh", "--step={stpe}"]));
    // Checked in watch mode too, so the typo shows before anyone needs the command.
    let err = CommandReader::new(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("[backend.command] promote: unknown placeholder {stpe}"),
        "{err}"
    );
    cfg.promote = None;
    cfg.status = argv(&["./deploy.sh", "status", "{name}", "{reason}"]);
    let err = CommandController::new(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("status: {reason} is only known when acting"),
        "{err}"
    );
}

const TOML: &str = r#"
[prometheus]
url = "http://127.0.0.1:9"

[backend]
kind = "command"

[backend.command]
status = ["./deploy.sh", "status", "{name}"]
promote = ["./deploy.sh", "promote", "{name}", "--step", "{step}"]
steps = [{ weight = 5, hold = "10m" }, { weight = 100 }]

[[rollouts]]
name = "checkout"
baseline = 'track="baseline"'
canary = 'track="canary"'
service = 'job="checkout"'
"#;

#[test]
fn the_config_section_parses_with_defaults() {
    let c = config::parse(TOML, Path::new("c.toml")).expect("parses");
    let Some(config::BackendConfig::Command(backend)) = c.backend else {
        panic!("kind = \"command\"");
    };
    let cmd = backend.command.expect("[backend.command]");
    assert_eq!(cmd.status, argv(&["./deploy.sh", "status", "{name}"]));
    assert_eq!(cmd.timeout, Duration::from_secs(30));
    assert_eq!((cmd.pause, cmd.resume, cmd.rollback), (None, None, None));
    assert_eq!(cmd.steps.len(), 2);

    let typo = TOML.replace("promote = [", "promot = [");
    let err = config::parse(&typo, Path::new("c.toml")).unwrap_err().0;
    assert!(err.contains("unknown field `promot`"), "{err}");
}

fn who() -> Identity {
    Identity {
        actor: "alice@bastion".into(),
        ssh_client: None,
    }
}

#[test]
fn setup_builds_a_reader_or_a_controller_and_names_what_is_missing() {
    let c = config::parse(TOML, Path::new("c.toml")).expect("parses");
    let audit = PathBuf::from("/tmp/audit.jsonl");
    let path = Path::new("c.toml");
    let console =
        from_config(&c, path, None, vec![], true, who(), audit.clone()).expect("read-only");
    assert!(console.backend.is_read_only());
    assert!(console.backend.controller().is_none());
    let console =
        from_config(&c, path, None, vec![], false, who(), audit.clone()).expect("read-write");
    assert!(console.backend.controller().is_some());

    let no_section = TOML
        .replace("[backend.command]\n", "")
        .replace("status = [\"./deploy.sh\", \"status\", \"{name}\"]\n", "")
        .replace(
            "promote = [\"./deploy.sh\", \"promote\", \"{name}\", \"--step\", \"{step}\"]\n",
            "",
        )
        .replace(
            "steps = [{ weight = 5, hold = \"10m\" }, { weight = 100 }]\n",
            "",
        );
    let c = config::parse(&no_section, path).expect("parses");
    let err = from_config(&c, path, None, vec![], false, who(), audit.clone())
        .err()
        .expect("an error")
        .0;
    assert!(
        err.contains("needs a [backend.command] section with status = ["),
        "{err}"
    );

    let empty = TOML.replace(
        "status = [\"./deploy.sh\", \"status\", \"{name}\"]",
        "status = []",
    );
    let c = config::parse(&empty, path).expect("parses");
    let err = from_config(&c, path, None, vec![], true, who(), audit.clone())
        .err()
        .expect("an error")
        .0;
    assert!(err.contains("[backend.command] status is empty"), "{err}");

    let typo = TOML.replace("{step}", "{stpe}");
    let c = config::parse(&typo, path).expect("parses");
    let err = from_config(&c, path, None, vec![], false, who(), audit)
        .err()
        .expect("an error")
        .0;
    assert!(
        err.starts_with(
            "config error in c.toml: [backend.command] promote: unknown placeholder {stpe}"
        ),
        "{err}"
    );
}

#[test]
fn the_commented_example_in_config_example_toml_parses_once_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(path).expect("config.example.toml");
    let example: String = text
        .lines()
        .skip_while(|l| *l != "# [backend]")
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
        .collect();
    assert!(example.contains("kind = \"command\""), "{example}");
    let c = config::parse(&example, Path::new("example")).expect("the example parses");
    let Some(config::BackendConfig::Command(backend)) = c.backend else {
        panic!("kind = \"command\"");
    };
    let cmd = backend.command.expect("[backend.command]");
    assert!(cmd.promote.is_some() && cmd.rollback.is_some());
    let controller = CommandController::new(&cmd).expect("its placeholders are all known");
    assert_eq!(
        controller.actions().len(),
        7,
        "the example shows every action, optional ones included"
    );
}

#[test]
fn the_commented_argo_example_builds_a_console_with_pod_hash_tracks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).expect("config.example.toml");
    let uncomment = |l: &str| format!("{}\n", l.trim_start_matches('#').trim_start());
    let argo: String = text
        .lines()
        .skip_while(|l| *l != "# kind = \"argo\"")
        .take_while(|l| l.starts_with('#'))
        .map(uncomment)
        .collect();
    assert!(argo.contains("namespace = "), "{argo}");
    // The live example with its backend swapped for the commented Argo one, and the tracks left
    // to the pod-template hashes as the example's comment says.
    let example = text
        .replace("kind = \"http\"\nurl = \"http://127.0.0.1:8080\"\n", &argo)
        .lines()
        .filter(|l| !l.starts_with("baseline =") && !l.starts_with("canary   ="))
        .collect::<Vec<_>>()
        .join("\n");
    let c = config::parse(&example, &path).expect("the argo example parses");
    let console = from_config(
        &c,
        &path,
        None,
        vec![],
        false,
        who(),
        PathBuf::from("/tmp/audit.jsonl"),
    )
    .expect("builds without touching a cluster");
    assert!(
        console
            .settings
            .source_label
            .contains("Argo Rollouts in namespace shop, context prod-eu"),
        "{}",
        console.settings.source_label
    );
    assert!(
        console
            .backend
            .reader()
            .actions()
            .contains(&ActionKind::Undo)
    );
    assert!(console.pod_hash_tracks.is_some());
}

#[test]
fn optional_actions_are_offered_only_when_configured() {
    let path = Path::new("c.toml");
    let audit = PathBuf::from("/tmp/audit.jsonl");
    let c = config::parse(TOML, path).expect("parses");
    let console = from_config(&c, path, None, vec![], false, who(), audit.clone()).expect("builds");
    assert_eq!(console.backend.reader().actions(), ActionKind::BASIC);
    let more = TOML.replace(
        "steps = [",
        "promote_full = [\"./deploy.sh\", \"promote\", \"{name}\", \"--full\"]\n\
         undo = [\"./deploy.sh\", \"undo\", \"{name}\"]\nsteps = [",
    );
    let c = config::parse(&more, path).expect("parses");
    let console = from_config(&c, path, None, vec![], false, who(), audit).expect("builds");
    let actions = console.backend.reader().actions();
    assert!(actions.contains(&ActionKind::PromoteFull), "{actions:?}");
    assert!(actions.contains(&ActionKind::Undo), "{actions:?}");
    assert!(!actions.contains(&ActionKind::Retry), "{actions:?}");
}

#[test]
fn tracks_from_pod_hashes_when_the_config_names_no_selectors() {
    let path = Path::new("c.toml");
    let audit = PathBuf::from("/tmp/audit.jsonl");
    let c = config::parse(TOML, path).expect("parses");
    let console = from_config(&c, path, None, vec![], true, who(), audit.clone()).expect("builds");
    assert!(
        console.pod_hash_tracks.is_none(),
        "configured selectors win"
    );

    let none = TOML
        .replace("baseline = 'track=\"baseline\"'\n", "")
        .replace("canary = 'track=\"canary\"'\n", "");
    let c = config::parse(&none, path).expect("parses");
    let console = from_config(&c, path, None, vec![], true, who(), audit.clone()).expect("builds");
    let tracks = console.pod_hash_tracks.expect("pod-hash mode");
    assert_eq!(
        (tracks.label.as_str(), tracks.service.as_str()),
        ("rollouts_pod_template_hash", r#"job="checkout""#)
    );
    assert!(
        console
            .intro
            .iter()
            .any(|l| l.starts_with("PromQL tracks: the rollout's pod-template hashes")),
        "{:?}",
        console.intro
    );

    let one = TOML.replace("canary = 'track=\"canary\"'\n", "");
    let c = config::parse(&one, path).expect("parses");
    let err = from_config(&c, path, None, vec![], true, who(), audit)
        .err()
        .expect("an error")
        .0;
    assert!(
        err.contains("sets only one of baseline / canary: set both, or neither"),
        "{err}"
    );
}

#[test]
fn a_rollout_named_only_on_the_command_line_uses_pod_hash_tracks() {
    let path = Path::new("c.toml");
    let audit = PathBuf::from("/tmp/audit.jsonl");
    let c = config::parse(TOML, path).expect("parses");
    let console = from_config(
        &c,
        path,
        Some("payments".into()),
        vec![],
        true,
        who(),
        audit.clone(),
    )
    .expect("no entry needed when nothing uses $service");
    assert_eq!(console.settings.rollout_name, "payments");
    let tracks = console.pod_hash_tracks.expect("pod-hash mode");
    assert_eq!(tracks.service, "");

    let with_slo = format!(
        "{TOML}\n[[slos]]\nname = \"availability\"\nobjective = 99.9\nwindow = \"30d\"\n\
         error_ratio = 'sum(rate(errors{{$service}}[$window]))'\n"
    );
    let c = config::parse(&with_slo, path).expect("parses");
    let err = from_config(
        &c,
        path,
        Some("payments".into()),
        vec![],
        true,
        who(),
        audit,
    )
    .err()
    .expect("an error")
    .0;
    assert!(
        err.contains(
            "rollout \"payments\" has no service selector, and [[slos]] \"availability\" uses $service"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn build_runs_only_status_when_read_only_and_names_a_zero_timeout() {
    use rollout_console::backend::command::{CommandError, CommandSettings, build};
    let dir = temp();
    let settings = CommandSettings::from(&config(dir.path()));
    let watch = build(settings.clone(), true).expect("read-only");
    assert!(watch.is_read_only() && watch.controller().is_none());
    assert_eq!(
        watch.reader().get("checkout").await.expect("status").step,
        0
    );
    let drive = build(settings.clone(), false).expect("read-write");
    let r = drive
        .controller()
        .expect("a controller")
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!(r.step, 1);
    assert_eq!(runs(dir.path(), "promote"), 1);
    let zero = CommandSettings {
        timeout: Duration::ZERO,
        ..settings
    };
    let err = build(zero, true).err().expect("a zero timeout");
    assert!(matches!(err, CommandError::ZeroTimeout), "{err:?}");
    assert!(
        err.to_string().contains("timeout must be more than 0"),
        "{err}"
    );
}
