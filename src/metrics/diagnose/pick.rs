//! The pure choices of a diagnosis: which real metric names are close to a missing one, which
//! matchers are the culprits, and how many label values to show.

/// Label values shown at most for a label.
pub const SHOWN_VALUES: usize = 8;

/// The edit distance between two names (insertions, deletions, substitutions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The first two `_` parts of a name (`http_requests` of `http_requests_total`).
fn prefix(name: &str) -> String {
    name.split('_').take(2).collect::<Vec<_>>().join("_")
}

/// Real names close to `wanted`, closest first, at most `max`: those nearest by edit distance
/// (within a third of its length, at least 2; a name 1 or 2 edits further than the nearest is
/// left out), else those sharing its first two `_` parts.
pub fn close_names(wanted: &str, existing: &[String], max: usize) -> Vec<String> {
    let allowed = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = existing
        .iter()
        .filter(|n| n.as_str() != wanted)
        .map(|n| (edit_distance(wanted, n), n))
        .filter(|(d, _)| *d <= allowed)
        .collect();
    scored.sort();
    if let Some(&(best, _)) = scored.first() {
        scored.retain(|(d, _)| *d <= best + 2);
    } else {
        let wanted_prefix = prefix(wanted);
        if wanted_prefix.contains('_') {
            scored = existing
                .iter()
                .filter(|n| prefix(n) == wanted_prefix)
                .map(|n| (edit_distance(wanted, n), n))
                .collect();
            scored.sort();
        }
    }
    scored
        .into_iter()
        .take(max)
        .map(|(_, n)| n.clone())
        .collect()
}

/// The matchers whose removal alone makes the selector match (`drops[i]`: series found
/// without matcher `i`); when none does, every matcher that matches nothing on its own
/// (`alone[i]`: series found with matcher `i` and the name only).
pub fn culprits(drops: &[bool], alone: &[bool]) -> Vec<usize> {
    let single: Vec<usize> = (0..drops.len()).filter(|i| drops[*i]).collect();
    if !single.is_empty() {
        return single;
    }
    (0..alone.len()).filter(|i| !alone[*i]).collect()
}

/// At most `SHOWN_VALUES` values, closest to `asked` first, and how many are left out.
pub fn shown_values(values: &[String], asked: &str) -> (Vec<String>, usize) {
    let mut sorted: Vec<&String> = values.iter().collect();
    sorted.sort_by_key(|v| (edit_distance(asked, v), v.as_str()));
    let shown: Vec<String> = sorted
        .iter()
        .take(SHOWN_VALUES)
        .map(|v| v.to_string())
        .collect();
    let more = values.len().saturating_sub(shown.len());
    (shown, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            edit_distance("http_request_total", "http_requests_total"),
            1
        );
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn close_names_put_the_closest_first_and_skip_far_ones() {
        let existing = list(&[
            "up",
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "process_cpu_seconds_total",
            "go_goroutines",
        ]);
        // The one a letter away, not every http_ name.
        assert_eq!(
            close_names("http_request_total", &existing, 3),
            ["http_requests_total"]
        );
        // Nothing within a few edits: the names that share the first two parts.
        assert_eq!(
            close_names("process_cpu_total_usage", &existing, 3),
            ["process_cpu_seconds_total"]
        );
        assert!(close_names("zzz_unrelated_thing", &existing, 3).is_empty());
        assert_eq!(close_names("go_gorutines", &existing, 1), ["go_goroutines"]);
    }

    #[test]
    fn culprits_are_the_single_drops_else_the_lonely_misses() {
        assert_eq!(culprits(&[false, true, false], &[true, false, true]), [1]);
        // Two wrong matchers: dropping one alone never helps; each alone matches nothing.
        assert_eq!(culprits(&[false, false], &[false, false]), [0, 1]);
        assert_eq!(culprits(&[false, false], &[true, false]), [1]);
        assert!(culprits(&[false], &[true]).is_empty());
    }

    #[test]
    fn shown_values_are_capped_and_closest_first() {
        let values: Vec<String> = (0..12).map(|i| format!("svc-{i}")).collect();
        let (shown, more) = shown_values(&values, "svc-11");
        assert_eq!(shown.len(), SHOWN_VALUES);
        assert_eq!(shown[0], "svc-11");
        assert_eq!(more, 4);
        let (shown, more) = shown_values(&list(&["checkout", "prometheus"]), "chekout");
        assert_eq!(shown, ["checkout", "prometheus"]);
        assert_eq!(more, 0);
    }
}
