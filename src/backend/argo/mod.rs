//! `kind = "argo"`: Argo Rollouts through the Kubernetes API, with kubectl's credentials.
//! The reader only ever GETs, LISTs and WATCHes (plus the RBAC self-check); the controller, built
//! only in read-write mode, adds the patches of `kubectl argo rollouts` (see `patch.rs`).

mod build;
pub mod fields;
pub mod mapping;
pub mod patch;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, watch};

use super::{ActionError, ActionRequest, RolloutController, RolloutReader};
use crate::domain::Rollout;
use crate::domain::action::{ActionKind, Permissions};

pub use self::build::build;

/// Where the cluster is: like kubectl, `KUBECONFIG` or `~/.kube/config` (or in-cluster) unless a
/// file is given; the kubeconfig's current context unless `context` is set.
#[derive(Debug, Clone, Default)]
pub struct ArgoSettings {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Defaults to the context's namespace, then `default`.
    pub namespace: Option<String>,
    pub timeout: Option<Duration>,
}

#[derive(Clone)]
struct Connection {
    client: Client,
    /// The same cluster and credentials without the per-read timeout: a quiet watch is not a
    /// dead one (the server ends it after `WATCH_TIMEOUT_SECS`; this catches a silent drop).
    watch_client: Client,
    namespace: String,
}

/// How long the server keeps one watch open; then the watcher re-lists, which also refreshes the
/// cached object.
const WATCH_TIMEOUT_SECS: u32 = 60;
/// Longer than any healthy watch cycle: a read silent for this long is a dead connection, and a
/// cached object not confirmed for this long is not served.
const WATCH_SILENCE: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// A watch cycle that lasted this long was healthy: the next one starts without backing off.
const WATCH_HEALTHY: Duration = Duration::from_secs(10);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The object a live watch last saw, and when the watch last confirmed it.
#[derive(Debug, Clone)]
struct Cached {
    object: Value,
    confirmed: Instant,
}

/// Read side. The client is built on first use: loading a kubeconfig may run an exec credential
/// plugin (async), and the console is assembled before its runtime does any I/O.
#[derive(Clone)]
pub struct ArgoReader {
    settings: ArgoSettings,
    connection: Arc<OnceCell<Connection>>,
    /// Rollouts under a live watch, by name: `get` reads these instead of a GET.
    watched: Arc<Mutex<HashMap<String, Cached>>>,
}

impl std::fmt::Debug for ArgoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Settings hold paths and names only; credentials stay inside kube's client.
        f.debug_struct("ArgoReader")
            .field("settings", &self.settings)
            .finish()
    }
}

fn rollout_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

fn analysis_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "AnalysisRun"),
        "analysisruns",
    )
}

/// Untyped, so a ReplicaSet's pod template goes back into the rollout (undo) exactly as the API
/// server wrote it, with fields newer than our k8s-openapi.
fn replicaset_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "ReplicaSet"),
        "replicasets",
    )
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// What went wrong reaching the cluster or reading a rollout; `Display` is the words shown.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    #[error("cannot read kubeconfig {}: {source}", .path.display())]
    ReadKubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("kubeconfig {}: {source}", .path.display())]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("kubeconfig context {context:?}: {source}")]
    Context {
        context: String,
        source: kube::config::KubeconfigError,
    },
    #[error("no kubeconfig and not in a cluster: {0}")]
    NoCluster(#[source] kube::config::InferConfigError),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// The API server's answer (or none) to a read of `what`.
    #[error("{what}: {}", describe_error(.source))]
    Api { what: String, source: kube::Error },
    #[error("{what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    /// An object the console cannot show as a rollout (`mapping`'s words).
    #[error("{0}")]
    Mapping(String),
}

/// Words, where the reader's trait and the RBAC and watch paths still carry them.
impl From<ArgoError> for String {
    fn from(e: ArgoError) -> Self {
        e.to_string()
    }
}

fn describe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => {
            format!("the API server answered {}: {}", s.code, s.message)
        }
        kube::Error::Api(s) => format!("the API server answered {} ({})", s.code, s.reason),
        other => other.to_string(),
    }
}

impl ArgoReader {
    pub fn new(settings: ArgoSettings) -> Self {
        Self {
            settings,
            connection: Arc::new(OnceCell::new()),
            watched: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    async fn connect(settings: &ArgoSettings) -> Result<Connection, ArgoError> {
        let options = KubeConfigOptions {
            context: settings.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = match (&settings.kubeconfig, &settings.context) {
            (Some(path), _) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|source| ArgoError::ReadKubeconfig {
                        path: path.clone(),
                        source,
                    })?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| ArgoError::Kubeconfig {
                        path: path.clone(),
                        source,
                    })?
            }
            // A named context only makes sense in a kubeconfig: no in-cluster fallback.
            (None, Some(context)) => {
                Config::from_kubeconfig(&options)
                    .await
                    .map_err(|source| ArgoError::Context {
                        context: context.clone(),
                        source,
                    })?
            }
            (None, None) => Config::infer().await.map_err(ArgoError::NoCluster)?,
        };
        if let Some(timeout) = settings.timeout {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
        }
        let namespace = settings
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let mut watch_config = config.clone();
        watch_config.read_timeout = Some(WATCH_SILENCE);
        let client = Client::try_from(config).map_err(ArgoError::Client)?;
        let watch_client = Client::try_from(watch_config).map_err(ArgoError::Client)?;
        Ok(Connection {
            client,
            watch_client,
            namespace,
        })
    }

    async fn connection(&self) -> Result<&Connection, ArgoError> {
        self.connection
            .get_or_try_init(|| Self::connect(&self.settings))
            .await
    }

    async fn rollouts(&self) -> Result<(Api<DynamicObject>, String), ArgoError> {
        let c = self.connection().await?;
        let api = Api::namespaced_with(c.client.clone(), &c.namespace, &rollout_resource());
        Ok((api, c.namespace.clone()))
    }

    /// The Rollout object as the API returns it.
    pub async fn object(&self, name: &str) -> Result<Value, ArgoError> {
        let (api, ns) = self.rollouts().await?;
        let what = || format!("rollout {ns}/{name}");
        let obj = api.get(name).await.map_err(|source| ArgoError::Api {
            what: what(),
            source,
        })?;
        serde_json::to_value(obj).map_err(|source| ArgoError::Json {
            what: what(),
            source,
        })
    }

    /// The ReplicaSets of the rollout's selector, for the versions. A failure (e.g. no RBAC to list
    /// ReplicaSets) only costs the version names, so it is logged, not returned.
    async fn replicasets(&self, ro: &Value) -> Vec<Value> {
        match self.try_replicasets(ro).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list ReplicaSets");
                Vec::new()
            }
        }
    }

    /// The ReplicaSets of the rollout's selector (undo.go `listReplicaSets` lists the same way).
    async fn try_replicasets(&self, ro: &Value) -> Result<Vec<Value>, ArgoError> {
        let selector = ro
            .pointer("/status/selector")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let labels = ro.pointer("/spec/selector/matchLabels")?.as_object()?;
                let parts: Vec<String> = labels
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(","))
            });
        let Some(selector) = selector else {
            return Ok(Vec::new());
        };
        let c = self.connection().await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), &c.namespace, &replicaset_resource());
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| ArgoError::Api {
                what: format!("cannot list ReplicaSets ({selector}) in {}", c.namespace),
                source,
            })?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|rs| serde_json::to_value(rs).ok())
            .collect())
    }

    /// The rollout's AnalysisRuns for its current canary, as `mapping::analysis_results` reads
    /// them. Only the canary's pod-template hash is listed (a label Argo sets on every run), then
    /// the owner is checked. Like the ReplicaSets, a failure (no RBAC, no AnalysisRun CRD: 404)
    /// only costs the analysis panel.
    async fn analysis(&self, ro: &Value) -> Vec<crate::domain::AnalysisResult> {
        let Some(hash) = ro
            .pointer("/status/currentPodHash")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
        else {
            return Vec::new();
        };
        let Ok(c) = self.connection().await else {
            return Vec::new();
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), &c.namespace, &analysis_run_resource());
        let selector = format!("{}={hash}", fields::POD_TEMPLATE_HASH);
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => {
                let runs: Vec<Value> = list
                    .items
                    .into_iter()
                    .filter_map(|run| serde_json::to_value(run).ok())
                    .filter(|run| mapping::owned_by(run, ro))
                    .collect();
                mapping::analysis_results(&runs, hash)
            }
            Err(e) => {
                tracing::warn!(%selector, error = %describe_error(&e), "cannot list AnalysisRuns");
                Vec::new()
            }
        }
    }

    /// The console's model of `ro`, with its versions (ReplicaSets) and analysis (AnalysisRuns),
    /// both listed at once.
    async fn model(&self, ro: &Value) -> Result<Rollout, ArgoError> {
        let (rs, analysis) = tokio::join!(self.replicasets(ro), self.analysis(ro));
        let mut rollout = mapping::to_rollout(ro, &rs, Utc::now()).map_err(ArgoError::Mapping)?;
        rollout.analysis = analysis;
        Ok(rollout)
    }

    /// Asks the API server (SelfSubjectAccessReview) whether this user may `patch` the rollout
    /// and its `status` subresource, and `list` ReplicaSets (undo reads the previous template
    /// there), and turns the answers into the actions to disable.
    pub async fn rbac(&self, name: &str) -> Result<Permissions, String> {
        let main = self
            .can("patch", "argoproj.io", "rollouts", None, Some(name))
            .await?;
        let status = self
            .can(
                "patch",
                "argoproj.io",
                "rollouts",
                Some("status"),
                Some(name),
            )
            .await?;
        let list_rs = self.can("list", "apps", "replicasets", None, None).await?;
        let ns = &self.connection().await?.namespace;
        let mut denied = Vec::new();
        if let Some(why) = main {
            let why = format!("no RBAC permission to patch rollouts in {ns}{why}");
            // Promote may need to unpause spec.paused too; undo patches the spec's template.
            for kind in [
                ActionKind::Pause,
                ActionKind::Resume,
                ActionKind::Promote,
                ActionKind::Undo,
            ] {
                denied.push((kind, why.clone()));
            }
        }
        if let Some(why) = status {
            let why = format!("no RBAC permission to patch rollouts/status in {ns}{why}");
            if !denied.iter().any(|(k, _)| *k == ActionKind::Promote) {
                denied.push((ActionKind::Promote, why.clone()));
            }
            for kind in [ActionKind::PromoteFull, ActionKind::Retry] {
                denied.push((kind, why.clone()));
            }
            denied.push((ActionKind::Rollback, why));
        }
        if let Some(why) = list_rs
            && !denied.iter().any(|(k, _)| *k == ActionKind::Undo)
        {
            denied.push((
                ActionKind::Undo,
                format!("no RBAC permission to list replicasets in {ns}{why}"),
            ));
        }
        Ok(Permissions { denied })
    }

    /// `None` when allowed, else the reason suffix (": <server's reason>" or empty).
    async fn can(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<String>, String> {
        let c = self.connection().await?;
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(c.namespace.clone()),
                    verb: Some(verb.into()),
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    subresource: subresource.map(str::to_string),
                    name: name.map(str::to_string),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(c.client.clone());
        let answer = api
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|e| format!("cannot check RBAC: {}", describe_error(&e)))?;
        let status = answer.status.unwrap_or_default();
        if status.allowed {
            return Ok(None);
        }
        let why = status
            .reason
            .or(status.evaluation_error)
            .filter(|r| !r.is_empty())
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        Ok(Some(why))
    }

    /// The watched object, while the watch is live and has confirmed it recently.
    fn cached(&self, name: &str) -> Option<Value> {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched
            .get(name)
            .filter(|c| c.confirmed.elapsed() < WATCH_SILENCE)
            .map(|c| c.object.clone())
    }

    fn remember(&self, name: &str, object: Option<Value>) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        match object {
            Some(object) => {
                watched.insert(
                    name.to_string(),
                    Cached {
                        object,
                        confirmed: Instant::now(),
                    },
                );
            }
            None => {
                watched.remove(name);
            }
        }
    }

    /// After our own patch: the API's answer is newer than the watch's copy until the watch
    /// delivers it, and the console re-reads at once.
    fn patched(&self, name: &str, object: &Value) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = watched.get_mut(name) {
            c.object = object.clone();
        }
    }

    /// A bookmark: the watch is alive and nothing changed.
    fn confirm(&self, name: &str) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = watched.get_mut(name) {
            c.confirmed = Instant::now();
        }
    }

    /// Watches one rollout until `changes` has no receiver: LIST (by name) for a resourceVersion,
    /// WATCH from it, bump the counter on every change; on 410 Gone, the end of the stream or an
    /// error, forget the cached object and start over with a LIST. Back-off: 1s, doubling to 30s,
    /// unless the last watch lasted (then 200ms: the server ends each one after a minute).
    async fn watch_loop(self, name: String, changes: watch::Sender<u64>) {
        // The resourceVersion of the object as last seen (`Some(None)`: absent), to tell whether
        // a re-list found a change the watch missed.
        let mut seen: Option<Option<String>> = None;
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                () = changes.closed() => break,
                outcome = self.watch_cycle(&name, &changes, &mut seen) => outcome,
            };
            // Between cycles a change may go unseen: `get` reads the API again.
            self.remember(&name, None);
            failures = if started.elapsed() >= WATCH_HEALTHY {
                0
            } else {
                failures.saturating_add(1)
            };
            let delay = match failures {
                0 => Duration::from_millis(200),
                n => Duration::from_secs(1u64 << (n - 1).min(5)).min(WATCH_BACKOFF_MAX),
            };
            match outcome {
                Ok(()) => tracing::debug!(rollout = %name, ?delay, "watch ended; re-listing"),
                Err(e) => {
                    tracing::warn!(rollout = %name, error = %e, ?delay, "watch failed; re-listing")
                }
            }
            tokio::select! {
                () = changes.closed() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.remember(&name, None);
        tracing::debug!(rollout = %name, "watch stopped: nobody listens");
    }

    /// One LIST and one WATCH. `Ok` when the server ended the watch, `Err` on anything else.
    async fn watch_cycle(
        &self,
        name: &str,
        changes: &watch::Sender<u64>,
        seen: &mut Option<Option<String>>,
    ) -> Result<(), String> {
        let bump = || changes.send_modify(|n| *n = n.wrapping_add(1));
        let c = self.connection().await?;
        let by_name = format!("metadata.name={name}");
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), &c.namespace, &rollout_resource());
        let list = api
            .list(&ListParams::default().fields(&by_name))
            .await
            .map_err(|e| format!("list: {}", describe_error(&e)))?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let object = list
            .items
            .into_iter()
            .find(|o| o.metadata.name.as_deref() == Some(name));
        let now_seen = object
            .as_ref()
            .map(|o| o.metadata.resource_version.clone().unwrap_or_default());
        if seen.is_some() && *seen != Some(now_seen.clone()) {
            bump();
        }
        *seen = Some(now_seen);
        self.remember(name, object.and_then(|o| serde_json::to_value(o).ok()));

        let api: Api<DynamicObject> =
            Api::namespaced_with(c.watch_client.clone(), &c.namespace, &rollout_resource());
        let params = WatchParams::default()
            .fields(&by_name)
            .timeout(WATCH_TIMEOUT_SECS);
        let mut events = Box::pin(
            api.watch(&params, &version)
                .await
                .map_err(|e| format!("watch: {}", describe_error(&e)))?,
        );
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    *seen = Some(Some(
                        o.metadata.resource_version.clone().unwrap_or_default(),
                    ));
                    self.remember(name, serde_json::to_value(o).ok());
                    bump();
                }
                Ok(WatchEvent::Deleted(_)) => {
                    *seen = Some(None);
                    self.remember(name, None);
                    bump();
                }
                Ok(WatchEvent::Bookmark(_)) => self.confirm(name),
                // 410 Gone (the version is too old) and the like: start over from a LIST.
                Ok(WatchEvent::Error(s)) => {
                    return Err(format!("the watch answered {}: {}", s.code, s.message));
                }
                Err(e) => return Err(format!("watch: {}", describe_error(&e))),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl RolloutReader for ArgoReader {
    fn describe(&self) -> String {
        let ns = self
            .settings
            .namespace
            .as_deref()
            .unwrap_or("(context default)");
        match &self.settings.context {
            Some(ctx) => format!("Argo Rollouts in namespace {ns}, context {ctx}"),
            None => format!("Argo Rollouts in namespace {ns}"),
        }
    }

    fn actions(&self) -> Vec<ActionKind> {
        ActionKind::ALL.to_vec()
    }

    async fn list(&self) -> Result<Vec<String>, String> {
        let (api, ns) = self.rollouts().await?;
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|source| ArgoError::Api {
                what: format!("rollouts in {ns}"),
                source,
            })?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect())
    }

    async fn get(&self, name: &str) -> Result<Rollout, String> {
        let ro = match self.cached(name) {
            Some(ro) => ro,
            None => self.object(name).await?,
        };
        Ok(self.model(&ro).await?)
    }

    /// A task that watches the rollout (see `watch_loop`) until the receiver is dropped.
    fn watch(&self, name: &str) -> Option<watch::Receiver<u64>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (changes, receiver) = watch::channel(0);
        runtime.spawn(self.clone().watch_loop(name.to_string(), changes));
        Some(receiver)
    }

    /// Asked once at start: keys the user's RBAC forbids show disabled with the reason.
    async fn permissions(&self, name: &str) -> Result<Permissions, String> {
        self.rbac(name).await
    }
}

/// Read and control: only built when the console is not read-only.
#[derive(Debug, Clone)]
pub struct ArgoController {
    reader: ArgoReader,
}

impl ArgoController {
    /// The API's answer to our patch, as the console's model; the watch's copy is updated too.
    async fn answer(&self, name: &str, patched: DynamicObject) -> Result<Rollout, ActionError> {
        let value = serde_json::to_value(patched)
            .map_err(|e| ActionError::Unknown(format!("the patched rollout: {e}")))?;
        self.reader.patched(name, &value);
        self.reader
            .model(&value)
            .await
            .map_err(|e| ActionError::Unknown(e.to_string()))
    }

    pub fn new(reader: ArgoReader) -> Self {
        Self { reader }
    }

    /// The patches for `kind`, or why there is nothing sensible to send.
    fn plan(kind: ActionKind, ro: &Value) -> Result<patch::PatchPlan, String> {
        let flag = |p: &str| ro.pointer(p).and_then(Value::as_bool).unwrap_or(false);
        let plan = match kind {
            ActionKind::Pause if flag("/spec/paused") => {
                return Err("the rollout is already paused".into());
            }
            ActionKind::Pause => patch::pause(),
            // resume only clears spec.paused: a step's pause gate would stay, silently.
            ActionKind::Resume if !flag("/spec/paused") => {
                return Err(
                    "the rollout was not paused by a user; if it waits at a pause step, promote it"
                        .into(),
                );
            }
            ActionKind::Resume => patch::resume(),
            ActionKind::Promote => patch::promote(ro),
            ActionKind::PromoteFull => patch::promote_full(ro),
            ActionKind::Rollback if flag("/status/abort") => {
                return Err("the rollout is already aborted".into());
            }
            ActionKind::Rollback => patch::abort(),
            ActionKind::Retry if !flag("/status/abort") => {
                return Err("the rollout is not aborted; there is nothing to retry".into());
            }
            ActionKind::Retry => patch::retry(),
            // A JSON patch planned from the ReplicaSets: see `undo`.
            ActionKind::Undo => return Err("undo is planned from the ReplicaSets".into()),
        };
        if plan.is_empty() {
            return Err("there is nothing to promote".into());
        }
        Ok(plan)
    }

    /// undo.go: the previous revision's pod template from the ReplicaSets, sent as one JSON
    /// patch (RFC 6902) to the main resource. Nothing is sent when the ReplicaSets cannot be
    /// listed: without them there is no revision to go back to.
    async fn undo(&self, name: &str, ro: &Value) -> Result<Rollout, ActionError> {
        let replicasets = self
            .reader
            .try_replicasets(ro)
            .await
            .map_err(|e| ActionError::Rejected(format!("{e}; nothing was sent")))?;
        let plan = patch::undo(ro, &replicasets, 0).map_err(ActionError::Rejected)?;
        tracing::info!(rollout = %name, revision = plan.revision, replicaset = %plan.replicaset, "undo");
        let c = self
            .reader
            .connection()
            .await
            .map_err(|e| ActionError::Rejected(e.to_string()))?;
        let what = format!(
            "patch {}/{name} (undo to revision {})",
            c.namespace, plan.revision
        );
        // kube's `Patch::Json` needs its `jsonpatch` feature (and the json-patch crate); the
        // request is built as a merge patch of the same bytes and only the content type changed.
        let url = DynamicObject::url_path(&rollout_resource(), Some(&c.namespace));
        let mut request = kube::core::Request::new(url)
            .patch(name, &PatchParams::default(), &Patch::Merge(&plan.body))
            .map_err(|e| ActionError::Rejected(format!("{what}: {e}")))?;
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(patch::JSON_PATCH),
        );
        let patched: DynamicObject = c
            .client
            .request(request)
            .await
            .map_err(|e| action_error(&e, false, &what))?;
        self.answer(name, patched).await
    }
}

super::read_through_reader!(ArgoController);

fn action_error(e: &kube::Error, applied_before: bool, what: &str) -> ActionError {
    let text = format!("{what}: {}", describe_error(e));
    match e {
        kube::Error::Api(s) if s.code == 409 && !applied_before => ActionError::Conflict {
            current_step: None,
            message: text,
        },
        kube::Error::Api(s) if (400..500).contains(&s.code) && !applied_before => {
            ActionError::Rejected(text)
        }
        _ if applied_before => ActionError::Unknown(format!(
            "{text} (an earlier patch of this action was applied)"
        )),
        _ => ActionError::Unknown(text),
    }
}

#[async_trait]
impl RolloutController for ArgoController {
    async fn act(&self, req: &ActionRequest) -> Result<Rollout, ActionError> {
        req.check_step_given()?;
        let name = req.rollout.as_str();
        let ro = self
            .reader
            .object(name)
            .await
            .map_err(|e| ActionError::Rejected(format!("{e}; nothing was sent")))?;
        // The step exactly as `get` showed it (a completed rollout sits on the last step).
        let seen = mapping::to_rollout(&ro, &[], Utc::now()).map_err(ActionError::Rejected)?;
        let current = seen.step;
        // No expected step: a rollback sent while the state could not be read (abort is
        // idempotent, and the safe direction).
        if req
            .expected_step
            .is_some_and(|expected| expected != current)
        {
            return Err(ActionError::Conflict {
                current_step: Some(current),
                message: format!(
                    "now at step {} (Argo step index {})",
                    current + 1,
                    fields::current_step_index(&ro)
                ),
            });
        }
        if seen.state == crate::domain::RolloutState::Completed && req.kind != ActionKind::Undo {
            // Fully promoted: every action would be a no-op patch (or an abort of nothing).
            return Err(ActionError::Rejected(
                "the rollout is completed; there is nothing to do".into(),
            ));
        }
        if req.kind == ActionKind::Undo {
            return self.undo(name, &ro).await;
        }
        let plan = Self::plan(req.kind, &ro).map_err(ActionError::Rejected)?;
        let (api, ns) = self
            .reader
            .rollouts()
            .await
            .map_err(|e| ActionError::Rejected(e.to_string()))?;
        let params = PatchParams::default();
        let mut spec = plan.spec;
        let mut last = None;
        if let Some(body) = &plan.status {
            match api.patch_status(name, &params, &Patch::Merge(body)).await {
                Ok(o) => last = Some(o),
                // promote --full has no fallback in the plugin: say why nothing happened.
                Err(e) if is_not_found(&e) && plan.unified.is_none() => {
                    return Err(ActionError::Rejected(format!(
                        "patch {ns}/{name}/status: not found; this controller has no status \
                         subresource, which {} needs (as in kubectl argo rollouts); nothing \
                         was changed",
                        req.kind.verb()
                    )));
                }
                // No status subresource (a v0.9 controller): spec and status go in one patch.
                Err(e) if is_not_found(&e) => spec = plan.unified,
                Err(e) => {
                    return Err(action_error(
                        &e,
                        false,
                        &format!("patch {ns}/{name}/status"),
                    ));
                }
            }
        }
        if let Some(body) = &spec {
            match api.patch(name, &params, &Patch::Merge(body)).await {
                Ok(o) => last = Some(o),
                Err(e) => {
                    return Err(action_error(
                        &e,
                        last.is_some(),
                        &format!("patch {ns}/{name}"),
                    ));
                }
            }
        }
        let Some(patched) = last else {
            return Err(ActionError::Rejected("there was nothing to send".into()));
        };
        self.answer(name, patched).await
    }
}
