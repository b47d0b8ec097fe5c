//! `[notify]`: each action posts a Slack-compatible message to a local listener; a failing
//! webhook is shown as a notice and never blocks the action.

#[path = "common/stub.rs"]
mod stub;

use chrono::Utc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rollout_console::app::runner::EffectRunner;
use rollout_console::app::{Effect, Msg};
use rollout_console::audit::{AuditLog, AuditRecord};
use rollout_console::backend::{ActionRequest, BackendHandle};
use rollout_console::domain::action::ActionKind;
use rollout_console::notify::Notifier;
use rollout_console::sim::backend::SimController;
use rollout_console::sim::source::SimMetrics;
use rollout_console::sim::{SimOptions, Simulator};

fn runner(
    webhook: &str,
    dir: &std::path::Path,
) -> (EffectRunner, tokio::sync::mpsc::UnboundedReceiver<Msg>) {
    let sim = Arc::new(Mutex::new(Simulator::new(
        SimOptions {
            speed: 1.0,
            ..SimOptions::default()
        },
        Utc::now(),
    )));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let notifier = Notifier::new(webhook, Duration::from_secs(2)).expect("notifier");
    let runner = EffectRunner {
        backend: BackendHandle::ReadWrite(Arc::new(SimController::new(sim.clone()))),
        source: Arc::new(SimMetrics::new(sim)),
        audit: AuditLog::new(dir.join("audit.jsonl")),
        notifier: Some(Arc::new(notifier)),
        tx,
    };
    (runner, rx)
}

fn promote() -> Effect {
    let request = ActionRequest {
        kind: ActionKind::Promote,
        rollout: "checkout".into(),
        expected_step: Some(0),
        actor: "alice@bastion".into(),
        reason: String::new(),
    };
    let mut receipt = AuditRecord::new(
        Utc::now(),
        ("alice@bastion", None),
        "checkout",
        "promote",
        "traffic_promoted",
        (0, 5),
    );
    receipt.to_step = Some(1);
    receipt.to_weight = Some(25);
    Effect::Act {
        request,
        receipt: Box::new(receipt),
    }
}

#[tokio::test]
async fn each_action_posts_one_message() {
    let hook = stub::start(|_| stub::Reply::Raw(200, "text/plain".into(), "ok".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let (runner, mut rx) = runner(&format!("{}/services/T000/B000/XXXX", hook.url), dir.path());
    runner.spawn(promote());
    let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("a message");
    assert!(
        matches!(msg, Msg::ActionFinished { result: Ok(_), .. }),
        "{msg:?}"
    );
    hook.wait_for_requests(1, Duration::from_secs(5));
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).expect("json body");
    let text = body["text"].as_str().expect("slack text");
    assert!(
        text.contains("alice@bastion")
            && text.contains("*checkout*")
            && text.contains("traffic_promoted")
            && text.contains(": ok"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_webhook_is_a_notice_not_a_failed_action() {
    let hook = stub::start(|_| stub::Reply::Json(503, r#"{"error":"down"}"#.into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let (runner, mut rx) = runner(&format!("{}/hook/secret-token", hook.url), dir.path());
    runner.spawn(promote());
    let mut finished = false;
    let mut notice = None;
    while notice.is_none() || !finished {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("in time")
            .expect("a message")
        {
            Msg::ActionFinished { result, .. } => {
                assert!(
                    result.is_ok(),
                    "the action is done whatever the webhook says"
                );
                finished = true;
            }
            Msg::Notice(_, text) => notice = Some(text),
            other => panic!("{other:?}"),
        }
    }
    let notice = notice.unwrap_or_default();
    assert!(
        notice.contains("notify failed")
            && notice.contains("503")
            && notice.contains("the action itself is done"),
        "{notice}"
    );
    assert!(
        !notice.contains("secret-token"),
        "the webhook's token never shows: {notice}"
    );
    assert_eq!(
        AuditLog::new(dir.path().join("audit.jsonl"))
            .read_all()
            .expect("audit")
            .len(),
        1
    );
}
