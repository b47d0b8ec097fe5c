//! Grouped queries: one range query per metric for the whole fleet instead of two per rollout.
//! A metric's template is rewritten so that every aggregation keeps the rollout label and the
//! pod-template-hash label (`sum by (le)` → `sum by (le, rollout, rollouts_pod_template_hash)`,
//! `sum(x)` → `sum by (rollout, rollouts_pod_template_hash) (x)`), its selector matches every
//! member (`rollout=~"a|b|c"`), and each rollout's baseline and canary are picked from the answer
//! by their name and hashes. Where the rewrite cannot be made safely (`without`, `topk`, vector
//! matching with `on`/`ignoring`, no aggregation at all) the metric stays per rollout.

use std::collections::HashMap;

use crate::domain::Sample;
use crate::metrics::decode::Labels;
use crate::metrics::group_ranges::ByMember;

/// The aggregations whose result keeps exactly the `by` labels.
const AGGREGATIONS: [&str; 8] = [
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
];
/// Aggregations and operators a `by` cannot be added to without changing the result.
const REFUSED: [&str; 9] = [
    "without",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The template with every aggregation keeping `labels`; `None` where that cannot be done safely.
pub fn rewrite(template: &str, labels: &[&str]) -> Option<String> {
    // Words inside quotes (label values) are not among these.
    let words = words(template);
    if words.iter().any(|(_, w)| REFUSED.contains(&w.as_str())) {
        return None;
    }
    let extra = labels.join(", ");
    let bytes = template.as_bytes();
    // Insertions (at byte offset, text), applied from the end.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut aggregated = false;
    for (at, word) in &words {
        if !AGGREGATIONS.contains(&word.as_str()) {
            continue;
        }
        let after = skip_space(bytes, at + word.len());
        if template[after..].starts_with("by") && is_word_end(bytes, after + 2) {
            // `sum by (le) (…)`: add ours inside the clause.
            let open = skip_space(bytes, after + 2);
            let close = matching(bytes, open)?;
            let inside = template[open + 1..close].trim();
            let sep = if inside.is_empty() { "" } else { ", " };
            inserts.push((close, format!("{sep}{extra}")));
            aggregated = true;
        } else if bytes.get(after) == Some(&b'(') {
            let close = matching(bytes, after)?;
            let tail = skip_space(bytes, close + 1);
            if template[tail..].starts_with("by") && is_word_end(bytes, tail + 2) {
                // `sum(…) by (le)`: the clause after the argument.
                let open = skip_space(bytes, tail + 2);
                let clause_close = matching(bytes, open)?;
                let inside = template[open + 1..clause_close].trim();
                let sep = if inside.is_empty() { "" } else { ", " };
                inserts.push((clause_close, format!("{sep}{extra}")));
            } else {
                inserts.push((after, format!(" by ({extra}) ")));
            }
            aggregated = true;
        }
        // `group` as a label name or a function without parentheses: left alone.
    }
    // Without an aggregation every series of every pod comes back: not one per track.
    if !aggregated {
        return None;
    }
    let mut out = template.to_string();
    inserts.sort_by_key(|i| std::cmp::Reverse(i.0));
    for (at, text) in inserts {
        out.insert_str(at, &text);
    }
    Some(out)
}

/// Identifiers outside label matchers' values, with their byte offsets.
fn words(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_quotes: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = in_quotes {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                in_quotes = None;
            }
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' || b == b'`' {
            in_quotes = Some(b);
            i += 1;
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b':'))
            {
                i += 1;
            }
            // A word right after `$` is a template variable, not PromQL.
            if start == 0 || bytes[start - 1] != b'$' {
                out.push((start, text[start..i].to_string()));
            }
            continue;
        }
        i += 1;
    }
    out
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

fn is_word_end(bytes: &[u8], i: usize) -> bool {
    bytes
        .get(i)
        .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// The index of the `)` matching the `(` at `open`.
fn matching(bytes: &[u8], open: usize) -> Option<usize> {
    if bytes.get(open) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' | b'`' => quote = Some(b),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Stands for the rollout's name while `[fleet] service` is rendered: no name holds it.
const ROLLOUT_MARK: &str = "\u{1}rollout\u{1}";

/// The whole fleet's selector: `[fleet] service` (label matchers with `$rollout`) with its
/// `label="$rollout"` matcher made `label=~"a|b|…"` and every other matcher kept
/// (`app="$rollout", env="prod"` gives `app=~"a|b", env="prod"`). `None` when the template
/// does not match the rollout's name by `label` alone; the fleet is asked per rollout then.
pub fn members_selector(service: &str, label: &str, members: &[String]) -> Option<String> {
    let regex = crate::metrics::template::escape_label_value(&members_regex(members));
    with_rollout_matcher(service, label, &format!("{label}=~\"{regex}\""))
}

/// Every rollout's selector, for a recording rule: `[fleet] service` with `label!=""` in
/// place of `label="$rollout"` (`None` as for [`members_selector`]).
pub fn any_member_selector(service: &str, label: &str) -> Option<String> {
    with_rollout_matcher(service, label, &format!("{label}!=\"\""))
}

/// `service` rendered with its one `label="$rollout"` matcher replaced by `matcher`.
fn with_rollout_matcher(service: &str, label: &str, matcher: &str) -> Option<String> {
    let rendered = crate::metrics::template::fill_rollout(service, ROLLOUT_MARK);
    let marked = format!("\"{ROLLOUT_MARK}\"");
    let at = rendered.find(&marked)?;
    if rendered[at + marked.len()..].contains(ROLLOUT_MARK) {
        return None;
    }
    // Before the quoted name: `label`, spaces, `=` (not `=~` or `!=`), spaces.
    let before = rendered[..at].trim_end().strip_suffix('=')?;
    if before.ends_with('!') {
        return None;
    }
    let name_end = before.trim_end();
    let name_start = name_end
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    if &name_end[name_start..] != label {
        return None;
    }
    Some(format!(
        "{}{matcher}{}",
        &rendered[..name_start],
        &rendered[at + marked.len()..]
    ))
}

/// A regex alternation matching exactly these names (each escaped).
pub fn members_regex(names: &[String]) -> String {
    names
        .iter()
        .map(|n| regex_escape(n))
        .collect::<Vec<_>>()
        .join("|")
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The series of one grouped range answer, by the value of `rollout_label`, then of
/// `hash_label`.
pub fn by_member(
    series: Vec<(Labels, Vec<Sample>)>,
    rollout_label: &str,
    hash_label: &str,
) -> Result<ByMember<Vec<Sample>>, String> {
    let mut out: ByMember<Vec<Sample>> = HashMap::new();
    for (labels, samples) in series {
        let value = |label: &str| labels.get(label).map(|v| v.to_string()).unwrap_or_default();
        let (member, hash) = (value(rollout_label), value(hash_label));
        let hashes = out.entry(member.clone()).or_default();
        if hashes.insert(hash.clone(), samples).is_some() {
            return Err(format!(
                "the grouped query returned two series for {rollout_label}={member:?}, \
                 {hash_label}={hash:?}: aggregate it"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: [&str; 2] = ["rollout", "rollouts_pod_template_hash"];

    #[test]
    fn a_by_clause_gets_the_group_labels() {
        assert_eq!(
            rewrite(
                "histogram_quantile(0.95, sum by (le) (rate(h_bucket{$selector}[$window])))",
                &L
            )
            .as_deref(),
            Some(
                "histogram_quantile(0.95, sum by (le, rollout, rollouts_pod_template_hash) (rate(h_bucket{$selector}[$window])))"
            )
        );
        assert_eq!(
            rewrite("sum(rate(x{$selector}[1m])) by (le)", &L).as_deref(),
            Some("sum(rate(x{$selector}[1m])) by (le, rollout, rollouts_pod_template_hash)")
        );
    }

    #[test]
    fn a_bare_aggregation_gets_a_by_clause_on_both_sides_of_a_ratio() {
        assert_eq!(
            rewrite(
                r#"sum(rate(r{$selector, code=~"5.."}[$window])) / sum(rate(r{$selector}[$window]))"#,
                &L
            )
            .as_deref(),
            Some(
                r#"sum by (rollout, rollouts_pod_template_hash) (rate(r{$selector, code=~"5.."}[$window])) / sum by (rollout, rollouts_pod_template_hash) (rate(r{$selector}[$window]))"#
            )
        );
    }

    #[test]
    fn what_cannot_be_grouped_safely_is_left_per_rollout() {
        for t in [
            "sum without (pod) (rate(x{$selector}[1m]))",
            "topk(1, rate(x{$selector}[1m]))",
            "sum(rate(a{$selector}[1m])) / on(job) sum(rate(b{$selector}[1m]))",
            "rate(x{$selector}[1m])",
            "quantile(0.9, rate(x{$selector}[1m]))",
        ] {
            assert_eq!(rewrite(t, &L), None, "{t}");
        }
        // A word inside a label value is a value, not an operator.
        assert!(rewrite(r#"sum(rate(x{$selector, mode="without"}[1m]))"#, &L).is_some());
    }

    #[test]
    fn the_fleet_selector_keeps_the_other_matchers_of_fleet_service() {
        let names = vec!["a.b".to_string(), "c".to_string()];
        let sel = |service: &str, label: &str| members_selector(service, label, &names);
        assert_eq!(
            sel(r#"app="$rollout""#, "app").as_deref(),
            Some(r#"app=~"a\\.b|c""#)
        );
        assert_eq!(
            sel(r#"env="prod", app = "$rollout", team=~"x.*""#, "app").as_deref(),
            Some(r#"env="prod", app=~"a\\.b|c", team=~"x.*""#)
        );
        for (service, label) in [
            (r#"app="$rollout""#, "rollout"),
            (r#"app="$rollout-svc""#, "app"),
            (r#"app!="$rollout""#, "app"),
            (r#"app=~"$rollout""#, "app"),
            (r#"myapp="$rollout""#, "app"),
            (r#"app="$rollout", svc="$rollout""#, "app"),
            ("", "app"),
        ] {
            assert_eq!(sel(service, label), None, "{service} by {label}");
        }
    }

    #[test]
    fn members_are_matched_exactly() {
        let names = vec!["a.b".to_string(), "c".to_string()];
        assert_eq!(members_regex(&names), r"a\.b|c");
    }

    #[test]
    fn two_series_for_one_member_is_an_error_not_a_guess() {
        let labels = |r: &str, h: &str| {
            Labels::from([
                ("rollout".into(), r.into()),
                ("rollouts_pod_template_hash".into(), h.into()),
            ])
        };
        let ok = by_member(
            vec![(labels("a", "1"), vec![]), (labels("a", "2"), vec![])],
            L[0],
            L[1],
        )
        .expect("two tracks");
        assert_eq!(ok["a"].len(), 2);
        let err = by_member(
            vec![(labels("a", "1"), vec![]), (labels("a", "1"), vec![])],
            L[0],
            L[1],
        )
        .expect_err("ambiguous");
        assert!(err.contains("two series"), "{err}");
    }
}
