//! RBAC: the SelfSubjectAccessReviews asked once at start, turned into the actions to disable
//! with the reason (the namespace and the verb the user lacks).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;

use super::{ArgoError, ArgoReader};
use crate::domain::action::{ActionKind, Permissions};

impl ArgoReader {
    /// Asks the API server (SelfSubjectAccessReview) whether this user may `patch` the rollout
    /// and its `status` subresource, and `list` ReplicaSets (undo reads the previous template
    /// there), and turns the answers into the actions to disable.
    /// Asked in the rollout's own namespace (`namespace/name` or the home one).
    pub async fn rbac(&self, name: &str) -> Result<Permissions, ArgoError> {
        let (ns, name) = self.locate(name).await?;
        let (ns, name) = (&ns, name.as_str());
        let main = self
            .can(
                Some(ns),
                "patch",
                "argoproj.io",
                "rollouts",
                None,
                Some(name),
            )
            .await?;
        let status = self
            .can(
                Some(ns),
                "patch",
                "argoproj.io",
                "rollouts",
                Some("status"),
                Some(name),
            )
            .await?;
        let list_rs = self
            .can(Some(ns), "list", "apps", "replicasets", None, None)
            .await?;
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
    /// `namespace: None` asks about every namespace (cluster-wide).
    pub(super) async fn can(
        &self,
        namespace: Option<&str>,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<String>, ArgoError> {
        let c = self.connection().await?;
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: namespace.map(str::to_string),
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
            .map_err(ArgoError::RbacCheck)?;
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
