//! The metric names a PromQL expression selects, to look up behind an empty answer (the
//! selectors as `diagnose::scan` finds them).

/// The metric names a PromQL expression selects (`rate(http_requests_total{job="x"}[1m])` →
/// `http_requests_total`): identifiers outside strings, braces and brackets that are not
/// functions, keywords or numbers.
pub fn metric_names(promql: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in super::diagnose::scan::scan(promql)
        .selectors
        .into_iter()
        .filter_map(|s| s.name)
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
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
