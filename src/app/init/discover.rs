//! What `init` reads off the user's series, pure: which labels name the service, and which tell
//! the baseline from the canary. Input is a sample of one metric's series (their label sets);
//! every answer says why, so the written config can carry it as a comment.

use std::collections::{BTreeMap, BTreeSet};

/// One series' labels, as `/api/v1/series` returns them.
pub type Labels = BTreeMap<String, String>;

/// Labels that usually name a service or workload, most specific first. A label of these whose
/// value is the rollout's name is the service selector.
const SERVICE_LABELS: [&str; 13] = [
    "app",
    "app_kubernetes_io_name",
    // ingress-nginx: `service` is the backend that served the request (the canary's own
    // service for canary traffic), while `ingress` names both tracks' entry point.
    "ingress",
    "destination_workload",
    "service",
    "destination_service_name",
    "deployment",
    "rollout",
    "exported_service",
    "workload",
    "container",
    "job",
    "namespace",
];

/// Labels an Argo pod's pod-template hash lands in after kubernetes_sd's labelmap (the first is
/// the console's default `pod_hash_label`); Linkerd's proxy writes `pod_template_hash` itself.
const POD_HASH_LABELS: [&str; 3] = [
    "rollouts_pod_template_hash",
    "pod_template_hash",
    "label_rollouts_pod_template_hash",
];

/// Values of a track label that mean the baseline, and the canary.
const BASELINE_WORDS: [&str; 5] = ["baseline", "stable", "primary", "main", "production"];
const CANARY_WORDS: [&str; 3] = ["canary", "preview", "candidate"];

/// How the service's series are selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Label matchers, e.g. `app="checkout"`.
    pub selector: String,
    /// Why these, for the config's comment.
    pub why: String,
}

/// How the baseline's series are told from the canary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracks {
    /// By the rollout's stable and canary pod-template hashes, which the backend reports: the
    /// config leaves `baseline` and `canary` out.
    PodHash { label: String },
    /// By a label of the instrumentation's own. `sure` is false when the values did not say
    /// which one is the canary (the config then says to check).
    Label {
        label: String,
        baseline: String,
        canary: String,
        sure: bool,
    },
    /// One value only so far (no canary running): the canary is every other value.
    OneValue { label: String, baseline: String },
    /// Matchers the instrumentation defines (e.g. ingress-nginx's `canary=""` and
    /// `canary!=""`).
    Matchers {
        baseline: String,
        canary: String,
        why: String,
    },
    /// Nothing in the series tells them apart.
    Unknown { looked_for: Vec<String> },
}

/// The service selector: `given` as is; else the label whose value is `rollout` (most specific
/// label first); else the only `job` there is. An error says what was looked for and what exists.
pub fn find_service(
    series: &[Labels],
    rollout: Option<&str>,
    given: Option<&str>,
) -> Result<Service, String> {
    if let Some(given) = given {
        return Ok(Service {
            selector: given.to_string(),
            why: "as given with --service".into(),
        });
    }
    if let Some(name) = rollout {
        let holding: BTreeSet<&str> = series
            .iter()
            .flat_map(|s| s.iter())
            .filter(|(k, v)| v.as_str() == name && k.as_str() != "__name__")
            .map(|(k, _)| k.as_str())
            .collect();
        let label = SERVICE_LABELS
            .iter()
            .copied()
            .find(|l| holding.contains(l))
            .or_else(|| holding.iter().copied().next());
        return match label {
            Some(label) => Ok(Service {
                selector: format!("{label}=\"{}\"", escape(name)),
                why: format!("the series whose `{label}` label is the rollout's name"),
            }),
            None => Err(format!(
                "no series has a label equal to \"{name}\"; {}; name the service with --service 'label=\"value\"'",
                known_services(series)
            )),
        };
    }
    let jobs = values(series, "job");
    match jobs.len() {
        1 => {
            let job = jobs.iter().next().map(|j| escape(j)).unwrap_or_default();
            Ok(Service {
                selector: format!("job=\"{job}\""),
                why: "the only job these series come from".into(),
            })
        }
        _ => Err(format!(
            "these series come from several services; {}; choose with --rollout NAME or --service 'label=\"value\"'",
            known_services(series)
        )),
    }
}

/// The track labels: the pod-template hash when the pods carry it, else the first of `hints`
/// (the instrumentation's own version or canary label) with values, else `track`/`version`.
pub fn find_tracks(series: &[Labels], hints: &[&str]) -> Tracks {
    if let Some(label) = POD_HASH_LABELS
        .iter()
        .find(|l| !values(series, l).is_empty())
    {
        return Tracks::PodHash {
            label: (*label).to_string(),
        };
    }
    let mut looked_for: Vec<String> = POD_HASH_LABELS.iter().map(|l| l.to_string()).collect();
    let candidates = hints
        .iter()
        .copied()
        .chain(["track", "version", "canary"])
        .collect::<Vec<_>>();
    for label in candidates {
        if looked_for.iter().any(|l| l == label) {
            continue;
        }
        looked_for.push(label.to_string());
        let found = values(series, label);
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        match found.as_slice() {
            [] => continue,
            [only] => {
                return Tracks::OneValue {
                    label: label.to_string(),
                    baseline: (*only).to_string(),
                };
            }
            [a, b] => {
                let (baseline, canary, sure) = order(a, b);
                return Tracks::Label {
                    label: label.to_string(),
                    baseline: baseline.to_string(),
                    canary: canary.to_string(),
                    sure,
                };
            }
            // More than two values (many versions at once): not a baseline/canary pair.
            _ => continue,
        }
    }
    Tracks::Unknown { looked_for }
}

/// Which of two track values is the baseline: by the words they use (an empty value is the
/// main, non-canary, traffic); else the first in sort order, not sure.
fn order<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str, bool) {
    let is_baseline = |v: &str| v.is_empty() || BASELINE_WORDS.contains(&v.to_lowercase().as_str());
    let is_canary = |v: &str| CANARY_WORDS.iter().any(|w| v.to_lowercase().contains(w));
    if is_baseline(a) || is_canary(b) {
        (a, b, true)
    } else if is_baseline(b) || is_canary(a) {
        (b, a, true)
    } else {
        (a, b, false)
    }
}

/// The distinct values of `label` in the sample.
fn values(series: &[Labels], label: &str) -> BTreeSet<String> {
    series
        .iter()
        .filter_map(|s| s.get(label))
        .cloned()
        .collect()
}

/// What services the series do name, for an error: the first service label with values.
fn known_services(series: &[Labels]) -> String {
    SERVICE_LABELS
        .iter()
        .find_map(|l| {
            let v = values(series, l);
            (!v.is_empty()).then(|| {
                let shown: Vec<String> = v.iter().take(8).map(|x| format!("\"{x}\"")).collect();
                let more = if v.len() > 8 {
                    format!(" and {} more", v.len() - 8)
                } else {
                    String::new()
                };
                format!("`{l}` holds {}{more}", shown.join(", "))
            })
        })
        .unwrap_or_else(|| "the series carry none of the usual service labels".into())
}

/// A label value inside double quotes.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(sets: &[&[(&str, &str)]]) -> Vec<Labels> {
        sets.iter()
            .map(|s| {
                s.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_service_is_the_most_specific_label_holding_the_rollouts_name() {
        let s = series(&[
            &[
                ("job", "checkout"),
                ("app", "checkout"),
                ("pod", "checkout-1"),
            ],
            &[("job", "payments"), ("app", "payments")],
        ]);
        let found = find_service(&s, Some("checkout"), None).expect("found");
        assert_eq!(found.selector, "app=\"checkout\"");
        let only_job = series(&[&[("job", "checkout"), ("pod", "x")]]);
        assert_eq!(
            find_service(&only_job, Some("checkout"), None)
                .expect("found")
                .selector,
            "job=\"checkout\""
        );
    }

    #[test]
    fn an_unknown_rollout_name_lists_the_services_that_exist() {
        let s = series(&[&[("app", "checkout")], &[("app", "payments")]]);
        let e = find_service(&s, Some("chekout"), None).expect_err("missing");
        assert!(e.contains("\"chekout\""), "{e}");
        assert!(e.contains("`app` holds \"checkout\", \"payments\""), "{e}");
    }

    #[test]
    fn without_a_name_one_job_is_taken_and_several_are_refused() {
        let one = series(&[&[("job", "checkout")], &[("job", "checkout")]]);
        assert_eq!(
            find_service(&one, None, None).expect("one").selector,
            "job=\"checkout\""
        );
        let two = series(&[&[("job", "checkout")], &[("job", "payments")]]);
        assert!(find_service(&two, None, None).is_err());
        assert_eq!(
            find_service(&two, None, Some("team=\"a\""))
                .expect("given")
                .selector,
            "team=\"a\""
        );
    }

    #[test]
    fn pod_hashes_win_over_any_version_label() {
        let s = series(&[
            &[("version", "v1"), ("rollouts_pod_template_hash", "abc")],
            &[("version", "v2"), ("rollouts_pod_template_hash", "def")],
        ]);
        assert_eq!(
            find_tracks(&s, &["version"]),
            Tracks::PodHash {
                label: "rollouts_pod_template_hash".into()
            }
        );
    }

    #[test]
    fn a_track_label_is_ordered_by_its_words_or_marked_unsure() {
        let s = series(&[&[("track", "canary")], &[("track", "stable")]]);
        assert_eq!(
            find_tracks(&s, &[]),
            Tracks::Label {
                label: "track".into(),
                baseline: "stable".into(),
                canary: "canary".into(),
                sure: true
            }
        );
        let nginx = series(&[&[("canary", "")], &[("canary", "shop-checkout-canary-80")]]);
        assert!(matches!(
            find_tracks(&nginx, &["canary"]),
            Tracks::Label { baseline, sure: true, .. } if baseline.is_empty()
        ));
        let versions = series(&[&[("version", "v2")], &[("version", "v1")]]);
        assert!(matches!(
            find_tracks(&versions, &[]),
            Tracks::Label { sure: false, .. }
        ));
    }

    #[test]
    fn one_value_means_no_canary_yet_and_none_names_what_was_looked_for() {
        let s = series(&[&[("version", "v1")]]);
        assert_eq!(
            find_tracks(&s, &[]),
            Tracks::OneValue {
                label: "version".into(),
                baseline: "v1".into()
            }
        );
        let none = series(&[&[("job", "checkout")]]);
        let Tracks::Unknown { looked_for } = find_tracks(&none, &["destination_version"]) else {
            panic!("nothing tells the tracks apart");
        };
        assert!(looked_for.contains(&"destination_version".to_string()));
        assert!(looked_for.contains(&"rollouts_pod_template_hash".to_string()));
    }
}
