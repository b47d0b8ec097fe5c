//! The reader: the kube client built from the kubeconfig and context (on first use), which
//! namespaces are in play (the scope), the names of rollouts in them, and the reads of a Rollout
//! with its ReplicaSets and AnalysisRuns (from the watch's cache, `cache.rs`, when it is live).
//!
//! Names: with one namespace in play (`namespaces = ["a"]`, the old `namespace = "a"`, or the
//! context's namespace when it may not list cluster-wide) a rollout is its bare name, as before.
//! With several (`namespaces = ["a", "b"]`, or cluster-wide) `list` returns `namespace/name`.
//! `get`, `watch`, `permissions` and the actions take either form: `namespace/name` always, and a
//! bare name means the home namespace (the first configured one, else the context's), as in kubectl.

use async_trait::async_trait;
use chrono::Utc;
use kube::api::{DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, watch};

use super::cache::Cache;
use super::watch::{WATCH_SILENCE, Watchers};
use super::{
    ArgoError, ArgoSettings, analysis_run_resource, describe_error, fields, is_forbidden, mapping,
    replicaset_resource, rollout_resource,
};
use crate::backend::{ReadError, RolloutReader};
use crate::domain::Rollout;
use crate::domain::action::{ActionKind, Permissions};

#[derive(Clone)]
pub(super) struct Connection {
    pub(super) client: Client,
    /// The same cluster and credentials without the per-read timeout: a quiet watch is not a
    /// dead one (the server ends it after `WATCH_TIMEOUT_SECS`; this catches a silent drop).
    pub(super) watch_client: Client,
    /// Where a bare name lives: the first configured namespace, else the context's.
    pub(super) home: String,
}

/// Which namespaces `list` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// One namespace: names are bare.
    One(String),
    /// The configured namespaces, in order: names are `namespace/name`.
    Several(Vec<String>),
    /// Nothing configured and the context may list rollouts cluster-wide: `namespace/name`.
    All,
}

/// Read side. The client is built on first use: loading a kubeconfig may run an exec credential
/// plugin (async), and the console is assembled before its runtime does any I/O.
#[derive(Clone)]
pub struct ArgoReader {
    pub(super) settings: ArgoSettings,
    connection: Arc<OnceCell<Connection>>,
    /// Decided at the first `list` (cluster-wide needs an RBAC check).
    scope: Arc<OnceCell<Scope>>,
    /// Rollouts under a live watch, by namespace: `get` and `list` read these instead of the API.
    pub(super) cache: Arc<Mutex<Cache>>,
    /// One LIST + WATCH per namespace, shared by every `watch(name)` in it.
    pub(super) watchers: Arc<Mutex<Watchers>>,
}

impl std::fmt::Debug for ArgoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Settings hold paths and names only; credentials stay inside kube's client.
        f.debug_struct("ArgoReader")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The object's own namespace, else the home one.
fn namespace_of<'a>(ro: &'a Value, c: &'a Connection) -> &'a str {
    fields::str_at(ro, "/metadata/namespace").unwrap_or(&c.home)
}

/// What `ArgoReader::listing` found.
#[derive(Debug, Default)]
pub struct Listing {
    /// As `list` names them (see the module comment), namespace by namespace, sorted.
    pub names: Vec<String>,
    /// The namespaces that could not be listed (`ArgoError::Forbidden` for RBAC).
    pub denied: Vec<ArgoError>,
}

impl ArgoReader {
    pub fn new(settings: ArgoSettings) -> Self {
        Self {
            settings,
            connection: Arc::new(OnceCell::new()),
            scope: Arc::new(OnceCell::new()),
            cache: Arc::new(Mutex::new(Cache::default())),
            watchers: Arc::new(Mutex::new(HashMap::new())),
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
        let home = settings
            .namespaces
            .first()
            .cloned()
            .unwrap_or_else(|| config.default_namespace.clone());
        let mut watch_config = config.clone();
        watch_config.read_timeout = Some(WATCH_SILENCE);
        let client = Client::try_from(config).map_err(ArgoError::Client)?;
        let watch_client = Client::try_from(watch_config).map_err(ArgoError::Client)?;
        Ok(Connection {
            client,
            watch_client,
            home,
        })
    }

    pub(super) async fn connection(&self) -> Result<&Connection, ArgoError> {
        self.connection
            .get_or_try_init(|| Self::connect(&self.settings))
            .await
    }

    /// `namespace/name` or a bare name (in the home namespace) as (namespace, name).
    pub(super) async fn locate(&self, name: &str) -> Result<(String, String), ArgoError> {
        match name.split_once('/') {
            Some((ns, name)) => Ok((ns.to_string(), name.to_string())),
            None => Ok((self.connection().await?.home.clone(), name.to_string())),
        }
    }

    /// The Rollouts of one namespace.
    pub(super) async fn rollouts(&self, namespace: &str) -> Result<Api<DynamicObject>, ArgoError> {
        let c = self.connection().await?;
        Ok(Api::namespaced_with(
            c.client.clone(),
            namespace,
            &rollout_resource(),
        ))
    }

    /// Which namespaces `list` covers (see the module comment). Asked once: with nothing
    /// configured, one SelfSubjectAccessReview says whether the context may list cluster-wide.
    pub(super) async fn scope(&self) -> Result<&Scope, ArgoError> {
        self.scope
            .get_or_try_init(|| async {
                Ok(match self.settings.namespaces.as_slice() {
                    [one] => Scope::One(one.clone()),
                    [] => {
                        let everywhere = self
                            .can(None, "list", "argoproj.io", "rollouts", None, None)
                            .await;
                        match everywhere {
                            Ok(None) => Scope::All,
                            Ok(Some(_)) => Scope::One(self.connection().await?.home.clone()),
                            Err(e) => {
                                tracing::debug!(error = %e, "cluster-wide RBAC check failed");
                                Scope::One(self.connection().await?.home.clone())
                            }
                        }
                    }
                    several => Scope::Several(several.to_vec()),
                })
            })
            .await
    }

    /// The name `list` shows for `namespace`'s `name` under `scope`.
    fn shown(scope: &Scope, namespace: &str, name: &str) -> String {
        match scope {
            Scope::One(_) => name.to_string(),
            Scope::Several(_) | Scope::All => format!("{namespace}/{name}"),
        }
    }

    /// Every Rollout in scope that matches the selector, as `list` names them, and the
    /// namespaces that could not be listed (each error names the namespace and the verb). A
    /// namespace under a live watch is answered from the cache, without a request.
    pub async fn listing(&self) -> Result<Listing, ArgoError> {
        let scope = self.scope().await?.clone();
        let c = self.connection().await?;
        let mut params = ListParams::default();
        if let Some(selector) = &self.settings.selector {
            params = params.labels(selector);
        }
        let namespaces = match &scope {
            Scope::One(ns) => vec![ns.clone()],
            Scope::Several(all) => all.clone(),
            Scope::All => {
                let api: Api<DynamicObject> = Api::all_with(c.client.clone(), &rollout_resource());
                let list = api.list(&params).await.map_err(|source| ArgoError::Api {
                    what: "rollouts in all namespaces".into(),
                    source,
                })?;
                let mut names: Vec<String> = list
                    .items
                    .into_iter()
                    .filter_map(|o| {
                        Some(Self::shown(
                            &scope,
                            &o.metadata.namespace?,
                            &o.metadata.name?,
                        ))
                    })
                    .collect();
                names.sort();
                return Ok(Listing {
                    names,
                    denied: Vec::new(),
                });
            }
        };
        let params = &params;
        let lists = futures::future::join_all(namespaces.iter().map(|ns| async move {
            if let Some(names) = self.cached_names(ns) {
                return Ok(names);
            }
            let api = self.rollouts(ns).await?;
            match api.list(params).await {
                Ok(list) => Ok(list
                    .items
                    .into_iter()
                    .filter_map(|o| o.metadata.name)
                    .collect()),
                Err(source) if is_forbidden(&source) => Err(ArgoError::Forbidden {
                    verb: "list",
                    namespace: ns.clone(),
                    source,
                }),
                Err(source) => Err(ArgoError::Api {
                    what: format!("rollouts in {ns}"),
                    source,
                }),
            }
        }))
        .await;
        let mut listing = Listing::default();
        for (ns, list) in namespaces.iter().zip(lists) {
            match list {
                Ok(mut names) => {
                    names.sort();
                    listing
                        .names
                        .extend(names.iter().map(|n| Self::shown(&scope, ns, n)));
                }
                Err(e) => listing.denied.push(e),
            }
        }
        Ok(listing)
    }

    /// The Rollout object as the API returns it (`name` in either form).
    pub async fn object(&self, name: &str) -> Result<Value, ArgoError> {
        let (ns, name) = self.locate(name).await?;
        let name = name.as_str();
        let api = self.rollouts(&ns).await?;
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
        let ns = namespace_of(ro, c);
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), ns, &replicaset_resource());
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| ArgoError::Api {
                what: format!("cannot list ReplicaSets ({selector}) in {ns}"),
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
        let api: Api<DynamicObject> = Api::namespaced_with(
            c.client.clone(),
            namespace_of(ro, c),
            &analysis_run_resource(),
        );
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
}

#[async_trait]
impl RolloutReader for ArgoReader {
    fn describe(&self) -> String {
        let mut words = match self.settings.namespaces.as_slice() {
            [] => "Argo Rollouts in the context's namespaces".to_string(),
            [ns] => format!("Argo Rollouts in namespace {ns}"),
            all => format!("Argo Rollouts in namespaces {}", all.join(", ")),
        };
        if let Some(selector) = &self.settings.selector {
            words.push_str(&format!(" ({selector})"));
        }
        if let Some(ctx) = &self.settings.context {
            words.push_str(&format!(", context {ctx}"));
        }
        words
    }

    fn actions(&self) -> Vec<ActionKind> {
        ActionKind::ALL.to_vec()
    }

    /// A namespace that cannot be listed is logged and left out; only when none can is it an
    /// error (all the reasons).
    async fn list(&self) -> Result<Vec<String>, ReadError> {
        let listing = self.listing().await?;
        for e in &listing.denied {
            tracing::warn!(error = %e, "namespace left out of the list");
        }
        if listing.names.is_empty() && !listing.denied.is_empty() {
            return Err(ArgoError::AllDenied(listing.denied).into());
        }
        Ok(listing.names)
    }

    async fn get(&self, name: &str) -> Result<Rollout, ReadError> {
        let (ns, bare) = self.locate(name).await?;
        let ro = match self.cached(&ns, &bare) {
            Some(ro) => ro,
            None => self.object(name).await?,
        };
        Ok(self.model(&ro).await?)
    }

    /// Joins (or starts) the watch of the rollout's namespace (see `watch.rs`) until the
    /// receiver is dropped: N rollouts in M namespaces are M watches.
    fn watch(&self, name: &str) -> Option<watch::Receiver<u64>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (changes, receiver) = watch::channel(0);
        runtime.spawn(self.clone().follow(name.to_string(), changes));
        Some(receiver)
    }

    /// Asked once at start: keys the user's RBAC forbids show disabled with the reason.
    async fn permissions(&self, name: &str) -> Result<Permissions, ReadError> {
        Ok(self.rbac(name).await?)
    }
}
