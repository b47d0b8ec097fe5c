//! The reader: the kube client built from the kubeconfig and context (on first use), the reads
//! of a Rollout with its ReplicaSets and AnalysisRuns, and the cache of Rollout objects a live
//! watch keeps (`watch.rs`), which `get` answers from.

use async_trait::async_trait;
use chrono::Utc;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::{OnceCell, watch};

use super::watch::WATCH_SILENCE;
use super::{ArgoError, ArgoSettings, describe_error, fields, mapping};
use crate::backend::RolloutReader;
use crate::domain::Rollout;
use crate::domain::action::{ActionKind, Permissions};

#[derive(Clone)]
pub(super) struct Connection {
    pub(super) client: Client,
    /// The same cluster and credentials without the per-read timeout: a quiet watch is not a
    /// dead one (the server ends it after `WATCH_TIMEOUT_SECS`; this catches a silent drop).
    pub(super) watch_client: Client,
    pub(super) namespace: String,
}

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

pub(super) fn rollout_resource() -> ApiResource {
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

pub(super) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
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

    pub(super) async fn connection(&self) -> Result<&Connection, ArgoError> {
        self.connection
            .get_or_try_init(|| Self::connect(&self.settings))
            .await
    }

    pub(super) async fn rollouts(&self) -> Result<(Api<DynamicObject>, String), ArgoError> {
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
    pub(super) async fn replicasets(&self, ro: &Value) -> Vec<Value> {
        match self.try_replicasets(ro).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list ReplicaSets");
                Vec::new()
            }
        }
    }

    /// The ReplicaSets of the rollout's selector (undo.go `listReplicaSets` lists the same way).
    pub(super) async fn try_replicasets(&self, ro: &Value) -> Result<Vec<Value>, ArgoError> {
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
    pub(super) async fn analysis(&self, ro: &Value) -> Vec<crate::domain::AnalysisResult> {
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
    pub(super) async fn model(&self, ro: &Value) -> Result<Rollout, ArgoError> {
        let (rs, analysis) = tokio::join!(self.replicasets(ro), self.analysis(ro));
        let mut rollout = mapping::to_rollout(ro, &rs, Utc::now()).map_err(ArgoError::Mapping)?;
        rollout.analysis = analysis;
        Ok(rollout)
    }

    /// The watched object, while the watch is live and has confirmed it recently.
    pub(super) fn cached(&self, name: &str) -> Option<Value> {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched
            .get(name)
            .filter(|c| c.confirmed.elapsed() < WATCH_SILENCE)
            .map(|c| c.object.clone())
    }

    pub(super) fn remember(&self, name: &str, object: Option<Value>) {
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
    pub(super) fn patched(&self, name: &str, object: &Value) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = watched.get_mut(name) {
            c.object = object.clone();
        }
    }

    /// A bookmark: the watch is alive and nothing changed.
    pub(super) fn confirm(&self, name: &str) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = watched.get_mut(name) {
            c.confirmed = Instant::now();
        }
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
