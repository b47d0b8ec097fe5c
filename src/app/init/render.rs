//! The config `init` writes, as TOML text with comments that say what was found and why: the
//! source, the preset, the service and the tracks. Pure; the text is loaded back through the
//! config parser before it is written, so it cannot be one the console refuses.

use std::fmt::Write;
use std::path::PathBuf;

use super::discover::{Service, Tracks};

/// What the written `[prometheus]` section says: the URL and where the secrets are (their
/// paths only; never the secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub bearer_token_file: Option<PathBuf>,
    pub basic_auth: Option<(String, PathBuf)>,
    pub ca_file: Option<PathBuf>,
    /// Header names and values (a tenant id, not a secret: use a file for those).
    pub headers: Vec<(String, String)>,
}

/// Everything the config is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub source: Source,
    /// The `[[rollouts]]` entry's name.
    pub rollout: String,
    pub preset: String,
    /// The instrumentation in words and the metric it was recognised by.
    pub preset_why: String,
    /// Other presets that also matched, for a comment.
    pub also_found: Vec<String>,
    pub service: Service,
    pub tracks: Tracks,
    /// The deploy API's URL (`[backend] kind = "http"`), when given.
    pub backend_url: Option<String>,
}

/// The config file's text.
pub fn config_text(p: &Proposal, written_at: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `rollout-console init` at {written_at} from {}.",
        p.source.url
    );
    let _ = writeln!(
        out,
        "# Check it with `rollout-console explain --config <this file>`; see config.example.toml for every key."
    );
    out.push_str("\npoll_interval = \"5s\"\n\n[prometheus]\n");
    let _ = writeln!(out, "url = {}", quoted(&p.source.url));
    if let Some(path) = &p.source.bearer_token_file {
        let _ = writeln!(
            out,
            "bearer_token_file = {}",
            quoted(&path.display().to_string())
        );
    }
    if let Some((user, path)) = &p.source.basic_auth {
        let _ = writeln!(
            out,
            "basic_auth = {{ username = {}, password_file = {} }}",
            quoted(user),
            quoted(&path.display().to_string())
        );
    }
    if let Some(path) = &p.source.ca_file {
        let _ = writeln!(out, "ca_file = {}", quoted(&path.display().to_string()));
    }
    if !p.source.headers.is_empty() {
        let pairs: Vec<String> = p
            .source
            .headers
            .iter()
            .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
            .collect();
        let _ = writeln!(out, "headers = {{ {} }}", pairs.join(", "));
    }
    out.push_str(&backend_section(&p.tracks, p.backend_url.as_deref()));
    out.push_str("\n[[rollouts]]\n");
    let _ = writeln!(out, "name = {}", quoted(&p.rollout));
    let _ = writeln!(out, "# {}", p.preset_why);
    if !p.also_found.is_empty() {
        let _ = writeln!(
            out,
            "# Also found: {} (choose with `init --preset NAME`).",
            p.also_found.join(", ")
        );
    }
    let _ = writeln!(out, "preset = {}", quoted(&p.preset));
    let _ = writeln!(out, "# Service: {}.", p.service.why);
    let _ = writeln!(out, "service = {}", literal(&p.service.selector));
    out.push_str(&tracks_lines(&p.service.selector, &p.tracks));
    out.push_str(
        "\n# Each metric of the preset can be replaced by a [[metrics]] entry of the same name\n\
         # (`rollout-console explain` prints their names and PromQL).\n",
    );
    out
}

/// `[backend]`: argo when the tracks are pod-template hashes (only the controller knows which
/// hash is the canary); otherwise a commented choice.
fn backend_section(tracks: &Tracks, http: Option<&str>) -> String {
    if let Some(url) = http {
        return format!(
            "\n# The deploy API (assets/deploy-api.md): it promotes, pauses and rolls back, and says\n\
             # which pod-template hash is the canary's.\n[backend]\nkind = \"http\"\nurl = {}\n",
            quoted(url)
        );
    }
    match tracks {
        Tracks::PodHash { .. } => {
            "\n# The tracks are the rollout's pod-template hashes, which Argo Rollouts reports.\n\
             [backend]\n\
             kind = \"argo\"\n\
             # context = \"prod\"        # default: the kubeconfig's current context\n\
             # namespace = \"shop\"      # default: the context's namespace\n"
                .to_string()
        }
        _ => "\n# The deploy backend (promote, pause, roll back): argo, http or command; see\n\
             # config.example.toml. Without one, `check` and `explain` still judge the metrics.\n\
             # [backend]\n\
             # kind = \"argo\"\n"
            .to_string(),
    }
}

/// `baseline` / `canary` (or the comment saying why there are none).
fn tracks_lines(service: &str, tracks: &Tracks) -> String {
    match tracks {
        Tracks::PodHash { label } => {
            let mut s = format!(
                "# Baseline and canary: the stable and canary pods by their `{label}` label.\n"
            );
            if label != "rollouts_pod_template_hash" {
                s.push_str(&format!("pod_hash_label = {}\n", quoted(label)));
            }
            s
        }
        Tracks::Label {
            label,
            baseline,
            canary,
            sure,
        } => {
            let check = if *sure {
                String::new()
            } else {
                format!(
                    "# CHECK: the values of `{label}` did not say which is the canary; swap them if needed.\n"
                )
            };
            format!(
                "# Baseline and canary: told apart by `{label}`.\n{check}baseline = {}\ncanary   = {}\n",
                literal(&format!("{service}, {label}=\"{}\"", escape(baseline))),
                literal(&format!("{service}, {label}=\"{}\"", escape(canary))),
            )
        }
        Tracks::OneValue { label, baseline } => format!(
            "# Baseline and canary: told apart by `{label}`; only \"{}\" runs now, so the canary is\n\
             # every other value (no canary is running yet: its panels say so until one is).\n\
             baseline = {}\ncanary   = {}\n",
            escape(baseline),
            literal(&format!("{service}, {label}=\"{}\"", escape(baseline))),
            literal(&format!("{service}, {label}!=\"{}\"", escape(baseline))),
        ),
        Tracks::Matchers {
            baseline,
            canary,
            why,
        } => format!(
            "# Baseline and canary: {why}.\nbaseline = {}\ncanary   = {}\n",
            literal(&format!("{service}, {baseline}")),
            literal(&format!("{service}, {canary}")),
        ),
        Tracks::Unknown { looked_for } => format!(
            "# Baseline and canary: nothing in the series tells them apart (looked for the labels\n\
             # {}). Name them, e.g.:\n\
             # baseline = {}\n# canary   = {}\n",
            looked_for.join(", "),
            literal(&format!("{service}, track=\"baseline\"")),
            literal(&format!("{service}, track=\"canary\"")),
        ),
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A TOML literal string (label matchers are full of double quotes); a basic string when the
/// text holds a single quote.
fn literal(s: &str) -> String {
    if s.contains('\'') || s.contains('\n') {
        quoted(s)
    } else {
        format!("'{s}'")
    }
}

/// A label value inside double quotes.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(tracks: Tracks) -> Proposal {
        Proposal {
            source: Source {
                url: "http://127.0.0.1:9090".into(),
                bearer_token_file: Some("/run/secrets/token".into()),
                ..Source::default()
            },
            rollout: "checkout".into(),
            preset: "opentelemetry".into(),
            preset_why: "OpenTelemetry HTTP metrics: http_server_request_duration_seconds".into(),
            also_found: vec![],
            service: Service {
                selector: "app=\"checkout\"".into(),
                why: "the series whose `app` label is the rollout's name".into(),
            },
            tracks,
            backend_url: None,
        }
    }

    #[test]
    fn label_tracks_become_baseline_and_canary_matchers() {
        let text = config_text(
            &proposal(Tracks::Label {
                label: "track".into(),
                baseline: "stable".into(),
                canary: "canary".into(),
                sure: true,
            }),
            "2026-12-01T00:00:00Z",
        );
        assert!(
            text.contains("baseline = 'app=\"checkout\", track=\"stable\"'"),
            "{text}"
        );
        assert!(
            text.contains("canary   = 'app=\"checkout\", track=\"canary\"'"),
            "{text}"
        );
        assert!(text.contains("preset = \"opentelemetry\""), "{text}");
        assert!(
            text.contains("bearer_token_file = \"/run/secrets/token\""),
            "{text}"
        );
        assert!(!text.contains("CHECK"), "{text}");
        let toml: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert!(toml.contains_key("rollouts"));
    }

    #[test]
    fn pod_hash_tracks_leave_the_matchers_out_and_name_argo() {
        let text = config_text(
            &proposal(Tracks::PodHash {
                label: "pod_template_hash".into(),
            }),
            "now",
        );
        assert!(!text.contains("\nbaseline"), "{text}");
        assert!(
            text.contains("pod_hash_label = \"pod_template_hash\""),
            "{text}"
        );
        assert!(text.contains("\n[backend]\nkind = \"argo\""), "{text}");
        toml::from_str::<toml::Table>(&text).expect("valid TOML");
    }

    #[test]
    fn one_value_means_the_canary_is_every_other_and_unknown_is_a_comment() {
        let text = config_text(
            &proposal(Tracks::OneValue {
                label: "version".into(),
                baseline: "v1".into(),
            }),
            "now",
        );
        assert!(
            text.contains("canary   = 'app=\"checkout\", version!=\"v1\"'"),
            "{text}"
        );
        let text = config_text(
            &proposal(Tracks::Unknown {
                looked_for: vec!["rollouts_pod_template_hash".into(), "track".into()],
            }),
            "now",
        );
        assert!(text.contains("# baseline = "), "{text}");
        assert!(!text.contains("\nbaseline"), "{text}");
        toml::from_str::<toml::Table>(&text).expect("valid TOML");
    }
}
