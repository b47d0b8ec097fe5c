//! `kind = "argo"`: Argo Rollouts through the Kubernetes API, with kubectl's credentials.
//! The reader only ever GETs, LISTs and WATCHes (plus the RBAC self-check); the controller, built
//! only in read-write mode, adds the patches of `kubectl argo rollouts` (see `patch.rs`).
//!
//! One job per file: `client` (the kube client from the kubeconfig and context, the namespaces
//! in play, the names, the reads), `cache` (the Rollouts a live watch keeps, by namespace),
//! `rbac` (the SelfSubjectAccessReview checks, per namespace), `watch` (one LIST + WATCH per
//! namespace keeping the cache live), `controller` (the actions, through `patch`), `selector`
//! (the label selector's syntax); `mapping` and `fields` turn Argo's JSON into the console's
//! model. This file is the public face: the settings, the error type and the re-exports (and
//! the API resource names the files share).
//!
//! Requests per poll, N rollouts in M namespaces, each followed through `watch(name)`: M open
//! watches (each re-listed about once a minute), no LIST or GET of a Rollout (`list` and `get`
//! answer from the cache), and per `get` one LIST of ReplicaSets and one of AnalysisRuns. Only
//! cluster-wide (no namespace configured) is `list` one LIST of every namespace each time; and a
//! rollout outside the selector is read with a GET, as it is not in its namespace's watch.

mod build;
mod cache;
mod client;
mod controller;
pub mod fields;
pub mod mapping;
pub mod patch;
mod rbac;
mod selector;
mod watch;

use kube::api::{ApiResource, GroupVersionKind};
use std::path::PathBuf;
use std::time::Duration;

pub use self::build::build;
pub use self::client::{ArgoReader, Listing};
pub use self::controller::ArgoController;
pub use self::selector::validate as validate_selector;

/// Where the cluster is: like kubectl, `KUBECONFIG` or `~/.kube/config` (or in-cluster) unless a
/// file is given; the kubeconfig's current context unless `context` is set.
#[derive(Debug, Clone, Default)]
pub struct ArgoSettings {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The namespaces whose Rollouts `list` shows. Empty: every namespace when the context may
    /// list rollouts cluster-wide, else the context's namespace (then `default`). The first one
    /// is where a bare name lives.
    pub namespaces: Vec<String>,
    /// A Kubernetes label selector (`app=shop,tier!=batch`) the listed Rollouts must match.
    pub selector: Option<String>,
    pub timeout: Option<Duration>,
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
    /// RBAC forbids `verb` on rollouts in `namespace`; the other namespaces still work.
    #[error("no RBAC permission to {verb} rollouts in namespace {namespace}: {}", describe_error(.source))]
    Forbidden {
        verb: &'static str,
        namespace: String,
        source: kube::Error,
    },
    /// An object the console cannot show as a rollout (`mapping`'s words).
    #[error("{0}")]
    Mapping(String),
    /// The RBAC self-check (a SelfSubjectAccessReview) itself failed.
    #[error("cannot check RBAC: {}", describe_error(.0))]
    RbacCheck(#[source] kube::Error),
    /// No namespace could be listed: every namespace's reason.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    AllDenied(Vec<ArgoError>),
}

/// Words, where the watch path (which only logs them) carries them.
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

/// The API's names for what is read and patched here, and the answers that change the course.
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

fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}
