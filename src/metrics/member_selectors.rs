//! The fleet members' selector (`grouped::members_selector`) kept for the member lists in use:
//! every member's poll of every grouped metric, SLO and counter asked for it again, fifty names
//! escaped and joined each time (a tenth of a fleet console's allocations, heaptrack).

use std::sync::{Arc, Mutex};

use super::grouped::members_selector;

/// Lists in use at once: the fleet's, and the few a grouped counter's reads split it into.
const KEPT: usize = 8;

#[derive(Debug, Default)]
pub struct MemberSelectors {
    /// Most recently used last.
    kept: Mutex<Vec<Kept>>,
}

#[derive(Debug)]
struct Kept {
    service: String,
    label: String,
    members: Vec<String>,
    selector: Option<Arc<str>>,
}

impl MemberSelectors {
    /// [`members_selector`] of these, from what is kept when it was asked before.
    pub fn get(&self, service: &str, label: &str, members: &[String]) -> Option<Arc<str>> {
        let build = || members_selector(service, label, members).map(Arc::from);
        let Ok(mut kept) = self.kept.lock() else {
            return build();
        };
        let known = kept
            .iter()
            .position(|k| k.service == service && k.label == label && k.members == members);
        if let Some(i) = known {
            let hit = kept.remove(i);
            let selector = hit.selector.clone();
            kept.push(hit);
            return selector;
        }
        let selector = build();
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push(Kept {
            service: service.to_string(),
            label: label.to_string(),
            members: members.to_vec(),
            selector: selector.clone(),
        });
        selector
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_selector_is_the_one_built_and_a_changed_list_builds_anew() {
        let memo = MemberSelectors::default();
        let service = r#"rollout="$rollout", env="prod""#;
        let fleet: Vec<String> = ["a.b", "c"].map(String::from).to_vec();
        let first = memo.get(service, "rollout", &fleet).expect("a selector");
        assert_eq!(
            first.as_ref(),
            members_selector(service, "rollout", &fleet)
                .expect("built")
                .as_str()
        );
        let again = memo.get(service, "rollout", &fleet).expect("kept");
        assert!(Arc::ptr_eq(&first, &again), "not built twice");
        let grown: Vec<String> = ["a.b", "c", "d"].map(String::from).to_vec();
        let other = memo.get(service, "rollout", &grown).expect("built");
        assert!(other.contains("|d"), "{other}");
        // A service that does not name the rollout by the label has none, kept as none.
        assert!(memo.get("app=\"x\"", "rollout", &fleet).is_none());
        assert!(memo.get("app=\"x\"", "rollout", &fleet).is_none());
        // Past the lists kept, the oldest goes; what is asked is still right.
        for n in 0..KEPT {
            memo.get(service, "rollout", &[format!("m{n}")]);
        }
        let rebuilt = memo.get(service, "rollout", &fleet).expect("built again");
        assert!(!Arc::ptr_eq(&first, &rebuilt), "the oldest was dropped");
        assert_eq!(first, rebuilt);
    }
}
