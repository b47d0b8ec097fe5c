//! Metric presets: `preset = "<name>"` in a `[[rollouts]]` entry or in `[fleet]` stands for the
//! `[[metrics]]` and `[[slos]]` entries one instrumentation needs: request rate, error rate, p95
//! and p99 latency and an availability SLO. They are expanded when the config is loaded (before
//! it is validated), so everything downstream sees ordinary entries.
//!
//! Rules: metrics are shared by every rollout, so every `preset` key of a config must name the
//! same preset (two different ones are an error naming both). A `[[metrics]]` (or `[[slos]]`)
//! entry of the config with a generated entry's name replaces it in place; the config's other
//! entries follow the generated ones.
//!
//! One job here: the [`Preset`] shape, its entries, expansion and [`recognise`]; the
//! instrumentations' names live in apps.rs, mesh.rs and proxies.rs.

mod apps;
mod mesh;
mod proxies;

use std::ops::Range;

use super::validate::Invalid;
use super::{Config, MetricConfig, SloConfig};

/// Every preset, in the order `recognise` lists them.
pub static ALL: [&Preset; 8] = [
    &apps::PROMETHEUS,
    &apps::OPENTELEMETRY,
    &apps::MICROMETER,
    &mesh::ISTIO,
    &mesh::LINKERD,
    &proxies::NGINX_INGRESS,
    &proxies::ENVOY,
    &proxies::TRAEFIK,
];

/// One instrumentation's metric names. Templates hold `$selector`; the SLO's are the same with
/// `$service`.
#[derive(Debug, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    /// What exports these names, in a few words.
    pub about: &'static str,
    /// The raw counter of all requests, e.g. `http_requests_total{$selector}`.
    pub total: &'static str,
    /// The raw counter of failed (5xx) requests.
    pub errors: &'static str,
    /// The latency histogram's raw `_bucket` series.
    pub buckets: &'static str,
    /// The histogram's unit: milliseconds are divided by 1000 in the queries (unit seconds).
    pub millis: bool,
    /// How the baseline and the canary are told apart.
    pub tracks: Tracks,
    /// The metric names (as Prometheus lists them, `_bucket` included) whose presence means
    /// this instrumentation: all of them must be there.
    pub recognise_by: &'static [&'static str],
    /// The versions and sources the names were checked against.
    pub checked: &'static str,
    /// What to know before using it, or "".
    pub note: &'static str,
}

/// How a preset's tracks are selected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tracks {
    /// The series come from the application's pods: the rollout's pod-template hash
    /// (`<service>, rollouts_pod_template_hash="<hash>"`, the default), or any
    /// baseline/canary matchers.
    PodHash,
    /// The series come from a proxy in front of both: its own labels tell the tracks apart
    /// (`baseline` and `canary` matchers to put in the `[[rollouts]]` entry; `<namespace>`,
    /// `<service>` and `<port>` are the Kubernetes service's).
    Labels {
        baseline: &'static str,
        canary: &'static str,
    },
}

impl Preset {
    /// `preset`'s `[[metrics]]` and `[[slos]]` entries as config text.
    pub fn toml(&self) -> String {
        let scale = if self.millis { " / 1000" } else { "" };
        let quantile = |q: &str| {
            format!(
                "histogram_quantile({q}, sum by (le) (rate({}[$window]))){scale}",
                self.buckets
            )
        };
        let ratio = |errors: &str, total: &str| {
            format!("sum(rate({errors}[$window])) / sum(rate({total}[$window]))")
        };
        let service = |t: &str| t.replace("$selector", "$service");
        let rate = format!("sum(rate({}[$window]))", self.total);
        format!(
            r#"# preset "{name}": {about}
[[metrics]]
name = "request rate"
query = '{rate}'
unit = "rps"
window = "1m"
gate = {{ min = 1, severity = "warn" }}

[[metrics]]
name = "error rate"
query = '{error_rate}'
unit = "ratio"
window = "1m"
judge = "sequential"
errors = '{errors}'
total = '{total}'
allowed_increase = 1.5
critical = true
gate = {{ max = 0.01, for = 2, severity = "rollback" }}

[[metrics]]
name = "p95 latency"
query = '{p95}'
unit = "seconds"
window = "1m"
judge = "sequential"
histogram = '{buckets}'
allowed_increase = 1.1
critical = true
gate = {{ max = 2.5, for = 2, severity = "hold" }}

[[metrics]]
name = "p99 latency"
query = '{p99}'
unit = "seconds"
window = "1m"
gate = {{ max_ratio = 1.5, for = 2, severity = "hold" }}

[[slos]]
name = "availability"
objective = 99.9
window = "30d"
error_ratio = '{slo}'
"#,
            name = self.name,
            about = self.about,
            rate = rate,
            error_rate = ratio(self.errors, self.total),
            errors = self.errors,
            total = self.total,
            p95 = quantile("0.95"),
            p99 = quantile("0.99"),
            buckets = self.buckets,
            slo = ratio(&service(self.errors), &service(self.total)),
        )
    }

    /// The entries, each spanned at `span` (the `preset` key's value, where errors point).
    fn entries(&self, span: Range<usize>) -> Result<(Vec<MetricConfig>, Vec<SloConfig>), String> {
        #[derive(serde::Deserialize)]
        struct Entries {
            metrics: Vec<MetricConfig>,
            slos: Vec<SloConfig>,
        }
        let e: Entries = toml::from_str(&self.toml())
            .map_err(|e| format!("preset {:?} does not parse (a bug): {e}", self.name))?;
        let at = |s: toml::Spanned<String>| toml::Spanned::new(span.clone(), s.into_inner());
        let metrics = e
            .metrics
            .into_iter()
            .map(|mut m| {
                m.query = at(m.query);
                m.histogram = m.histogram.map(at);
                m.errors = m.errors.map(at);
                m.total = m.total.map(at);
                m
            })
            .collect();
        let slos = e
            .slos
            .into_iter()
            .map(|mut s| {
                s.error_ratio = at(s.error_ratio);
                s
            })
            .collect();
        Ok((metrics, slos))
    }
}

/// The preset called `name`.
pub fn by_name(name: &str) -> Option<&'static Preset> {
    ALL.iter().copied().find(|p| p.name == name)
}

/// The presets whose metrics are all among `names` (metric names as Prometheus lists them, e.g.
/// from `/api/v1/label/__name__/values`), in [`ALL`]'s order.
pub fn recognise(names: &[&str]) -> Vec<&'static Preset> {
    ALL.iter()
        .copied()
        .filter(|p| p.recognise_by.iter().all(|n| names.contains(n)))
        .collect()
}

fn names() -> String {
    ALL.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// Replace every `preset` key by its entries (see the module's rules).
pub(super) fn expand(c: &mut Config) -> Result<(), Invalid> {
    let keys = c
        .rollouts
        .iter()
        .filter_map(|r| {
            r.preset
                .as_ref()
                .map(|p| (format!("[[rollouts]] {:?}", r.name), p))
        })
        .chain(c.fleet.preset.as_ref().map(|p| ("[fleet]".to_string(), p)));
    let mut chosen: Option<(String, &'static Preset, Range<usize>)> = None;
    for (owner, key) in keys {
        let Some(preset) = by_name(key.get_ref()) else {
            return Err((
                format!(
                    "{owner}: no preset {:?}; the presets are {}",
                    key.get_ref(),
                    names()
                ),
                Some(key.span()),
            ));
        };
        match &chosen {
            None => chosen = Some((owner, preset, key.span())),
            Some((first, p, _)) if p.name != preset.name => {
                return Err((
                    format!(
                        "{owner}: preset {:?}, but {first} names preset {:?}: metrics are \
                         shared by every rollout, so a config uses one preset; write the other's \
                         metrics as [[metrics]] entries instead",
                        preset.name, p.name
                    ),
                    Some(key.span()),
                ));
            }
            Some(_) => {}
        }
    }
    let Some((_, preset, span)) = chosen else {
        return Ok(());
    };
    let (metrics, slos) = preset.entries(span.clone()).map_err(|e| (e, Some(span)))?;
    c.metrics = merge(metrics, std::mem::take(&mut c.metrics), |m| &m.name);
    c.slos = merge(slos, std::mem::take(&mut c.slos), |s| &s.name);
    Ok(())
}

/// The generated entries, each replaced by the config's entry of its name, then the config's
/// other entries in their order.
fn merge<T>(generated: Vec<T>, mut own: Vec<T>, name: impl Fn(&T) -> &String) -> Vec<T> {
    let mut out: Vec<T> = generated
        .into_iter()
        .map(|g| match own.iter().position(|o| name(o) == name(&g)) {
            Some(i) => own.remove(i),
            None => g,
        })
        .collect();
    out.append(&mut own);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn every_preset_expands_into_valid_entries() {
        for p in ALL {
            let text = format!(
                "[[rollouts]]\nname = \"checkout\"\npreset = \"{}\"\n",
                p.name
            );
            let c = parse(&text, Path::new("c.toml")).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let names: Vec<&str> = c.metrics.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(
                names,
                ["request rate", "error rate", "p95 latency", "p99 latency"],
                "{}",
                p.name
            );
            assert!(c.metrics[1].sequential_settings().is_some(), "{}", p.name);
            assert!(c.metrics[2].counters().is_some(), "{}", p.name);
            assert_eq!(c.slos.len(), 1);
            assert_eq!(c.slos[0].objective, 99.9);
            assert!(
                c.slos[0].error_ratio.get_ref().contains("$service"),
                "{}",
                p.name
            );
            assert!(
                !c.slos[0].error_ratio.get_ref().contains("$selector"),
                "{}",
                p.name
            );
            // Errors in generated entries point at the preset key.
            let at = text.find(&format!("\"{}\"", p.name)).expect("the key");
            assert_eq!(
                c.metrics[0].query.span(),
                at..at + p.name.len() + 2,
                "{}",
                p.name
            );
            assert_eq!(
                c.metrics[2].query.get_ref().ends_with(" / 1000"),
                p.millis,
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn a_config_entry_of_the_same_name_wins_in_place() {
        let text = "[fleet]\nservice = 'app=\"$rollout\"'\npreset = \"istio\"\n\
                    [[metrics]]\nname = \"cpu\"\nquery = 'cpu{$selector}'\n\
                    [[metrics]]\nname = \"p99 latency\"\nquery = 'mine{$selector}'\n\
                    [[slos]]\nname = \"availability\"\nobjective = 99.5\nwindow = \"7d\"\nerror_ratio = 'e{$service}[$window]'\n";
        let c = parse(text, Path::new("c.toml")).expect("valid");
        let names: Vec<&str> = c.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "request rate",
                "error rate",
                "p95 latency",
                "p99 latency",
                "cpu"
            ]
        );
        assert_eq!(c.metrics[3].query.get_ref(), "mine{$selector}");
        assert!(
            c.metrics[0]
                .query
                .get_ref()
                .contains("istio_requests_total")
        );
        assert_eq!(c.slos.len(), 1);
        assert_eq!(c.slos[0].objective, 99.5);
    }

    #[test]
    fn a_bad_or_a_second_preset_is_an_error_at_its_key() {
        let err = parse(
            "[[rollouts]]\nname = \"checkout\"\npreset = \"nginx\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .0;
        assert_eq!(
            err,
            "config error in c.toml:3:10: [[rollouts]] \"checkout\": no preset \"nginx\"; the \
             presets are prometheus, opentelemetry, micrometer, istio, linkerd, nginx-ingress, \
             envoy, traefik"
        );
        let two = "[[rollouts]]\nname = \"a\"\npreset = \"istio\"\n\
                   [[rollouts]]\nname = \"b\"\npreset = \"istio\"\n\
                   [fleet]\npreset = \"linkerd\"\n";
        let err = parse(two, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.starts_with("config error in c.toml:8:10: [fleet]: preset \"linkerd\", but [[rollouts]] \"a\" names preset \"istio\""),
            "{err}"
        );
    }

    #[test]
    fn recognise_finds_the_presets_whose_metrics_are_all_there() {
        let names = [
            "up",
            "istio_requests_total",
            "istio_request_duration_milliseconds_bucket",
            "http_requests_total",
        ];
        let found: Vec<&str> = recognise(&names).iter().map(|p| p.name).collect();
        assert_eq!(found, ["istio"]);
        let mut all: Vec<&str> = ALL
            .iter()
            .flat_map(|p| p.recognise_by.iter().copied())
            .collect();
        all.sort();
        assert_eq!(recognise(&all).len(), ALL.len());
        assert!(recognise(&["up"]).is_empty());
    }

    #[test]
    fn the_presets_templates_name_their_tracks_and_families() {
        for p in ALL {
            for t in [p.total, p.errors, p.buckets] {
                assert!(t.contains("$selector"), "{}: {t}", p.name);
                crate::metrics::template::check(t).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            }
            assert!(p.buckets.contains("_bucket{"), "{}", p.name);
            for n in p.recognise_by {
                assert!(
                    [p.total, p.errors, p.buckets]
                        .iter()
                        .any(|t| t.starts_with(&format!("{n}{{"))),
                    "{}: {n}",
                    p.name
                );
            }
            assert!(!p.checked.is_empty(), "{}", p.name);
        }
    }
}
