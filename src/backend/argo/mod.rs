//! `kind = "argo"`: Argo Rollouts through the Kubernetes API, with kubectl's credentials.
//! The reader only ever GETs and LISTs (plus the RBAC self-check); the controller, built only in
//! read-write mode, adds the merge patches of `kubectl argo rollouts` (see `patch.rs`).

pub mod mapping;
pub mod patch;

use async_trait::async_trait;
use chrono::Utc;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

use super::{
    ActionError, ActionKind, ActionRequest, Permissions, RolloutController, RolloutReader,
};
use crate::domain::Rollout;

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
    namespace: String,
}

/// Read side. The client is built on first use: loading a kubeconfig may run an exec credential
/// plugin (async), and the console is assembled before its runtime does any I/O.
#[derive(Clone)]
pub struct ArgoReader {
    settings: ArgoSettings,
    connection: Arc<OnceCell<Connection>>,
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

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
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
        }
    }

    async fn connect(settings: &ArgoSettings) -> Result<Connection, String> {
        let options = KubeConfigOptions {
            context: settings.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = match (&settings.kubeconfig, &settings.context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
            }
            // A named context only makes sense in a kubeconfig: no in-cluster fallback.
            (None, Some(context)) => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| format!("kubeconfig context {context:?}: {e}"))?,
            (None, None) => Config::infer()
                .await
                .map_err(|e| format!("no kubeconfig and not in a cluster: {e}"))?,
        };
        if let Some(timeout) = settings.timeout {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
        }
        let namespace = settings
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot build the Kubernetes client: {e}"))?;
        Ok(Connection { client, namespace })
    }

    async fn connection(&self) -> Result<&Connection, String> {
        self.connection
            .get_or_try_init(|| Self::connect(&self.settings))
            .await
    }

    async fn rollouts(&self) -> Result<(Api<DynamicObject>, String), String> {
        let c = self.connection().await?;
        let api = Api::namespaced_with(c.client.clone(), &c.namespace, &rollout_resource());
        Ok((api, c.namespace.clone()))
    }

    /// The Rollout object as the API returns it.
    pub async fn object(&self, name: &str) -> Result<Value, String> {
        let (api, ns) = self.rollouts().await?;
        let obj = api
            .get(name)
            .await
            .map_err(|e| format!("rollout {ns}/{name}: {}", describe_error(&e)))?;
        serde_json::to_value(obj).map_err(|e| format!("rollout {ns}/{name}: {e}"))
    }

    /// The ReplicaSets of the rollout's selector, for the versions. A failure (e.g. no RBAC to list
    /// ReplicaSets) only costs the version names, so it is logged, not returned.
    async fn replicasets(&self, ro: &Value) -> Vec<Value> {
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
            return Vec::new();
        };
        let Ok(c) = self.connection().await else {
            return Vec::new();
        };
        let api: Api<ReplicaSet> = Api::namespaced(c.client.clone(), &c.namespace);
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list
                .items
                .into_iter()
                .filter_map(|rs| serde_json::to_value(rs).ok())
                .collect(),
            Err(e) => {
                tracing::warn!(%selector, error = %describe_error(&e), "cannot list ReplicaSets");
                Vec::new()
            }
        }
    }

    /// Asks the API server (SelfSubjectAccessReview) whether this user may `patch` the rollout
    /// and its `status` subresource, and turns the answers into the actions to disable.
    pub async fn rbac(&self, name: &str) -> Result<Permissions, String> {
        let main = self.can_patch(name, None).await?;
        let status = self.can_patch(name, Some("status")).await?;
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
        Ok(Permissions { denied })
    }

    /// `None` when allowed, else the reason suffix (": <server's reason>" or empty).
    async fn can_patch(
        &self,
        name: &str,
        subresource: Option<&str>,
    ) -> Result<Option<String>, String> {
        let c = self.connection().await?;
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(c.namespace.clone()),
                    verb: Some("patch".into()),
                    group: Some("argoproj.io".into()),
                    resource: Some("rollouts".into()),
                    subresource: subresource.map(str::to_string),
                    name: Some(name.to_string()),
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
        vec![
            ActionKind::Promote,
            ActionKind::PromoteFull,
            ActionKind::Pause,
            ActionKind::Resume,
            ActionKind::Rollback,
            ActionKind::Retry,
            ActionKind::Undo,
        ]
    }

    async fn list(&self) -> Result<Vec<String>, String> {
        let (api, ns) = self.rollouts().await?;
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("rollouts in {ns}: {}", describe_error(&e)))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect())
    }

    async fn get(&self, name: &str) -> Result<Rollout, String> {
        let ro = self.object(name).await?;
        let rs = self.replicasets(&ro).await;
        mapping::to_rollout(&ro, &rs, Utc::now())
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
            // TODO(helper): undo.go — a JSON patch of /spec/template from the previous revision.
            ActionKind::Undo => return Err("undo is not available yet".into()),
        };
        if plan.is_empty() {
            return Err("there is nothing to promote".into());
        }
        Ok(plan)
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
        let name = req.rollout.as_str();
        let ro = self
            .reader
            .object(name)
            .await
            .map_err(|e| ActionError::Rejected(format!("{e}; nothing was sent")))?;
        // The step exactly as `get` showed it (a completed rollout sits on the last step).
        let seen = mapping::to_rollout(&ro, &[], Utc::now()).map_err(ActionError::Rejected)?;
        let current = seen.step;
        if current != req.expected_step {
            return Err(ActionError::Conflict {
                current_step: Some(current),
                message: format!(
                    "now at step {} (Argo step index {})",
                    current + 1,
                    mapping::current_step_index(&ro)
                ),
            });
        }
        if seen.state == crate::domain::RolloutState::Completed && req.kind != ActionKind::Undo {
            // Fully promoted: every action would be a no-op patch (or an abort of nothing).
            return Err(ActionError::Rejected(
                "the rollout is completed; there is nothing to do".into(),
            ));
        }
        let plan = Self::plan(req.kind, &ro).map_err(ActionError::Rejected)?;
        let replicasets = self.reader.replicasets(&ro).await;
        let (api, ns) = self
            .reader
            .rollouts()
            .await
            .map_err(ActionError::Rejected)?;
        let params = PatchParams::default();
        let mut spec = plan.spec;
        let mut last = None;
        if let Some(body) = &plan.status {
            match api.patch_status(name, &params, &Patch::Merge(body)).await {
                Ok(o) => last = Some(o),
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
        let value = serde_json::to_value(patched)
            .map_err(|e| ActionError::Unknown(format!("the patched rollout: {e}")))?;
        mapping::to_rollout(&value, &replicasets, Utc::now()).map_err(ActionError::Unknown)
    }
}
