//! The controller: the actions of `kubectl argo rollouts`, planned by `patch.rs` and sent as
//! merge patches (undo: one JSON patch) to the Rollout and its status subresource.

use async_trait::async_trait;
use chrono::Utc;
use kube::Resource;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::{ArgoReader, describe_error, fields, is_not_found, mapping, patch, rollout_resource};
use crate::backend::{ActionError, ActionRequest, RolloutController};
use crate::domain::Rollout;
use crate::domain::action::ActionKind;

/// Read and control: only built when the console is not read-only.
#[derive(Debug, Clone)]
pub struct ArgoController {
    reader: ArgoReader,
}

impl ArgoController {
    /// The API's answer to our patch, as the console's model; the watch's copy is updated too.
    async fn answer(
        &self,
        ns: &str,
        name: &str,
        patched: DynamicObject,
    ) -> Result<Rollout, ActionError> {
        let value = serde_json::to_value(patched)
            .map_err(|e| ActionError::Unknown(format!("the patched rollout: {e}")))?;
        self.reader.patched(ns, name, &value);
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
    async fn undo(&self, ns: &str, name: &str, ro: &Value) -> Result<Rollout, ActionError> {
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
        let what = format!("patch {ns}/{name} (undo to revision {})", plan.revision);
        // kube's `Patch::Json` needs its `jsonpatch` feature (and the json-patch crate); the
        // request is built as a merge patch of the same bytes and only the content type changed.
        let url = DynamicObject::url_path(&rollout_resource(), Some(ns));
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
        self.answer(ns, name, patched).await
    }
}

crate::backend::read_through_reader!(ArgoController);

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
        let (ns, name) = self
            .reader
            .locate(&req.rollout)
            .await
            .map_err(|e| ActionError::Rejected(format!("{e}; nothing was sent")))?;
        let (ns, name) = (ns.as_str(), name.as_str());
        let ro = self
            .reader
            .object(&req.rollout)
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
            return self.undo(ns, name, &ro).await;
        }
        let plan = Self::plan(req.kind, &ro).map_err(ActionError::Rejected)?;
        let api = self
            .reader
            .rollouts(ns)
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
        self.answer(ns, name, patched).await
    }
}
