//! PromQL query templates: `$selector`, `$service`, `$window` and `$rollout` (or `${name}`).
//! PromQL itself never uses `$`, so every `$ident` is ours; a `$` not followed by a name
//! (e.g. a regex anchor inside a string) is left alone.

use std::time::Duration;

/// Every variable a template may use, as written in one.
pub const VARIABLES: [&str; 4] = ["$selector", "$service", "$window", "$rollout"];

/// Values for one rendering; `None` means the variable has no value in this context.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vars<'a> {
    /// Raw label matchers for the track (`job="checkout", track="canary"`), inserted as-is.
    pub selector: Option<&'a str>,
    /// Raw label matchers for the whole service, inserted as-is.
    pub service: Option<&'a str>,
    /// The range of `rate(...[$window])`, rendered as a Prometheus duration.
    pub window: Option<Duration>,
    /// A value, escaped for a double-quoted PromQL string: use it as `rollout="$rollout"`.
    pub rollout: Option<&'a str>,
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Validates a template without values: every variable must be one of `VARIABLES`.
pub fn check(template: &str) -> Result<(), String> {
    walk(template, |piece| match piece {
        Piece::Var(name) if !is_known(name) => Err(unknown(name)),
        _ => Ok(()),
    })
}

/// Fills in a template; an unknown variable, or one without a value here, is an error naming it.
pub fn render(template: &str, vars: &Vars) -> Result<String, String> {
    render_as(template, vars, None)
}

/// Fills in a recorded series' template: `$window` is the window's label as Prometheus writes
/// durations (`prom_label`), so it can sit inside a rule name (`slo:sli_error:ratio_rate$window`
/// gives `slo:sli_error:ratio_rate5m`, `…ratio_rate30d`, `…ratio_rate4w`).
pub fn render_recorded(template: &str, vars: &Vars) -> Result<String, String> {
    let label = vars.window.map(prom_label);
    render_as(template, vars, label.as_deref())
}

fn render_as(template: &str, vars: &Vars, window_label: Option<&str>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 64);
    walk(template, |piece| {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var("selector") => out.push_str(value("selector", vars.selector)?),
            Piece::Var("service") => out.push_str(value("service", vars.service)?),
            Piece::Var("window") => match window_label {
                Some(label) => out.push_str(label),
                None => out.push_str(&prom_duration(value("window", vars.window)?)),
            },
            Piece::Var("rollout") => {
                out.push_str(&escape_label_value(value("rollout", vars.rollout)?))
            }
            Piece::Var(name) => return Err(unknown(name)),
        }
        Ok(())
    })?;
    Ok(out)
}

/// Fills in only `$rollout` (e.g. `[fleet] service = 'app="$rollout"'`, checked at load to use
/// no other variable): other text stays as written.
pub fn fill_rollout(template: &str, rollout: &str) -> String {
    let vars = Vars {
        rollout: Some(rollout),
        ..Vars::default()
    };
    render(template, &vars).unwrap_or_else(|_| template.to_string())
}

/// Escapes a value for a double-quoted PromQL string so it cannot end the string early.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

/// Label matchers from values: `a="x", b="y\"z"`. Names are trusted (they come from config).
pub fn matchers(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, v)| format!("{name}=\"{}\"", escape_label_value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Prometheus duration: `1m30s`, `1h`, `3d`. Whole seconds only, rounded up, at least `1s`,
/// because a zero or sub-second range is never what a rate window means.
pub fn prom_duration(d: Duration) -> String {
    let mut secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs = secs.max(1);
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = secs / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            secs %= size;
        }
    }
    out
}

/// A duration as Prometheus prints one (`model.Duration`), which is how Sloth and Pyrra name
/// their rules: years when over 365 days, weeks only when whole (`28d` is `4w`, `30d` stays
/// `30d`), then days, hours, minutes, seconds.
pub fn prom_label(d: Duration) -> String {
    let mut secs = d.as_secs().max(1);
    let mut out = String::new();
    let units = [
        ("y", 365 * 86_400, false),
        ("w", 7 * 86_400, true),
        ("d", 86_400, false),
        ("h", 3_600, false),
        ("m", 60, false),
        ("s", 1, false),
    ];
    for (name, size, exact) in units {
        if exact && !secs.is_multiple_of(size) {
            continue;
        }
        let n = secs / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(name);
            secs -= n * size;
        }
    }
    out
}

fn value<T>(name: &str, v: Option<T>) -> Result<T, String> {
    v.ok_or_else(|| format!("template uses ${name}, which has no value here"))
}

fn is_known(name: &str) -> bool {
    VARIABLES.iter().any(|v| &v[1..] == name)
}

fn unknown(name: &str) -> String {
    format!(
        "unknown template variable ${name}; valid: {}",
        VARIABLES.join(", ")
    )
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits a template into text and variables, in order.
fn walk<'a>(
    template: &'a str,
    mut f: impl FnMut(Piece<'a>) -> Result<(), String>,
) -> Result<(), String> {
    let bytes = template.as_bytes();
    let mut text_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let (name, next) = match bytes.get(i + 1) {
            Some(b'{') => {
                let rest = &template[i + 2..];
                let Some(close) = rest.find('}') else {
                    return Err(format!(
                        "unterminated ${{ in template; valid: {}",
                        VARIABLES.join(", ")
                    ));
                };
                let name = &rest[..close];
                if name.is_empty()
                    || !is_name_start(name.as_bytes()[0])
                    || !name.bytes().all(is_name_byte)
                {
                    return Err(unknown(name));
                }
                (name, i + 2 + close + 1)
            }
            Some(&b) if is_name_start(b) => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| !is_name_byte(b))
                    .map_or(bytes.len(), |p| i + 1 + p);
                (&template[i + 1..end], end)
            }
            // A bare `$` is literal text.
            _ => {
                i += 1;
                continue;
            }
        };
        if text_from < i {
            f(Piece::Text(&template[text_from..i]))?;
        }
        f(Piece::Var(name))?;
        i = next;
        text_from = next;
    }
    if text_from < bytes.len() {
        f(Piece::Text(&template[text_from..]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all<'a>() -> Vars<'a> {
        Vars {
            selector: Some(r#"job="checkout", track="canary""#),
            service: Some(r#"job="checkout""#),
            window: Some(Duration::from_secs(90)),
            rollout: Some("checkout-v2"),
        }
    }

    #[test]
    fn check_accepts_known_variables_in_both_forms() {
        assert_eq!(
            check("sum(rate(x{$selector}[$window])) / sum(rate(y{${service}}[${window}]))"),
            Ok(())
        );
        assert_eq!(check(r#"up{rollout="$rollout"}"#), Ok(()));
        assert_eq!(check("up"), Ok(()));
    }

    #[test]
    fn check_names_an_unknown_variable_and_lists_the_valid_ones() {
        assert_eq!(
            check("rate(x{$selectr}[1m])"),
            Err(
                "unknown template variable $selectr; valid: $selector, $service, $window, $rollout"
                    .into()
            )
        );
        let err = check("rate(x{${windw}}[1m])").expect_err("typo");
        assert!(
            err.starts_with("unknown template variable $windw;"),
            "{err}"
        );
        // A longer name is a different variable, not `$window` followed by text.
        assert!(check("x[$windows]").is_err());
    }

    #[test]
    fn check_rejects_malformed_braces() {
        let err = check("x{${selector").expect_err("unterminated");
        assert!(err.contains("unterminated ${"), "{err}");
        assert!(check("x{${}}").is_err());
        assert!(check("x{${1a}}").is_err());
    }

    #[test]
    fn bare_dollar_is_text() {
        assert_eq!(check(r#"x{path=~"/api$"}"#), Ok(()));
        assert_eq!(
            render(r#"x{path=~"/api$", $selector} $"#, &all()).as_deref(),
            Ok(r#"x{path=~"/api$", job="checkout", track="canary"} $"#)
        );
    }

    #[test]
    fn renders_every_variable() {
        let out = render(
            r#"sum(rate(http_requests_total{$selector, code=~"5.."}[$window])) / on() group_left sum(up{${service}, rollout="$rollout"})"#,
            &all(),
        );
        assert_eq!(
            out.as_deref(),
            Ok(
                r#"sum(rate(http_requests_total{job="checkout", track="canary", code=~"5.."}[1m30s])) / on() group_left sum(up{job="checkout", rollout="checkout-v2"})"#
            )
        );
    }

    #[test]
    fn missing_value_is_an_error_naming_it() {
        let vars = Vars {
            selector: None,
            ..all()
        };
        assert_eq!(
            render("x{$selector}", &vars),
            Err("template uses $selector, which has no value here".into())
        );
        assert!(render("x{$service}", &vars).is_ok());
    }

    #[test]
    fn render_rejects_unknown_variables() {
        let err = render("x{$selectr}", &all()).expect_err("unknown");
        assert!(err.contains("$selectr"), "{err}");
    }

    #[test]
    fn window_renders_as_prometheus_duration() {
        let cases = [
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(86_400 * 3), "3d"),
            (Duration::from_secs(86_400 + 1), "1d1s"),
            (Duration::from_millis(300), "1s"),
            (Duration::from_millis(1500), "2s"),
            (Duration::ZERO, "1s"),
        ];
        for (d, want) in cases {
            assert_eq!(prom_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn rollout_injection_stays_inside_the_string() {
        let vars = Vars {
            rollout: Some(r#"x", job=~".+"#),
            ..all()
        };
        let out = render(r#"up{rollout="$rollout"}"#, &vars).expect("renders");
        assert_eq!(out, r#"up{rollout="x\", job=~\".+"}"#);

        // A trailing backslash must not escape the closing quote.
        let vars = Vars {
            rollout: Some("x\\"),
            ..all()
        };
        let out = render(r#"up{rollout="$rollout"}"#, &vars).expect("renders");
        assert_eq!(out, r#"up{rollout="x\\"}"#);

        let vars = Vars {
            rollout: Some("a\"}\nor vector(1)"),
            ..all()
        };
        let out = render(r#"up{rollout="$rollout"}"#, &vars).expect("renders");
        assert_eq!(out, r#"up{rollout="a\"}\nor vector(1)"}"#);
        assert!(!out.contains('\n'));
    }

    #[test]
    fn escape_and_matchers() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("line\r\nnext"), r"line\r\nnext");
        assert_eq!(
            matchers(&[("a", "x"), ("b", r#"y"z"#)]),
            r#"a="x", b="y\"z""#
        );
        assert_eq!(matchers(&[]), "");
        assert_eq!(
            matchers(&[("rollouts_pod_template_hash", r#"x", job=~".+"#)]),
            r#"rollouts_pod_template_hash="x\", job=~\".+""#
        );
    }

    #[test]
    fn unicode_text_survives() {
        assert_eq!(
            render("x{$selector} # 日本 $", &all()).as_deref(),
            Ok(r#"x{job="checkout", track="canary"} # 日本 $"#)
        );
    }

    #[test]
    fn recorded_templates_put_the_window_label_in_the_rule_name() {
        let sloth = r#"slo:sli_error:ratio_rate$window{sloth_service="checkout", sloth_slo="availability"}"#;
        let at = |secs: u64| Vars {
            window: Some(Duration::from_secs(secs)),
            ..all()
        };
        for (secs, label) in [
            (300, "5m"),
            (1_800, "30m"),
            (3_600, "1h"),
            (7_200, "2h"),
            (21_600, "6h"),
            (86_400, "1d"),
            (259_200, "3d"),
            (30 * 86_400, "30d"),
            (28 * 86_400, "4w"),
        ] {
            assert_eq!(
                render_recorded(sloth, &at(secs)).as_deref(),
                Ok(format!(
                    r#"slo:sli_error:ratio_rate{label}{{sloth_service="checkout", sloth_slo="availability"}}"#
                )
                .as_str()),
                "{label}"
            );
        }
        // Other variables as usual; `${window}` too; a PromQL range keeps the label form.
        assert_eq!(
            render_recorded(
                r#"http_requests:burnrate${window}{slo="$rollout", $service}"#,
                &at(300)
            )
            .as_deref(),
            Ok(r#"http_requests:burnrate5m{slo="checkout-v2", job="checkout"}"#)
        );
        assert_eq!(
            prom_label(Duration::from_secs(365 * 86_400 + 86_400)),
            "1y1d"
        );
        assert_eq!(prom_label(Duration::from_secs(90)), "1m30s");
        // Plain rendering is unchanged: 28 days stay `28d`.
        assert_eq!(
            render("x[$window]", &at(28 * 86_400)).as_deref(),
            Ok("x[28d]")
        );
    }
}
