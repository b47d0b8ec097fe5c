//! Which version each side runs, in words: a ReplicaSet's image tags (or short digests) by pod
//! template hash, and what `undo` would put back. Pure.

use serde_json::Value;

use crate::backend::argo::fields::{POD_TEMPLATE_HASH, str_at};
use crate::backend::argo::patch;

/// The version a ReplicaSet runs: its first container's image tag (or short digest).
fn version_of(replicasets: &[Value], hash: &str) -> Option<String> {
    let rs = replicasets.iter().find(|rs| {
        rs.pointer("/metadata/labels")
            .and_then(|l| l.get(POD_TEMPLATE_HASH))
            .and_then(Value::as_str)
            == Some(hash)
    })?;
    let images: Vec<String> = rs
        .pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .map(image_version)
        .collect();
    (!images.is_empty()).then(|| images.join(","))
}

fn image_version(image: &str) -> String {
    if let Some((_, digest)) = image.split_once('@') {
        return digest.chars().take(19).collect();
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, tag)) => tag.to_string(),
        None => "latest".to_string(),
    }
}

pub(super) fn describe_version(replicasets: &[Value], hash: &str) -> String {
    if hash.is_empty() {
        return "unknown".into();
    }
    // Without the ReplicaSet (deleted, or no RBAC to list it) the hash still tells versions apart.
    version_of(replicasets, hash).unwrap_or_else(|| format!("rs {hash}"))
}

/// What `undo` would put back (the same choice as `patch::undo`), for its prompt:
/// "revision 30 (green)"; `None` when there is nothing to undo to.
pub(super) fn undo_target(ro: &Value, replicasets: &[Value]) -> Option<String> {
    let plan = patch::undo(ro, replicasets, 0).ok()?;
    let version = replicasets
        .iter()
        .find(|rs| str_at(rs, "/metadata/name") == Some(plan.replicaset.as_str()))
        .and_then(|rs| {
            rs.pointer("/metadata/labels")?
                .get(POD_TEMPLATE_HASH)?
                .as_str()
        })
        .and_then(|hash| version_of(replicasets, hash));
    Some(match version {
        Some(v) => format!("revision {} ({v})", plan.revision),
        None => format!("revision {}", plan.revision),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_the_versions() {
        assert_eq!(image_version("argoproj/rollouts-demo:green"), "green");
        assert_eq!(image_version("registry:5000/app"), "latest");
        assert_eq!(
            image_version("app@sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
    }
}
