//! The metric names a PromQL expression selects, to look up behind an empty answer.

/// The metric names a PromQL expression selects (`rate(http_requests_total{job="x"}[1m])` →
/// `http_requests_total`): identifiers outside strings, braces and brackets that are not
/// functions, keywords or numbers.
pub fn metric_names(promql: &str) -> Vec<String> {
    // Keywords and aggregation operators (`sum by (le) (…)` has no parenthesis after `sum`).
    const KEYWORDS: [&str; 31] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
        "step",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    let chars: Vec<char> = promql.chars().collect();
    let mut names: Vec<String> = Vec::new();
    let (mut i, mut depth) = (0, 0usize);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                // Skip the string, escapes included.
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                depth += 1;
                i += 1;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let is_name = depth == 0
                    && !c.is_ascii_digit()
                    && next != Some(&'(')
                    && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
                    && !names.contains(&word);
                // `sum by (le)`: the labels after a grouping keyword are not names.
                if is_name && !in_grouping(&chars[..start]) {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Whether the text ends inside a `by (` / `without (` / `on (` / `ignoring (` / `group_*(`
/// label list.
fn in_grouping(before: &[char]) -> bool {
    let text: String = before.iter().collect();
    let Some(open) = text.rfind('(') else {
        return false;
    };
    if text[open..].contains(')') {
        return false;
    }
    let head = text[..open].trim_end();
    [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ]
    .iter()
    .any(|k| head.ends_with(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_skip_functions_labels_strings_and_keywords() {
        assert_eq!(
            metric_names(
                r#"histogram_quantile(0.95, sum by (le) (rate(http_bucket{job="a", x=~"b{1}"}[5m] offset 1m)))"#
            ),
            ["http_bucket"]
        );
        assert_eq!(
            metric_names("sum(rate(errors_total{$x}[1m])) / sum(rate(requests_total[1m]))"),
            ["errors_total", "requests_total"]
        );
        assert_eq!(metric_names("vector(1) and on (pod) up > 0.5e3"), ["up"]);
    }
}
