//! Each metric preset's queries as they go to Prometheus: the config `[[rollouts]] preset = …`
//! loaded, every generated metric's query and counters and the SLO's error ratio rendered with a
//! fixed selector, service and window (snapshots in tests/snapshots).

use rollout_console::config::{self, presets};
use rollout_console::metrics::template::{Vars, render};
use std::path::Path;
use std::time::Duration;

fn rendered(preset: &presets::Preset) -> String {
    let text = format!(
        "[[rollouts]]\nname = \"checkout\"\npreset = \"{}\"\n",
        preset.name
    );
    let c = config::parse(&text, Path::new("presets.toml")).expect("the preset loads");
    let vars = Vars {
        selector: Some(r#"job="checkout", track="canary""#),
        service: Some(r#"job="checkout""#),
        window: Some(Duration::from_secs(60)),
        rollout: Some("checkout"),
    };
    let r = |t: &str| render(t, &vars).expect("renders");
    let mut out = format!("tracks: {:?}\n", preset.tracks);
    for m in &c.metrics {
        out.push_str(&format!(
            "\n{} ({:?}):\n  query: {}\n",
            m.name,
            m.unit,
            r(m.query.get_ref())
        ));
        for (key, t) in [
            ("histogram", &m.histogram),
            ("errors", &m.errors),
            ("total", &m.total),
        ] {
            if let Some(t) = t {
                out.push_str(&format!("  {key}: {}\n", r(t.get_ref())));
            }
        }
        out.push_str(&format!("  gate: {:?}\n", m.gate));
    }
    for s in &c.slos {
        out.push_str(&format!(
            "\nslo {} ({}% over {:?}):\n  error_ratio: {}\n",
            s.name,
            s.objective,
            s.window,
            r(s.error_ratio.get_ref())
        ));
    }
    out
}

#[test]
fn every_presets_queries() {
    for p in presets::ALL {
        insta::assert_snapshot!(format!("preset_{}", p.name.replace('-', "_")), rendered(p));
    }
}
