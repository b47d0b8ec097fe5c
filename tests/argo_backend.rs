//! The `argo` backend against a small fake of the Kubernetes API on 127.0.0.1, serving the real
//! Argo Rollouts fixtures at the real paths and recording every request, so the exact patches
//! (`kubectl argo rollouts`' merge patches) can be asserted without a cluster.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use rollout_console::backend::argo::{ArgoController, ArgoReader, ArgoSettings};
use rollout_console::backend::{
    ActionError, ActionKind, ActionRequest, RolloutController, RolloutReader,
};
use rollout_console::domain::RolloutState;

const NS: &str = "jesse-test";
const NAME: &str = "canary-demo";
const ROLLOUT_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/jesse-test/rollouts/canary-demo";
const MERGE: &str = "application/merge-patch+json";

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Path and query, as sent.
    uri: String,
    content_type: Option<String>,
    authorization: Option<String>,
    body: Option<Value>,
}

struct Fake {
    rollout: Value,
    replicasets: Vec<Value>,
    /// `false`: a controller without the status subresource (v0.9): PATCH .../status is a 404.
    status_subresource: bool,
    /// SSAR answers by subresource ("" for the main resource): (allowed, reason).
    access: Vec<(String, bool, String)>,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<Fake>>;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/argo/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// RFC 7386 JSON merge patch, as the API server applies it.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let map = target.as_object_mut().expect("object");
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn status(code: u16, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": "NotFound", "code": code});
    (StatusCode::from_u16(code).expect("code"), axum::Json(body)).into_response()
}

async fn handle(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut fake = fake.lock().expect("lock");
    fake.requests.push(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: (!body.is_empty()).then(|| serde_json::from_slice(&body).expect("JSON body")),
    });
    let path = uri.path();
    let rollouts = format!("/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts");
    match (method.as_str(), path) {
        ("GET", p) if p == rollouts => axum::Json(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "RolloutList", "metadata": {},
            "items": [fake.rollout.clone()]
        }))
        .into_response(),
        ("GET", ROLLOUT_PATH) => axum::Json(fake.rollout.clone()).into_response(),
        ("PATCH", p) if p == format!("{ROLLOUT_PATH}/status") => {
            if !fake.status_subresource {
                return status(404, "the server could not find the requested resource");
            }
            // The status subresource applies only the status part.
            let patch: Value = serde_json::from_slice(&body).expect("patch");
            if let Some(s) = patch.get("status") {
                merge(&mut fake.rollout["status"], s);
            }
            axum::Json(fake.rollout.clone()).into_response()
        }
        ("PATCH", ROLLOUT_PATH) => {
            let patch: Value = serde_json::from_slice(&body).expect("patch");
            merge(&mut fake.rollout, &patch);
            axum::Json(fake.rollout.clone()).into_response()
        }
        ("GET", p) if p == format!("/apis/apps/v1/namespaces/{NS}/replicasets") => {
            axum::Json(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {},
                "items": fake.replicasets.clone()
            }))
            .into_response()
        }
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
            let mut review: Value = serde_json::from_slice(&body).expect("review");
            let sub = review
                .pointer("/spec/resourceAttributes/subresource")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (allowed, reason) = fake
                .access
                .iter()
                .find(|(s, _, _)| *s == sub)
                .map(|(_, a, r)| (*a, r.clone()))
                .unwrap_or((true, String::new()));
            review["status"] = json!({"allowed": allowed, "reason": reason});
            (StatusCode::CREATED, axum::Json(review)).into_response()
        }
        _ => status(404, &format!("no route for {method} {path}")),
    }
}

struct Harness {
    fake: Shared,
    settings: ArgoSettings,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(rollout: Value) -> Self {
        let replicasets = ["canary_stable-rs", "canary_canary-rs", "canary_old-rs"]
            .into_iter()
            .map(fixture)
            .collect();
        let fake = Arc::new(Mutex::new(Fake {
            rollout,
            replicasets,
            status_subresource: true,
            access: Vec::new(),
            requests: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        // The current context points elsewhere: choosing `fake` must be what routes us here.
        let kubeconfig = format!(
            "apiVersion: v1
kind: Config
current-context: other
clusters:
- name: fake
  cluster:
    server: http://{addr}
- name: unreachable
  cluster:
    server: http://127.0.0.1:1
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
    namespace: {NS}
- name: other
  context:
    cluster: unreachable
    user: tester
users:
- name: tester
  user:
    token: test-token
"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig).expect("write kubeconfig");
        let settings = ArgoSettings {
            kubeconfig: Some(path),
            context: Some("fake".into()),
            namespace: None,
            timeout: Some(std::time::Duration::from_secs(5)),
        };
        Self {
            fake,
            settings,
            _dir: dir,
        }
    }

    fn controller(&self) -> ArgoController {
        ArgoController::new(ArgoReader::new(self.settings.clone()))
    }

    fn set(&self, f: impl FnOnce(&mut Fake)) {
        f(&mut self.fake.lock().expect("lock"));
    }

    fn requests(&self) -> Vec<Recorded> {
        self.fake.lock().expect("lock").requests.clone()
    }

    /// (path, content type, body) of every PATCH, in order.
    fn patches(&self) -> Vec<(String, Option<String>, Value)> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .map(|r| {
                let path = r.uri.split('?').next().unwrap_or_default().to_string();
                (path, r.content_type, r.body.unwrap_or(Value::Null))
            })
            .collect()
    }
}

fn request(kind: ActionKind, expected_step: usize) -> ActionRequest {
    ActionRequest {
        kind,
        rollout: NAME.into(),
        expected_step,
        actor: "alice@bastion".into(),
        reason: "test".into(),
    }
}

/// The canary fixture moved on by a 1.0+ controller: at `index`, optionally paused on that step.
fn canary_at(index: usize, paused_on_step: bool) -> Value {
    let mut ro = fixture("canary_canary-rollout");
    ro["status"]["conditions"] = json!([]);
    ro["status"]["currentStepIndex"] = json!(index);
    ro["status"]["phase"] = json!(if paused_on_step {
        "Paused"
    } else {
        "Progressing"
    });
    if paused_on_step {
        ro["status"]["pauseConditions"] =
            json!([{"reason": "CanaryPauseStep", "startTime": "2019-10-28T04:50:00Z"}]);
    }
    ro
}

fn status_path() -> String {
    format!("{ROLLOUT_PATH}/status")
}

#[tokio::test]
async fn reads_through_the_chosen_context_with_its_token() {
    let h = Harness::start(fixture("canary_canary-rollout")).await;
    let reader = ArgoReader::new(h.settings.clone());
    let r = reader.get(NAME).await.expect("get");
    assert_eq!(r.state, RolloutState::Failed, "past its progress deadline");
    assert_eq!(
        (r.stable_version.as_str(), r.canary_version.as_str()),
        ("green", "does-not-exist")
    );
    assert_eq!(reader.list().await.expect("list"), [NAME]);
    let requests = h.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer test-token"))
    );
    let rs = requests
        .iter()
        .find(|r| {
            r.uri
                .starts_with("/apis/apps/v1/namespaces/jesse-test/replicasets?")
        })
        .expect("ReplicaSets listed");
    assert!(
        rs.uri.contains("labelSelector=app%3Dcanary-demo"),
        "{}",
        rs.uri
    );
}

#[tokio::test]
async fn pause_patches_the_spec_on_the_main_resource() {
    let h = Harness::start(canary_at(0, false)).await;
    let r = h
        .controller()
        .act(&request(ActionKind::Pause, 0))
        .await
        .expect("pause");
    assert_eq!(
        h.patches(),
        [(
            ROLLOUT_PATH.to_string(),
            Some(MERGE.to_string()),
            json!({"spec": {"paused": true}})
        )]
    );
    // The fake echoes the patched object; the controller has not reacted yet.
    assert_eq!(r.step, 0);
}

#[tokio::test]
async fn resume_unpauses_the_spec_and_refuses_a_step_gate() {
    let mut ro = canary_at(0, false);
    ro["spec"]["paused"] = json!(true);
    let h = Harness::start(ro).await;
    h.controller()
        .act(&request(ActionKind::Resume, 0))
        .await
        .expect("resume");
    assert_eq!(
        h.patches(),
        [(
            ROLLOUT_PATH.to_string(),
            Some(MERGE.to_string()),
            json!({"spec": {"paused": false}})
        )]
    );

    // Paused at a `pause: {}` step, not by a user: resume would change nothing there.
    let h = Harness::start(canary_at(1, true)).await;
    let err = h
        .controller()
        .act(&request(ActionKind::Resume, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ActionError::Rejected(ref m) if m.contains("promote")),
        "{err:?}"
    );
    assert!(h.patches().is_empty());
}

#[tokio::test]
async fn promote_on_a_pause_step_clears_the_pause_conditions() {
    let h = Harness::start(canary_at(1, true)).await;
    h.controller()
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"pauseConditions": null}})
        )]
    );
}

#[tokio::test]
async fn promote_of_a_user_paused_step_also_unpauses_the_spec_after_the_status() {
    let mut ro = canary_at(1, true);
    ro["spec"]["paused"] = json!(true);
    let h = Harness::start(ro).await;
    h.controller()
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!(
        h.patches(),
        [
            (
                status_path(),
                Some(MERGE.to_string()),
                json!({"status": {"pauseConditions": null}})
            ),
            (
                ROLLOUT_PATH.to_string(),
                Some(MERGE.to_string()),
                json!({"spec": {"paused": false}})
            ),
        ]
    );
}

#[tokio::test]
async fn promote_on_a_non_pause_step_skips_to_the_next_index() {
    // Argo index 2 is `setWeight: 40` (console step 1), not paused.
    let h = Harness::start(canary_at(2, false)).await;
    let r = h
        .controller()
        .act(&request(ActionKind::Promote, 1))
        .await
        .expect("promote");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"pauseConditions": null, "currentStepIndex": 3}})
        )]
    );
    assert_eq!(r.step, 1, "index 3 is the pause after setWeight 40");
}

#[tokio::test]
async fn abort_patches_the_status_subresource() {
    let h = Harness::start(canary_at(0, false)).await;
    let r = h
        .controller()
        .act(&request(ActionKind::Rollback, 0))
        .await
        .expect("abort");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"abort": true}})
        )]
    );
    assert_eq!((r.state, r.canary_weight), (RolloutState::RolledBack, 0));
}

#[tokio::test]
async fn without_a_status_subresource_patches_fall_back_to_the_main_resource() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| f.status_subresource = false);
    let r = h
        .controller()
        .act(&request(ActionKind::Rollback, 0))
        .await
        .expect("abort");
    let abort = json!({"status": {"abort": true}});
    assert_eq!(
        h.patches(),
        [
            (status_path(), Some(MERGE.to_string()), abort.clone()),
            (ROLLOUT_PATH.to_string(), Some(MERGE.to_string()), abort),
        ]
    );
    assert_eq!(r.state, RolloutState::RolledBack);

    // promote.go: the unified patch replaces the spec-only one, so one PATCH after the 404.
    let mut ro = canary_at(1, true);
    ro["spec"]["paused"] = json!(true);
    let h = Harness::start(ro).await;
    h.set(|f| f.status_subresource = false);
    h.controller()
        .act(&request(ActionKind::Promote, 0))
        .await
        .expect("promote");
    assert_eq!(
        h.patches(),
        [
            (
                status_path(),
                Some(MERGE.to_string()),
                json!({"status": {"pauseConditions": null}})
            ),
            (
                ROLLOUT_PATH.to_string(),
                Some(MERGE.to_string()),
                json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})
            ),
        ]
    );
}

#[tokio::test]
async fn a_stale_expected_step_is_a_conflict_and_sends_no_patch() {
    // Argo index 4 (setWeight 60) is console step 2; the user saw step 1.
    let h = Harness::start(canary_at(4, false)).await;
    for kind in [ActionKind::Promote, ActionKind::Pause, ActionKind::Rollback] {
        let err = h.controller().act(&request(kind, 1)).await.unwrap_err();
        assert!(
            matches!(
                err,
                ActionError::Conflict {
                    current_step: Some(2),
                    ..
                }
            ),
            "{kind:?}: {err:?}"
        );
    }
    assert!(h.patches().is_empty(), "{:?}", h.patches());
    assert!(h.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn rbac_answers_map_to_disabled_actions() {
    let h = Harness::start(canary_at(0, false)).await;
    let reader = ArgoReader::new(h.settings.clone());
    let all = reader.rbac(NAME).await.expect("ssar");
    assert!(all.denied.is_empty(), "{all:?}");

    h.set(|f| f.access = vec![("status".into(), false, "no RBAC policy matched".into())]);
    let p = reader.rbac(NAME).await.expect("ssar");
    assert_eq!(p.denied(ActionKind::Pause), None);
    assert_eq!(p.denied(ActionKind::Resume), None);
    let why = p.denied(ActionKind::Rollback).expect("rollback denied");
    assert_eq!(
        why,
        "no RBAC permission to patch rollouts/status in jesse-test: no RBAC policy matched"
    );
    assert!(p.denied(ActionKind::Promote).is_some());

    h.set(|f| f.access = vec![(String::new(), false, String::new())]);
    // What the console asks through the reader trait at start is this same answer.
    let p = RolloutReader::permissions(&reader, NAME)
        .await
        .expect("ssar");
    assert_eq!(
        p.denied(ActionKind::Pause),
        Some("no RBAC permission to patch rollouts in jesse-test")
    );
    assert_eq!(p.denied(ActionKind::Rollback), None);

    let reviews: Vec<Value> = h
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(reviews.len(), 6, "two reviews per check");
    assert_eq!(
        reviews[1]["spec"]["resourceAttributes"],
        json!({"namespace": NS, "verb": "patch", "group": "argoproj.io",
               "resource": "rollouts", "subresource": "status", "name": NAME})
    );
    assert_eq!(
        reviews[0]["spec"]["resourceAttributes"],
        json!({"namespace": NS, "verb": "patch", "group": "argoproj.io",
               "resource": "rollouts", "name": NAME})
    );
}

#[tokio::test]
async fn a_completed_rollout_is_on_its_last_step_and_takes_no_action() {
    let mut ro = canary_at(8, false);
    ro["status"]["phase"] = json!("Healthy");
    ro["status"]["stableRS"] = json!("65fb5ffc84");
    // Unset on some controllers once the rollout is done: the step must still be the last one.
    ro["status"]
        .as_object_mut()
        .expect("status")
        .remove("currentStepIndex");
    let h = Harness::start(ro).await;
    let c = h.controller();
    let r = c.get(NAME).await.expect("get");
    assert_eq!((r.state, r.step), (RolloutState::Completed, 4));
    let err = c.act(&request(ActionKind::Promote, 4)).await.unwrap_err();
    assert!(
        matches!(err, ActionError::Rejected(ref m) if m.contains("completed")),
        "{err:?}"
    );
    assert!(h.patches().is_empty());
}
