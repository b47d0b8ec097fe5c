//! The `http` deploy backend against the simulator's deploy API, over real HTTP on loopback.

#[path = "common/simulate.rs"]
mod simulate;

use std::time::Duration;

use rollout_console::backend::http::{HttpController, HttpReader};
use rollout_console::backend::{ActionError, ActionRequest, RolloutController, RolloutReader};
use rollout_console::domain::RolloutState;
use rollout_console::domain::action::ActionKind;
use rollout_console::sim::Scenario;
use simulate::in_process;

fn request(kind: ActionKind, expected_step: usize) -> ActionRequest {
    ActionRequest {
        kind,
        rollout: "checkout".into(),
        expected_step: Some(expected_step),
        actor: "alice@bastion".into(),
        reason: "test".into(),
    }
}

async fn request_counts(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/_sim/requests"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn reads_promotes_once_conflicts_and_rolls_back() {
    let sim = in_process(Scenario::Healthy, 9).await;
    let url = sim.url.clone();
    let reader = HttpReader::new(&url, None, Duration::from_secs(5)).expect("reader");
    assert_eq!(
        reader.list().await.expect("list"),
        vec!["checkout".to_string()]
    );
    let r = reader.get("checkout").await.expect("get");
    assert_eq!(
        (r.step, r.canary_weight, r.state),
        (0, 5, RolloutState::Progressing)
    );
    // The fleet in one request: `GET /rollouts` carries each rollout whole.
    assert!(reader.reads_fleet_whole());
    let all = reader.get_all().await.expect("get all");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].name.as_str(), all[0].step, all[0].canary_weight),
        ("checkout", 0, 5)
    );
    assert_eq!(request_counts(&url).await["GET /rollouts"], 2);
    assert!(
        reader
            .get("nope")
            .await
            .unwrap_err()
            .to_string()
            .contains("no rollout named \"nope\"")
    );

    let control = HttpController::new(reader);
    let r = control
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!((r.step, r.canary_weight), (1, 25));
    let counts = request_counts(&url).await;
    assert_eq!(
        counts["POST /rollouts/checkout/promote"], 1,
        "exactly one promote: {counts}"
    );

    // The screen still showed step 0: the backend refuses, nothing moves.
    match control.act(&request(ActionKind::Promote, 0)).await {
        Err(ActionError::Conflict { message, .. }) => {
            // 1-based as on screen, with the 0-based index named as such.
            assert!(
                message.contains("you saw step 1 (expected_step 0); now step 2"),
                "{message}"
            )
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(control.get("checkout").await.expect("get").step, 1);

    let r = control
        .act(&request(ActionKind::Pause, 1))
        .await
        .expect("pause");
    assert_eq!(
        (r.state, r.paused_by.as_deref()),
        (RolloutState::Paused, Some("alice@bastion"))
    );
    let r = control
        .act(&request(ActionKind::Rollback, 1))
        .await
        .expect("rollback");
    assert_eq!((r.state, r.canary_weight), (RolloutState::RolledBack, 0));
    match control.act(&request(ActionKind::Rollback, 1)).await {
        Err(ActionError::Rejected(why)) => assert!(why.contains("already rolled back"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn promote_full_is_promote_with_full_true_and_retry_restarts_an_abort() {
    let sim = in_process(Scenario::Healthy, 9).await;
    let url = sim.url.clone();
    let reader = HttpReader::new(&url, None, Duration::from_secs(5)).expect("reader");
    assert!(reader.actions().contains(&ActionKind::PromoteFull));
    assert!(
        !reader.actions().contains(&ActionKind::Undo),
        "no undo in the API"
    );
    let r = reader.get("checkout").await.expect("get");
    assert_eq!(
        (r.stable_hash.as_deref(), r.canary_hash.as_deref()),
        (Some("5f7c9d6b8"), Some("7b9f4c6d5")),
        "the simulator reports pod-template hashes"
    );
    let control = HttpController::new(reader);
    let r = control
        .act(&request(ActionKind::PromoteFull, 0))
        .await
        .expect("promote full");
    assert_eq!((r.state, r.canary_weight), (RolloutState::Completed, 100));
    let actions: serde_json::Value = reqwest::get(format!("{url}/_sim/actions"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(actions[0]["action"], "promote", "{actions}");
    assert_eq!(actions[0]["full"], true, "{actions}");
    assert_eq!(actions[0]["expected_step"], 0, "{actions}");

    let sim = in_process(Scenario::Healthy, 9).await;
    let control = HttpController::new(
        HttpReader::new(&sim.url, None, Duration::from_secs(5)).expect("reader"),
    );
    match control.act(&request(ActionKind::Retry, 0)).await {
        Err(ActionError::Rejected(why)) => assert!(why.contains("not aborted"), "{why}"),
        other => panic!("nothing to retry while progressing: {other:?}"),
    }
    control
        .act(&request(ActionKind::Rollback, 0))
        .await
        .expect("rollback");
    let r = control
        .act(&request(ActionKind::Retry, 0))
        .await
        .expect("retry");
    assert_eq!(
        (r.state, r.step, r.canary_weight),
        (RolloutState::Progressing, 0, 5)
    );
    let counts = request_counts(&sim.url).await;
    assert_eq!(counts["POST /rollouts/checkout/retry"], 2, "{counts}");
}

#[tokio::test]
async fn an_unreachable_backend_is_an_error_in_words() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let reader =
        HttpReader::new(&url, Some("s3cret".into()), Duration::from_secs(2)).expect("reader");
    let err = reader.get("checkout").await.unwrap_err().to_string();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        !format!("{reader:?}").contains("s3cret"),
        "the token never shows in Debug"
    );
    match HttpController::new(reader)
        .act(&request(ActionKind::Promote, 0))
        .await
    {
        Err(ActionError::Rejected(why)) => assert!(why.contains("nothing was sent"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_rollback_with_the_state_unknown_goes_without_a_step_and_only_a_rollback_may() {
    let sim = in_process(Scenario::Healthy, 9).await;
    let url = sim.url.clone();
    let control =
        HttpController::new(HttpReader::new(&url, None, Duration::from_secs(5)).expect("reader"));
    let mut pause = request(ActionKind::Pause, 0);
    pause.expected_step = None;
    match control.act(&pause).await {
        Err(ActionError::Rejected(why)) => {
            assert!(why.contains("only a rollback goes without it"), "{why}")
        }
        other => panic!("a pause needs the step seen: {other:?}"),
    }
    let mut rollback = request(ActionKind::Rollback, 0);
    rollback.expected_step = None;
    let r = control.act(&rollback).await.expect("rolls back");
    assert_eq!(r.state, RolloutState::RolledBack);
    let actions: serde_json::Value = reqwest::get(format!("{url}/_sim/actions"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let last = actions.as_array().and_then(|a| a.last()).expect("logged");
    assert_eq!(last["action"], "rollback", "{actions}");
    assert!(last["expected_step"].is_null(), "{actions}");
}

#[tokio::test]
async fn build_hands_a_read_only_console_the_reader_alone_and_names_a_bad_url() {
    use rollout_console::backend::http::{HttpError, HttpSettings, build};
    let sim = in_process(Scenario::Healthy, 9).await;
    let settings = HttpSettings {
        url: sim.url.clone(),
        token: None,
        timeout: Duration::from_secs(5),
    };
    let watch = build(settings.clone(), true).expect("read-only");
    assert!(watch.is_read_only() && watch.controller().is_none());
    assert_eq!(
        watch.reader().list().await.expect("list"),
        ["checkout".to_string()]
    );
    let drive = build(settings.clone(), false).expect("read-write");
    assert!(!drive.is_read_only() && drive.controller().is_some());

    let bad = HttpSettings {
        url: "deploy.example".into(),
        ..settings.clone()
    };
    let err = build(bad, true).err().expect("not a URL");
    assert!(matches!(err, HttpError::BadUrl { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("[backend] url \"deploy.example\" is not a URL: "),
        "{err}"
    );
    let empty = HttpSettings {
        token: Some(String::new()),
        ..settings
    };
    let err = build(empty, true).err().expect("an empty token");
    assert!(matches!(err, HttpError::EmptyToken), "{err:?}");
    assert!(
        !format!(
            "{:?}",
            HttpSettings {
                token: Some("s3cret".into()),
                url: String::new(),
                timeout: Duration::from_secs(1),
            }
        )
        .contains("s3cret"),
        "the token never shows in Debug"
    );
}
