//! The `argo` backend against a small fake of the Kubernetes API on 127.0.0.1, serving the real
//! Argo Rollouts fixtures at the real paths and recording every request, so the exact patches
//! (`kubectl argo rollouts`' merge patches, undo's JSON patch) and the watch's LIST/WATCH
//! requests can be asserted without a cluster.

#[path = "common/tmux.rs"]
mod tmux;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

use rollout_console::backend::argo::{ArgoController, ArgoError, ArgoReader, ArgoSettings};
use rollout_console::backend::{ActionError, ActionRequest, RolloutController, RolloutReader};
use rollout_console::domain::action::ActionKind;
use rollout_console::domain::{AnalysisPhase, RolloutState};

const NS: &str = "jesse-test";
const NAME: &str = "canary-demo";
const ROLLOUTS_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/jesse-test/rollouts";
const ROLLOUT_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/jesse-test/rollouts/canary-demo";
const RUNS_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/jesse-test/analysisruns";
const RS_PATH: &str = "/apis/apps/v1/namespaces/jesse-test/replicasets";
const SSAR_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Path and query, as sent.
    uri: String,
    content_type: Option<String>,
    authorization: Option<String>,
    body: Option<Value>,
}

impl Recorded {
    fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    /// A query parameter, percent-decoded.
    fn query(&self, key: &str) -> Option<String> {
        query_param(&self.uri, key)
    }

    fn is_watch(&self) -> bool {
        self.query("watch").is_some_and(|w| w == "true" || w == "1")
    }
}

fn query_param(uri: &str, key: &str) -> Option<String> {
    let (_, query) = uri.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("utf8");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf8")
}

struct Fake {
    rollout: Value,
    /// The fake's resourceVersion counter: every change of the rollout takes the next one.
    version: u64,
    replicasets: Vec<Value>,
    /// An error code for the ReplicaSet LIST (403: no RBAC).
    replicasets_error: Option<u16>,
    analysisruns: Vec<Value>,
    /// An error code for the AnalysisRun LIST (403: no RBAC, 404: no CRD).
    analysisruns_error: Option<u16>,
    /// `false`: a controller without the status subresource (v0.9): PATCH .../status is a 404.
    status_subresource: bool,
    /// SSAR answers by "resource" or "resource/subresource": (allowed, reason).
    access: Vec<(String, bool, String)>,
    /// More Rollouts, in any namespace (`metadata.namespace`), beside `rollout` in jesse-test.
    others: Vec<Value>,
    /// Namespaces whose rollouts this user may not list or watch (403, and SSARs deny).
    forbidden: Vec<String>,
    /// Whether the user may list rollouts cluster-wide (the SSAR without a namespace).
    cluster_wide: bool,
    /// Open watch streams, by namespace ("": cluster-wide); dropping one ends its stream.
    watchers: Vec<(String, mpsc::UnboundedSender<Value>)>,
    /// Every watch is answered with a 410 Gone ERROR event, then closed.
    watch_gone: bool,
    /// Changes are not announced to the watches (a slow watch).
    watch_lagging: bool,
    requests: Vec<Recorded>,
}

impl Fake {
    /// After a change: the next resourceVersion, and a MODIFIED event to every watch.
    fn changed(&mut self) {
        self.version += 1;
        self.rollout["metadata"]["resourceVersion"] = json!(self.version.to_string());
        if !self.watch_lagging {
            self.notify("MODIFIED");
        }
    }

    fn notify(&mut self, kind: &str) {
        let rollout = self.rollout.clone();
        self.announce(kind, rollout);
    }

    /// An event about `object` to the watches of its namespace (and the cluster-wide ones).
    fn announce(&mut self, kind: &str, object: Value) {
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let event = json!({"type": kind, "object": object});
        self.watchers
            .retain(|(w, tx)| (*w != ns && !w.is_empty()) || tx.send(event.clone()).is_ok());
    }

    /// One of `others` changes: the next resourceVersion and a MODIFIED event.
    fn change_other(&mut self, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
        self.version += 1;
        let version = self.version.to_string();
        let other = self
            .others
            .iter_mut()
            .find(|o| o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name)
            .expect("a rollout of the fake");
        f(other);
        other["metadata"]["resourceVersion"] = json!(version);
        let other = other.clone();
        self.announce("MODIFIED", other);
    }

    /// Every rollout, with its namespace.
    fn all_rollouts(&self) -> impl Iterator<Item = &Value> {
        std::iter::once(&self.rollout).chain(self.others.iter())
    }
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

/// RFC 6902, the one operation undo sends: `replace` of an existing member.
fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("a JSON patch is an array")? {
        let path = op["path"].as_str().ok_or("no path")?;
        match op["op"].as_str() {
            Some("replace") => {
                *target
                    .pointer_mut(path)
                    .ok_or("replace of a missing member")? = op["value"].clone();
            }
            other => return Err(format!("op {other:?} is not served by this fake")),
        }
    }
    Ok(())
}

fn status(code: u16, message: &str) -> Response {
    let reason = match code {
        403 => "Forbidden",
        404 => "NotFound",
        410 => "Expired",
        422 => "Invalid",
        _ => "InternalError",
    };
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code});
    (StatusCode::from_u16(code).expect("code"), axum::Json(body)).into_response()
}

fn list(kind: &str, version: u64, items: Vec<Value>) -> Response {
    axum::Json(json!({
        "apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": version.to_string()},
        "items": items
    }))
    .into_response()
}

/// `k=v`, `k!=v` and `k` terms, as far as these tests write selectors.
fn matches_labels(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector.split(',').all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k].as_str() != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k].as_str() == Some(v)
        } else {
            !labels[term].is_null()
        }
    })
}

/// A rollouts collection path: `Some(namespace)` ("" for cluster-wide), and the name if any.
fn rollouts_route(path: &str) -> Option<(String, Option<String>)> {
    let rest = path.strip_prefix("/apis/argoproj.io/v1alpha1/")?;
    if rest == "rollouts" {
        return Some((String::new(), None));
    }
    let rest = rest.strip_prefix("namespaces/")?;
    let (ns, rest) = rest.split_once('/')?;
    match rest.strip_prefix("rollouts")? {
        "" => Some((ns.to_string(), None)),
        name => Some((ns.to_string(), Some(name.strip_prefix('/')?.to_string()))),
    }
}

/// A watch: newline-delimited events, as long as the fake keeps the sender.
fn watch_stream(fake: &mut Fake, namespace: &str) -> Response {
    if fake.watch_gone {
        let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "message": "too old resource version: 1 (2)",
            "reason": "Expired", "code": 410}});
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(format!("{gone}\n")))
            .expect("response");
    }
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    fake.watchers.push((namespace.to_string(), tx));
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(format!("{event}\n")), rx))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(lines))
        .expect("response")
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
    let recorded = Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: (!body.is_empty()).then(|| serde_json::from_slice(&body).expect("JSON body")),
    };
    let watching = recorded.is_watch();
    let field_selector = recorded.query("fieldSelector");
    let label_selector = recorded.query("labelSelector");
    fake.requests.push(recorded);
    let path = uri.path();
    if let ("GET", Some((ns, name))) = (method.as_str(), rollouts_route(path)) {
        if fake.forbidden.contains(&ns) {
            return status(
                403,
                &format!(
                    "rollouts.argoproj.io is forbidden: User \"alice\" cannot list resource \
                     \"rollouts\" in API group \"argoproj.io\" in the namespace \"{ns}\""
                ),
            );
        }
        let in_scope = |o: &&Value| ns.is_empty() || o["metadata"]["namespace"] == ns.as_str();
        if let Some(name) = name {
            return match fake
                .all_rollouts()
                .filter(in_scope)
                .find(|o| o["metadata"]["name"] == name.as_str())
            {
                Some(o) => axum::Json(o.clone()).into_response(),
                None => status(404, &format!("rollouts.argoproj.io \"{name}\" not found")),
            };
        }
        if watching {
            return watch_stream(&mut fake, &ns);
        }
        let items = fake
            .all_rollouts()
            .filter(in_scope)
            .filter(|o| match field_selector.as_deref() {
                None => true,
                Some(s) => {
                    Some(s)
                        == o["metadata"]["name"]
                            .as_str()
                            .map(|n| format!("metadata.name={n}"))
                            .as_deref()
                }
            })
            .filter(|o| {
                label_selector
                    .as_deref()
                    .is_none_or(|s| matches_labels(o, s))
            })
            .cloned()
            .collect();
        return list("RolloutList", fake.version, items);
    }
    match (method.as_str(), path) {
        ("PATCH", p) if p == format!("{ROLLOUT_PATH}/status") => {
            if !fake.status_subresource {
                return status(404, "the server could not find the requested resource");
            }
            // The status subresource applies only the status part.
            let patch: Value = serde_json::from_slice(&body).expect("patch");
            if let Some(s) = patch.get("status") {
                merge(&mut fake.rollout["status"], s);
            }
            fake.changed();
            axum::Json(fake.rollout.clone()).into_response()
        }
        ("PATCH", ROLLOUT_PATH) => {
            let patch: Value = serde_json::from_slice(&body).expect("patch");
            match header("content-type").as_deref() {
                Some(MERGE) => merge(&mut fake.rollout, &patch),
                Some(JSON_PATCH) => {
                    if let Err(e) = json_patch(&mut fake.rollout, &patch) {
                        return status(422, &e);
                    }
                }
                other => return status(415, &format!("unsupported content type {other:?}")),
            }
            fake.changed();
            axum::Json(fake.rollout.clone()).into_response()
        }
        ("GET", RS_PATH) => match fake.replicasets_error {
            Some(code) => status(
                code,
                "replicasets.apps is forbidden: User \"alice\" cannot list resource \"replicasets\"",
            ),
            None => list("ReplicaSetList", fake.version, fake.replicasets.clone()),
        },
        ("GET", RUNS_PATH) => match fake.analysisruns_error {
            Some(code) => status(code, "the server could not find the requested resource"),
            None => list("AnalysisRunList", fake.version, fake.analysisruns.clone()),
        },
        ("POST", SSAR_PATH) => {
            let mut review: Value = serde_json::from_slice(&body).expect("review");
            let attr = |k: &str| {
                review
                    .pointer(&format!("/spec/resourceAttributes/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let key = match attr("subresource").as_str() {
                "" => attr("resource"),
                sub => format!("{}/{sub}", attr("resource")),
            };
            let ns = attr("namespace");
            let (allowed, reason) = if ns.is_empty() {
                (fake.cluster_wide, String::new())
            } else if fake.forbidden.contains(&ns) {
                (false, format!("no role in {ns}"))
            } else {
                fake.access
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .map(|(_, a, r)| (*a, r.clone()))
                    .unwrap_or((true, String::new()))
            };
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
        let version = rollout["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let fake = Arc::new(Mutex::new(Fake {
            rollout,
            version,
            replicasets,
            replicasets_error: None,
            analysisruns: Vec::new(),
            analysisruns_error: None,
            status_subresource: true,
            access: Vec::new(),
            others: Vec::new(),
            forbidden: Vec::new(),
            cluster_wide: false,
            watchers: Vec::new(),
            watch_gone: false,
            watch_lagging: false,
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
            namespaces: Vec::new(),
            selector: None,
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

    /// Changes the rollout as its controller would, and tells the open watches.
    fn change_rollout(&self, f: impl FnOnce(&mut Value)) {
        let mut fake = self.fake.lock().expect("lock");
        f(&mut fake.rollout);
        fake.changed();
    }

    /// The LISTs of jesse-test's rollouts (the watcher's), and the WATCHes.
    fn watch_requests(&self) -> (Vec<Recorded>, Vec<Recorded>) {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path() == ROLLOUTS_PATH)
            .partition(|r| !r.is_watch())
    }

    /// Waits (a few seconds at most) until `n` watches were opened.
    async fn wait_for_watches(&self, n: usize) {
        for _ in 0..100 {
            if self.watch_requests().1.len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no watch within 5s: {:?}", self.watch_requests());
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
        expected_step: Some(expected_step),
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
    // Reads only, besides the one RBAC question: may this context list cluster-wide? (No: the
    // context's namespace is listed, and its rollouts keep their bare names.)
    let (reviews, reads): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.path() == SSAR_PATH);
    assert!(reads.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        reviews[0]
            .body
            .as_ref()
            .map(|b| b["spec"]["resourceAttributes"].clone()),
        Some(json!({"verb": "list", "group": "argoproj.io", "resource": "rollouts"}))
    );
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
    for kind in [
        ActionKind::Promote,
        ActionKind::Pause,
        ActionKind::Rollback,
        ActionKind::Undo,
    ] {
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

    h.set(|f| {
        f.access = vec![(
            "rollouts/status".into(),
            false,
            "no RBAC policy matched".into(),
        )]
    });
    let p = reader.rbac(NAME).await.expect("ssar");
    assert_eq!(p.denied(ActionKind::Pause), None);
    assert_eq!(p.denied(ActionKind::Resume), None);
    let why = p.denied(ActionKind::Rollback).expect("rollback denied");
    assert_eq!(
        why,
        "no RBAC permission to patch rollouts/status in jesse-test: no RBAC policy matched"
    );
    assert!(p.denied(ActionKind::Promote).is_some());

    h.set(|f| f.access = vec![("rollouts".into(), false, String::new())]);
    // What the console asks through the reader trait at start is this same answer.
    let p = RolloutReader::permissions(&reader, NAME)
        .await
        .expect("ssar");
    assert_eq!(
        p.denied(ActionKind::Pause),
        Some("no RBAC permission to patch rollouts in jesse-test")
    );
    assert_eq!(p.denied(ActionKind::Rollback), None);
    assert_eq!(
        p.denied(ActionKind::Undo),
        Some("no RBAC permission to patch rollouts in jesse-test")
    );

    // Undo also reads the ReplicaSets: without `list replicasets` it alone is disabled.
    h.set(|f| f.access = vec![("replicasets".into(), false, "not in any role".into())]);
    let p = reader.rbac(NAME).await.expect("ssar");
    assert_eq!(
        p.denied,
        [(
            ActionKind::Undo,
            "no RBAC permission to list replicasets in jesse-test: not in any role".to_string()
        )]
    );

    let reviews: Vec<Value> = h
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(reviews.len(), 12, "three reviews per check");
    assert_eq!(
        reviews[2]["spec"]["resourceAttributes"],
        json!({"namespace": NS, "verb": "list", "group": "apps", "resource": "replicasets"})
    );
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

// AnalysisRuns.

/// The real failed background run, re-owned by the canary fixture and labelled with its canary.
fn run_of_canary(name: &str, created: &str) -> Value {
    let mut run = fixture("rollout-aborted_analysisrun");
    run["metadata"]["name"] = json!(name);
    run["metadata"]["namespace"] = json!(NS);
    run["metadata"]["creationTimestamp"] = json!(created);
    run["metadata"]["labels"]["rollouts-pod-template-hash"] = json!("65fb5ffc84");
    run["metadata"]["ownerReferences"][0]["name"] = json!(NAME);
    run["metadata"]["ownerReferences"][0]["uid"] = json!("b350ba76-f6ed-11e9-a15b-42010aa80033");
    run
}

#[tokio::test]
async fn get_shows_the_analysis_runs_of_the_current_canary_newest_first() {
    let h = Harness::start(fixture("canary_canary-rollout")).await;
    let older = run_of_canary("canary-demo-65fb5ffc84-1", "2019-10-28T04:53:00Z");
    let mut newer = run_of_canary("canary-demo-65fb5ffc84-2", "2019-10-28T04:55:00Z");
    newer["status"] = json!({"phase": "Running", "metricResults": [{"name": "latency",
        "phase": "Running", "measurements": [{"phase": "Successful", "value": "[0.93]",
        "startedAt": "2019-10-28T04:55:00Z", "finishedAt": "2019-10-28T04:55:01Z"}]}]});
    let mut stranger = run_of_canary("other-rollout-65fb5ffc84-1", "2019-10-28T04:56:00Z");
    stranger["metadata"]["ownerReferences"][0]["name"] = json!("other-rollout");
    let mut earlier_canary = run_of_canary("canary-demo-877894d5b-1", "2019-10-28T04:57:00Z");
    earlier_canary["metadata"]["labels"]["rollouts-pod-template-hash"] = json!("877894d5b");
    h.set(|f| f.analysisruns = vec![older, stranger, earlier_canary, newer]);

    let r = ArgoReader::new(h.settings.clone())
        .get(NAME)
        .await
        .expect("get");
    let got: Vec<(&str, &str, AnalysisPhase, Option<&str>)> = r
        .analysis
        .iter()
        .map(|a| {
            (
                a.run.as_str(),
                a.metric.as_str(),
                a.phase,
                a.value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "canary-demo-65fb5ffc84-2",
                "latency",
                AnalysisPhase::Running,
                Some("[0.93]")
            ),
            (
                "canary-demo-65fb5ffc84-1",
                "web",
                AnalysisPhase::Failed,
                Some("false")
            ),
        ]
    );
    assert_eq!(
        r.analysis[1].message.as_deref(),
        Some("metric \"web\" assessed Failed due to failed (1) > failureLimit (0)")
    );
    // Listed in the namespace by the canary's pod-template hash; ownership is checked here.
    let runs: Vec<Recorded> = h
        .requests()
        .into_iter()
        .filter(|r| r.path() == RUNS_PATH)
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].method, "GET");
    assert_eq!(
        runs[0].query("labelSelector").as_deref(),
        Some("rollouts-pod-template-hash=65fb5ffc84")
    );
}

#[tokio::test]
async fn analysis_runs_that_cannot_be_listed_cost_only_the_analysis() {
    let h = Harness::start(fixture("canary_canary-rollout")).await;
    h.set(|f| f.analysisruns = vec![run_of_canary("run", "2019-10-28T04:53:00Z")]);
    let reader = ArgoReader::new(h.settings.clone());
    assert_eq!(reader.get(NAME).await.expect("get").analysis.len(), 1);
    // No AnalysisRun CRD (404), then no RBAC (403): the rollout still reads.
    for code in [404, 403] {
        h.set(|f| f.analysisruns_error = Some(code));
        let r = reader.get(NAME).await.expect("get");
        assert!(r.analysis.is_empty(), "{code}: {:?}", r.analysis);
        assert_eq!(r.state, RolloutState::Failed);
        assert_eq!(r.canary_version, "does-not-exist");
    }
}

// Undo.

/// undo.go's body: the stable ReplicaSet's (revision 30: the rollout is at 31) pod template,
/// without its `rollouts-pod-template-hash` label.
fn undo_to_revision_30() -> Value {
    let mut template = fixture("canary_stable-rs")["spec"]["template"].clone();
    template["metadata"]["labels"] = json!({"app": "canary-demo"});
    json!([{"op": "replace", "path": "/spec/template", "value": template}])
}

#[tokio::test]
async fn undo_sends_the_previous_revision_s_template_as_a_json_patch() {
    let h = Harness::start(canary_at(0, false)).await;
    let r = h
        .controller()
        .act(&request(ActionKind::Undo, 0))
        .await
        .expect("undo");
    let body = undo_to_revision_30();
    assert_eq!(
        h.patches(),
        [(
            ROLLOUT_PATH.to_string(),
            Some(JSON_PATCH.to_string()),
            body.clone()
        )]
    );
    assert_eq!(
        body[0]["value"]["spec"]["containers"][0]["image"], "argoproj/rollouts-demo:green",
        "revision 30 is the stable ReplicaSet (canary-demo-877894d5b)"
    );
    // The ReplicaSets were listed by the rollout's selector before the patch.
    let requests = h.requests();
    let rs_list = requests
        .iter()
        .position(|r| r.path() == RS_PATH)
        .expect("ReplicaSets listed");
    let patch = requests
        .iter()
        .position(|r| r.method == "PATCH")
        .expect("patched");
    assert!(rs_list < patch);
    assert_eq!(
        requests[rs_list].query("labelSelector").as_deref(),
        Some("app=canary-demo")
    );
    // The fake applied it: the rollout's template is now revision 30's.
    let template = &h.fake.lock().expect("lock").rollout["spec"]["template"];
    assert_eq!(template, &body[0]["value"]);
    assert_eq!(r.step, 0);
}

#[tokio::test]
async fn undo_is_allowed_on_a_completed_rollout() {
    let mut ro = canary_at(8, false);
    ro["status"]["phase"] = json!("Healthy");
    ro["status"]["stableRS"] = json!("65fb5ffc84");
    let h = Harness::start(ro).await;
    h.controller()
        .act(&request(ActionKind::Undo, 4))
        .await
        .expect("undo");
    assert_eq!(
        h.patches(),
        [(
            ROLLOUT_PATH.to_string(),
            Some(JSON_PATCH.to_string()),
            undo_to_revision_30()
        )]
    );
}

#[tokio::test]
async fn undo_without_a_previous_revision_or_without_rbac_sends_nothing() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| f.replicasets = vec![fixture("canary_canary-rs")]);
    let err = h
        .controller()
        .act(&request(ActionKind::Undo, 0))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ActionError::Rejected("no previous revision to undo to".into())
    );

    h.set(|f| f.replicasets_error = Some(403));
    let err = h
        .controller()
        .act(&request(ActionKind::Undo, 0))
        .await
        .unwrap_err();
    let ActionError::Rejected(why) = &err else {
        panic!("{err:?}");
    };
    assert!(
        why.contains("403") && why.contains("cannot list resource \"replicasets\""),
        "{why}"
    );
    assert!(h.patches().is_empty(), "{:?}", h.patches());
}

// Watch.

#[tokio::test]
async fn a_watch_reports_every_change_and_get_reads_what_it_saw() {
    let h = Harness::start(canary_at(0, false)).await;
    let c = h.controller();
    let mut changes = c.watch(NAME).expect("argo watches");
    h.wait_for_watches(1).await;

    // LIST the namespace's whole set for a resourceVersion (not one rollout by name), then
    // WATCH from exactly that version.
    let (lists, watches) = h.watch_requests();
    assert_eq!((lists.len(), watches.len()), (1, 1));
    assert_eq!(lists[0].query("fieldSelector"), None);
    let w = &watches[0];
    assert_eq!(w.query("fieldSelector"), None);
    assert_eq!(w.query("resourceVersion").as_deref(), Some("28253567"));
    assert_eq!(w.query("timeoutSeconds").as_deref(), Some("60"));
    assert_eq!(w.query("allowWatchBookmarks").as_deref(), Some("true"));
    assert_eq!(w.authorization.as_deref(), Some("Bearer test-token"));

    // A patch through the controller: the fake's MODIFIED event bumps the counter.
    c.act(&request(ActionKind::Pause, 0)).await.expect("pause");
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("a change within 5s")
        .expect("the watch lives");
    let after_pause = *changes.borrow_and_update();
    assert!(after_pause >= 1);

    // The controller moves on; `get` answers from the watch, without a GET of the rollout.
    h.change_rollout(|ro| ro["status"]["currentStepIndex"] = json!(2));
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("a change within 5s")
        .expect("the watch lives");
    assert!(*changes.borrow_and_update() > after_pause);
    let gets_before = h
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path() == ROLLOUT_PATH)
        .count();
    let r = c.get(NAME).await.expect("get");
    assert_eq!(r.step, 1, "Argo index 2 is console step 1");
    let gets_after = h
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path() == ROLLOUT_PATH)
        .count();
    assert_eq!(gets_after, gets_before, "read from the watch's copy");

    // Our own patch shows at once, even before the watch delivers it.
    h.set(|f| f.watch_lagging = true);
    c.act(&request(ActionKind::Rollback, 1))
        .await
        .expect("abort");
    let r = c.get(NAME).await.expect("get");
    assert_eq!(r.state, RolloutState::RolledBack);
    let gets_after = gets_after + 1; // act's own GET before the patch
    assert_eq!(
        h.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path() == ROLLOUT_PATH)
            .count(),
        gets_after
    );
    h.set(|f| f.watch_lagging = false);

    // Deleted: the counter moves and `get` asks the API again.
    h.set(|f| f.notify("DELETED"));
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("a change within 5s")
        .expect("the watch lives");
    c.get(NAME).await.expect("get");
    let gets = h
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path() == ROLLOUT_PATH)
        .count();
    assert_eq!(gets, gets_after + 1);
}

#[tokio::test]
async fn a_closed_watch_re_lists_and_reports_what_changed_meanwhile() {
    let h = Harness::start(canary_at(0, false)).await;
    let reader = ArgoReader::new(h.settings.clone());
    let mut changes = reader.watch(NAME).expect("argo watches");
    h.wait_for_watches(1).await;

    // The stream ends (the server's timeout, a proxy) and, unseen, the rollout changes.
    {
        let mut fake = h.fake.lock().expect("lock");
        fake.watchers.clear();
        fake.rollout["status"]["currentStepIndex"] = json!(2);
        fake.version += 1;
        let version = fake.version.to_string();
        fake.rollout["metadata"]["resourceVersion"] = json!(version);
    }
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("the re-list finds the change within 5s")
        .expect("the watch lives");
    h.wait_for_watches(2).await;
    let (lists, watches) = h.watch_requests();
    assert_eq!((lists.len(), watches.len()), (2, 2));
    assert_eq!(
        watches[1].query("resourceVersion").as_deref(),
        Some("28253568"),
        "the new watch starts from the re-list"
    );
    // Between the re-list and now the copy is fresh: the step shows without a GET.
    assert_eq!(reader.get(NAME).await.expect("get").step, 1);
    assert!(
        !h.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path() == ROLLOUT_PATH),
        "read from the re-list's copy"
    );

    // The receiver is gone: the task ends, and a closed stream brings no re-list.
    drop(changes);
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.set(|f| f.watchers.clear());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(h.watch_requests().0.len(), 2, "{:?}", h.watch_requests());
}

#[tokio::test]
async fn a_gone_watch_re_lists_with_a_backoff() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| f.watch_gone = true);
    let reader = ArgoReader::new(h.settings.clone());
    let changes = reader.watch(NAME).expect("argo watches");
    // Every watch answers 410 Gone at once: re-list after 1s, 2s, 4s... never a busy loop.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (lists, watches) = h.watch_requests();
    assert!(
        (2..=4).contains(&lists.len()),
        "{} LISTs in 3.5s: {lists:?}",
        lists.len()
    );
    assert_eq!(lists.len(), watches.len());
    // Nothing changed: no re-read asked for.
    assert_eq!(*changes.borrow(), 0);
    // Without a live watch `get` reads the API.
    reader.get(NAME).await.expect("get");
    assert!(
        h.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path() == ROLLOUT_PATH)
    );
}

#[tokio::test]
async fn promote_full_patches_the_status_and_has_no_fallback() {
    let h = Harness::start(canary_at(1, true)).await;
    let r = h
        .controller()
        .act(&request(ActionKind::PromoteFull, 0))
        .await
        .expect("promote full");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"promoteFull": true}})
        )]
    );
    assert_ne!(r.state, RolloutState::RolledBack);

    // promote.go sends --full to the status subresource only: on a 404 nothing else is sent.
    let h = Harness::start(canary_at(1, true)).await;
    h.set(|f| f.status_subresource = false);
    match h
        .controller()
        .act(&request(ActionKind::PromoteFull, 0))
        .await
    {
        Err(ActionError::Rejected(why)) => {
            assert!(why.contains("no status subresource"), "{why}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(h.patches().len(), 1, "only the refused status patch");
}

#[tokio::test]
async fn retry_clears_the_abort_and_is_refused_when_not_aborted() {
    let h = Harness::start(canary_at(1, false)).await;
    match h.controller().act(&request(ActionKind::Retry, 0)).await {
        Err(ActionError::Rejected(why)) => assert!(why.contains("not aborted"), "{why}"),
        other => panic!("nothing to retry: {other:?}"),
    }
    assert!(h.patches().is_empty(), "nothing sent");

    let mut ro = canary_at(1, false);
    ro["status"]["abort"] = json!(true);
    let h = Harness::start(ro).await;
    let seen = h.controller().get(NAME).await.expect("get");
    assert_eq!(seen.state, RolloutState::RolledBack);
    h.controller()
        .act(&request(ActionKind::Retry, seen.step))
        .await
        .expect("retry");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"abort": false}})
        )]
    );
}

/// The real binary under tmux against the fake API: kubeconfig from `KUBECONFIG`, the context
/// from the config, a change seen through the watch long before the (1h) poll, the reason from a
/// failed analysis on screen, and rollback as exactly the plugin's abort, with Prometheus down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_watches_and_aborts_an_argo_rollout() {
    let h = Harness::start(canary_at(1, false)).await;
    let kubeconfig = h.settings.kubeconfig.clone().expect("kubeconfig");
    let t = tmux::Tmux::start("argo");
    let config = t.dir.path().join("argo.toml");
    // Nothing listens on port 9: the metrics panels show the error, the rollout still works.
    std::fs::write(
        &config,
        format!(
            r#"poll_interval = "1h"
[prometheus]
url = "http://127.0.0.1:9"
[backend]
kind = "argo"
context = "fake"
[[rollouts]]
name = "{NAME}"
service = 'app="{NAME}"'
[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window]))'
unit = "ratio"
gate = {{ max = 0.01 }}
"#
        ),
    )
    .expect("config");
    let env = format!("KUBECONFIG={}", kubeconfig.display());
    t.run_console(&format!("--config {}", config.display()), &env);
    t.wait_text(NAME);
    t.wait_text("PROGRESSING");

    // The controller aborts after a failed analysis: only the watch can bring it in time.
    h.set(|f| {
        f.analysisruns = vec![run_of_canary(
            "canary-demo-65fb5ffc84-1",
            "2019-10-28T04:53:00Z",
        )];
    });
    h.change_rollout(|ro| {
        ro["status"]["abort"] = json!(true);
        ro["status"]["phase"] = json!("Degraded");
    });
    let (screen, took) = t.wait_for("the abort, via the watch", Duration::from_secs(20), |s| {
        s.contains("ROLLED BACK")
    });
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(screen.contains("analysis web FAILED"), "{screen}");

    // Retry is offered now; take it: exactly the plugin's retry patch.
    t.send(&["t"]);
    t.wait_text(&format!("Retry {NAME}?"));
    t.send(&["y"]);
    t.wait_text("retry done");
    t.send(&["q"]);
    t.wait_text("rollout-console: left");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"abort": false}})
        )]
    );
    let receipts = std::fs::read_to_string(t.audit_path()).expect("audit log");
    assert!(
        receipts.contains(r#""operation":"rollout_retried""#),
        "{receipts}"
    );
}

#[tokio::test]
async fn with_the_state_unknown_abort_goes_without_a_step_check_and_nothing_else_does() {
    // Argo index 4 is console step 2: the console could not read it and sends no step.
    let h = Harness::start(canary_at(4, false)).await;
    let mut pause = request(ActionKind::Pause, 0);
    pause.expected_step = None;
    let err = h.controller().act(&pause).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::Rejected(why) if why.contains("only a rollback goes without it")),
        "{err:?}"
    );
    assert!(h.patches().is_empty(), "{:?}", h.patches());
    let mut abort = request(ActionKind::Rollback, 0);
    abort.expected_step = None;
    let r = h.controller().act(&abort).await.expect("abort");
    assert_eq!(
        h.patches(),
        [(
            status_path(),
            Some(MERGE.to_string()),
            json!({"status": {"abort": true}})
        )]
    );
    assert_eq!(r.state, RolloutState::RolledBack);
}

// Many rollouts: namespaces, a selector, one watch per namespace, RBAC per namespace.

const SHOP_ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts";

/// The canary fixture as another rollout, `ns/name` with `labels`.
fn other(ns: &str, name: &str, labels: Value) -> Value {
    let mut ro = canary_at(0, false);
    ro["metadata"]["namespace"] = json!(ns);
    ro["metadata"]["name"] = json!(name);
    ro["metadata"]["labels"] = labels;
    ro
}

impl Harness {
    fn settings_for(&self, namespaces: &[&str], selector: Option<&str>) -> ArgoSettings {
        ArgoSettings {
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            selector: selector.map(str::to_string),
            ..self.settings.clone()
        }
    }

    /// GETs of rollouts (LIST, WATCH or one object) in any namespace.
    fn rollout_reads(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path().starts_with("/apis/argoproj.io/"))
            .filter(|r| r.path().contains("/rollouts"))
            .collect()
    }

    /// (LISTs, WATCHes) of a namespace's rollouts collection.
    fn collection_requests(&self, path: &str) -> (usize, usize) {
        let (watches, lists): (Vec<_>, Vec<_>) = self
            .rollout_reads()
            .into_iter()
            .filter(|r| r.path() == path)
            .partition(Recorded::is_watch);
        (lists.len(), watches.len())
    }
}

#[tokio::test]
async fn lists_the_rollouts_of_two_namespaces_that_match_the_selector() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| {
        f.others = vec![
            other(NS, "api", json!({"team": "payments"})),
            other(NS, "batch", json!({"team": "data"})),
            other("shop", "web", json!({"team": "payments"})),
            other("shop", "cart", json!({"team": "payments"})),
            other("elsewhere", "x", json!({"team": "payments"})),
        ]
    });
    let settings = h.settings_for(&[NS, "shop"], Some("team=payments"));
    let reader = ArgoReader::new(settings.clone());
    assert_eq!(
        reader.list().await.expect("list"),
        ["jesse-test/api", "shop/cart", "shop/web"],
        "namespace/name, only the selected ones, namespace by namespace"
    );
    let mut lists: Vec<Recorded> = h.rollout_reads();
    lists.sort_by(|a, b| a.uri.cmp(&b.uri));
    assert_eq!(
        lists.iter().map(Recorded::path).collect::<Vec<_>>(),
        [ROLLOUTS_PATH, SHOP_ROLLOUTS],
        "one LIST per namespace"
    );
    assert!(
        lists
            .iter()
            .all(|r| r.query("labelSelector").as_deref() == Some("team=payments")),
        "{lists:?}"
    );
    assert!(
        h.requests().iter().all(|r| r.path() != SSAR_PATH),
        "configured namespaces need no cluster-wide check"
    );

    // `namespace/name` reads that namespace (its versions too); a bare name is the first
    // configured namespace's.
    reader.get("shop/cart").await.expect("get shop/cart");
    let paths: Vec<String> = h.requests().iter().map(|r| r.path().to_string()).collect();
    assert!(
        paths.contains(&format!("{SHOP_ROLLOUTS}/cart")),
        "{paths:?}"
    );
    assert!(paths.contains(&"/apis/apps/v1/namespaces/shop/replicasets".to_string()));
    reader.get(NAME).await.expect("a bare name");
    assert!(h.requests().iter().any(|r| r.path() == ROLLOUT_PATH));

    // An action on `namespace/name` patches that namespace's rollout.
    let c = ArgoController::new(ArgoReader::new(settings));
    c.act(&ActionRequest {
        rollout: format!("{NS}/{NAME}"),
        ..request(ActionKind::Pause, 0)
    })
    .await
    .expect("pause");
    assert_eq!(h.patches().len(), 1);
    assert_eq!(h.patches()[0].0, ROLLOUT_PATH);
}

#[tokio::test]
async fn one_list_and_one_watch_per_namespace_whatever_the_number_of_rollouts() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| {
        f.others = vec![
            other(NS, "api", json!({})),
            other(NS, "batch", json!({})),
            other("shop", "web", json!({})),
            other("shop", "cart", json!({})),
        ]
    });
    let reader = ArgoReader::new(h.settings_for(&[NS, "shop"], None));
    let names = reader.list().await.expect("list");
    assert_eq!(names.len(), 5, "{names:?}");
    let mut followers: Vec<(String, tokio::sync::watch::Receiver<u64>)> = names
        .iter()
        .map(|n| (n.clone(), reader.watch(n).expect("argo watches")))
        .collect();
    for _ in 0..100 {
        let (_, a) = h.collection_requests(ROLLOUTS_PATH);
        let (_, b) = h.collection_requests(SHOP_ROLLOUTS);
        if a + b >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first LIST is `list`'s; then the two watches' own LIST and WATCH.
    assert_eq!(h.collection_requests(ROLLOUTS_PATH), (2, 1));
    assert_eq!(h.collection_requests(SHOP_ROLLOUTS), (2, 1));

    // A change of shop/cart wakes its follower, and only it.
    h.set(|f| {
        f.change_other("shop", "cart", |o| {
            o["status"]["currentStepIndex"] = json!(2)
        })
    });
    let (_, cart) = followers
        .iter_mut()
        .find(|(n, _)| n == "shop/cart")
        .expect("followed");
    tokio::time::timeout(Duration::from_secs(5), cart.changed())
        .await
        .expect("a change within 5s")
        .expect("the watch lives");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (name, changes) in &followers {
        if name != "shop/cart" {
            assert!(!changes.has_changed().expect("lives"), "{name} woke up");
        }
    }

    // While the watches live, `list` and every `get` answer from the cache: no rollout request.
    let before = h.rollout_reads().len();
    for name in &names {
        let r = reader.get(name).await.expect("get");
        if name == "shop/cart" {
            assert_eq!(r.step, 1, "the watch's copy");
        }
    }
    assert_eq!(reader.list().await.expect("list"), names);
    assert_eq!(h.rollout_reads().len(), before, "{:?}", h.rollout_reads());

    // All followers gone: both watches stop (a closed stream brings no re-list).
    drop(followers);
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.set(|f| f.watchers.clear());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.collection_requests(ROLLOUTS_PATH), (2, 1));
    assert_eq!(h.collection_requests(SHOP_ROLLOUTS), (2, 1));
}

#[tokio::test]
async fn a_namespace_that_may_not_be_listed_is_named_and_the_others_are_listed() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| {
        f.others = vec![
            other("shop", "web", json!({})),
            other("secret", "vault", json!({})),
        ];
        f.forbidden = vec!["secret".into()];
    });
    let reader = ArgoReader::new(h.settings_for(&[NS, "secret", "shop"], None));
    let listing = reader.listing().await.expect("listing");
    assert_eq!(listing.names, ["jesse-test/canary-demo", "shop/web"]);
    assert_eq!(listing.denied.len(), 1);
    assert!(
        matches!(&listing.denied[0],
                 ArgoError::Forbidden { verb: "list", namespace, .. } if namespace == "secret"),
        "{:?}",
        listing.denied
    );
    let why = listing.denied[0].to_string();
    assert!(
        why.starts_with("no RBAC permission to list rollouts in namespace secret: "),
        "{why}"
    );
    assert_eq!(reader.list().await.expect("the others"), listing.names);

    // Permissions are asked in the rollout's own namespace.
    let p = reader.rbac("secret/vault").await.expect("ssar");
    assert_eq!(
        p.denied(ActionKind::Pause),
        Some("no RBAC permission to patch rollouts in secret: no role in secret")
    );
    assert!(
        reader
            .rbac("shop/web")
            .await
            .expect("ssar")
            .denied
            .is_empty()
    );

    // Nothing listable at all: the error names the namespace and the verb.
    let only = ArgoReader::new(h.settings_for(&["secret"], None));
    let err = only.list().await.expect_err("nothing to list").to_string();
    assert!(err.contains("list rollouts in namespace secret"), "{err}");
}

#[tokio::test]
async fn with_no_namespace_configured_a_context_that_may_list_cluster_wide_lists_all() {
    let h = Harness::start(canary_at(0, false)).await;
    h.set(|f| {
        f.others = vec![other("shop", "web", json!({}))];
        f.cluster_wide = true;
    });
    let reader = ArgoReader::new(h.settings.clone());
    assert_eq!(
        reader.list().await.expect("list"),
        ["jesse-test/canary-demo", "shop/web"]
    );
    assert!(
        h.requests()
            .iter()
            .any(|r| r.path() == "/apis/argoproj.io/v1alpha1/rollouts")
    );
    // A bare name is still the context's namespace's.
    reader.get(NAME).await.expect("get");
    assert!(h.requests().iter().any(|r| r.path() == ROLLOUT_PATH));
}
