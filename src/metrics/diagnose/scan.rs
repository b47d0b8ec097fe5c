//! The vector selectors of a rendered PromQL query (`metric{matchers}[range]`, `{__name__="x"}`)
//! and the labels it groups or matches on (`by (...)`, `without (...)`, `on (...)`,
//! `ignoring (...)`): a small scanner, not a parser. Strings, function names, numbers and
//! durations are skipped.

use serde::Serialize;

/// One label matcher as written, e.g. `job="checkout"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matcher {
    pub label: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// The value, unescaped.
    pub value: String,
    /// The matcher exactly as written in the query (quotes and escapes kept).
    pub raw: String,
}

/// One vector selector of a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// The metric name (written before the braces, or as `__name__="x"`).
    pub name: Option<String>,
    /// Every other matcher, in order.
    pub matchers: Vec<Matcher>,
    /// The range of a range selector (`5m` of `x[5m]`; a subquery's `5m:1m` too).
    pub range: Option<String>,
}

impl Selector {
    /// The selector as the series API takes it (`match[]`), without `skip` (a matcher's index).
    pub fn text_without(&self, skip: Option<usize>) -> String {
        let raws: Vec<&str> = self
            .matchers
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, m)| m.raw.as_str())
            .collect();
        let name = self.name.as_deref().unwrap_or("");
        if raws.is_empty() && !name.is_empty() {
            return name.to_string();
        }
        format!("{name}{{{}}}", raws.join(", "))
    }

    /// The whole selector, as the series API takes it.
    pub fn text(&self) -> String {
        self.text_without(None)
    }
}

/// What a query selects and the labels it groups or matches on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub selectors: Vec<Selector>,
    /// Labels of `by`, `without`, `on`, `ignoring` and `group_left`/`group_right` lists, once each.
    pub grouping: Vec<String>,
}

/// Words that are never metric names when not followed by `(`.
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

const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn skip_ws(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// The end (past the closing quote) of the string starting at `i`, and its unescaped text.
fn string_at(chars: &[char], i: usize) -> (usize, String) {
    let quote = chars[i];
    let mut j = i + 1;
    let mut text = String::new();
    while j < chars.len() && chars[j] != quote {
        if chars[j] == '\\' && quote != '`' && j + 1 < chars.len() {
            text.push(match chars[j + 1] {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => other,
            });
            j += 2;
        } else {
            text.push(chars[j]);
            j += 1;
        }
    }
    (j + 1, text)
}

/// Scans a rendered query.
pub fn scan(promql: &str) -> Scan {
    let chars: Vec<char> = promql.chars().collect();
    let mut out = Scan::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = string_at(&chars, i).0,
            '#' => {
                // A comment, to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' => {
                let (end, selector) = braces(&chars, i, None);
                i = end;
                push(&mut out, selector, &chars, &mut i);
            }
            '[' => {
                // A range or subquery not right after a selector (e.g. after `)`): skip it.
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number or a duration (`0.95`, `1e3`, `5m`, `0x1f`).
                while i < chars.len() && (is_word(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = skip_ws(&chars, i);
                let lower = word.to_ascii_lowercase();
                if GROUPING.contains(&lower.as_str()) {
                    if chars.get(next) == Some(&'(') {
                        i = label_list(&chars, next, &mut out.grouping);
                    }
                } else if chars.get(next) == Some(&'(') || KEYWORDS.contains(&lower.as_str()) {
                    // A function or an aggregation: its arguments are scanned as they come.
                } else if chars.get(next) == Some(&'{') {
                    let (end, selector) = braces(&chars, next, Some(word));
                    i = end;
                    push(&mut out, selector, &chars, &mut i);
                } else {
                    let selector = Selector {
                        name: Some(word),
                        matchers: Vec::new(),
                        range: None,
                    };
                    push(&mut out, selector, &chars, &mut i);
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Adds a selector, with the range that follows it (if any), once.
fn push(out: &mut Scan, mut selector: Selector, chars: &[char], i: &mut usize) {
    let next = skip_ws(chars, *i);
    if chars.get(next) == Some(&'[') {
        let close = chars[next..]
            .iter()
            .position(|c| *c == ']')
            .map_or(chars.len(), |p| next + p);
        let range: String = chars[next + 1..close.min(chars.len())].iter().collect();
        selector.range = Some(range.trim().to_string());
        *i = close + 1;
    }
    if !out.selectors.contains(&selector) {
        out.selectors.push(selector);
    }
}

/// A `(a, b)` label list starting at `open`; returns the index past `)`.
fn label_list(chars: &[char], open: usize, into: &mut Vec<String>) -> usize {
    let mut i = open + 1;
    while i < chars.len() && chars[i] != ')' {
        if is_word(chars[i]) {
            let start = i;
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            let label: String = chars[start..i].iter().collect();
            if !into.contains(&label) {
                into.push(label);
            }
        } else if matches!(chars[i], '"' | '\'' | '`') {
            i = string_at(chars, i).0;
        } else {
            i += 1;
        }
    }
    i + 1
}

/// The matchers between `{` at `open` and its `}`; returns the index past `}`.
fn braces(chars: &[char], open: usize, name: Option<String>) -> (usize, Selector) {
    let mut selector = Selector {
        name,
        matchers: Vec::new(),
        range: None,
    };
    let mut i = open + 1;
    loop {
        i = skip_ws(chars, i);
        match chars.get(i) {
            None => return (i, selector),
            Some('}') => return (i + 1, selector),
            Some(',') => i += 1,
            Some('"' | '\'' | '`') => {
                // Prometheus 3: a quoted metric name on its own, `{"my.metric"}`.
                let (end, text) = string_at(chars, i);
                let after = skip_ws(chars, end);
                if matches!(chars.get(after), Some('=' | '!')) {
                    let (end, m) = matcher(chars, i, text, end);
                    push_matcher(&mut selector, m);
                    i = end;
                } else {
                    selector.name.get_or_insert(text);
                    i = end;
                }
            }
            Some(c) if is_word(*c) => {
                let start = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                let label: String = chars[start..i].iter().collect();
                let (end, m) = matcher(chars, start, label, i);
                push_matcher(&mut selector, m);
                i = end;
            }
            Some(_) => i += 1,
        }
    }
}

fn push_matcher(selector: &mut Selector, m: Option<Matcher>) {
    let Some(m) = m else { return };
    if m.label == "__name__" && m.op == "=" && selector.name.is_none() {
        selector.name = Some(m.value);
    } else {
        selector.matchers.push(m);
    }
}

/// `label op "value"` from `start` (the label's first character), the label read up to `i`.
fn matcher(chars: &[char], start: usize, label: String, i: usize) -> (usize, Option<Matcher>) {
    let mut j = skip_ws(chars, i);
    let op = match (chars.get(j), chars.get(j + 1)) {
        (Some('='), Some('~')) => "=~",
        (Some('!'), Some('=')) => "!=",
        (Some('!'), Some('~')) => "!~",
        (Some('='), _) => "=",
        _ => return (j, None),
    };
    j = skip_ws(chars, j + op.len());
    if !matches!(chars.get(j), Some('"' | '\'' | '`')) {
        return (j, None);
    }
    let (end, value) = string_at(chars, j);
    let raw: String = chars[start..end.min(chars.len())].iter().collect();
    let m = Matcher {
        label,
        op: op.to_string(),
        value,
        raw,
    };
    (end, Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(promql: &str) -> Vec<String> {
        scan(promql)
            .selectors
            .into_iter()
            .map(|s| s.text())
            .collect()
    }

    #[test]
    fn selectors_with_matchers_ranges_and_grouping() {
        let s = scan(
            r#"histogram_quantile(0.95, sum by (le) (rate(http_bucket{job="a", x=~"b{1}"}[5m] offset 1m)))"#,
        );
        assert_eq!(s.grouping, ["le"]);
        assert_eq!(s.selectors.len(), 1);
        let sel = &s.selectors[0];
        assert_eq!(sel.name.as_deref(), Some("http_bucket"));
        assert_eq!(sel.range.as_deref(), Some("5m"));
        assert_eq!(sel.matchers[0].label, "job");
        assert_eq!(sel.matchers[1].op, "=~");
        assert_eq!(sel.matchers[1].value, "b{1}");
        assert_eq!(sel.text(), r#"http_bucket{job="a", x=~"b{1}"}"#);
        assert_eq!(sel.text_without(Some(0)), r#"http_bucket{x=~"b{1}"}"#);
    }

    #[test]
    fn two_selectors_of_a_ratio_and_a_bare_name() {
        assert_eq!(
            names(
                r#"sum(rate(errors_total{job="x", code=~"5.."}[1m])) / sum(rate(requests_total[1m])) > bool 0.5e3"#
            ),
            [r#"errors_total{job="x", code=~"5.."}"#, "requests_total"]
        );
        assert_eq!(names("vector(1) and on (pod) up"), ["up"]);
        assert_eq!(scan("vector(1) and on (pod) up").grouping, ["pod"]);
    }

    #[test]
    fn name_matchers_strings_escapes_and_without() {
        let s =
            scan(r#"sum without (instance, pod) ({__name__="up", job!="a\"b", env!~'dev|test'})"#);
        assert_eq!(s.grouping, ["instance", "pod"]);
        let sel = &s.selectors[0];
        assert_eq!(sel.name.as_deref(), Some("up"));
        assert_eq!(sel.matchers.len(), 2);
        assert_eq!(sel.matchers[0].value, "a\"b");
        assert_eq!(sel.matchers[0].raw, r#"job!="a\"b""#);
        assert_eq!(sel.matchers[1].op, "!~");
        assert_eq!(sel.text(), r#"up{job!="a\"b", env!~'dev|test'}"#);
    }

    #[test]
    fn keywords_functions_numbers_and_subqueries_are_not_selectors() {
        let s = scan(
            r#"max_over_time(rate(x{a="1"}[1m])[5m:30s]) * on(pod) group_left(node) kube_pod_info offset 5m"#,
        );
        let texts: Vec<String> = s.selectors.iter().map(Selector::text).collect();
        assert_eq!(texts, [r#"x{a="1"}"#, "kube_pod_info"]);
        assert_eq!(s.grouping, ["pod", "node"]);
        assert!(scan("1 + 2 * time()").selectors.is_empty());
        // The same selector twice is listed once.
        assert_eq!(names("x{a=\"1\"} / x{a=\"1\"}").len(), 1);
    }
}
