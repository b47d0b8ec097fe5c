//! What a `list` command prints: rollout names one a line, or JSON (an array, or the deploy API's
//! `{"rollouts": [...]}`, each item a name or an object with a `name`).

use serde_json::Value;

/// The names `stdout` gives, in its order; the reason when it is neither shape. Printing nothing
/// is an empty list.
pub(super) fn parse_list(stdout: &[u8]) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(stdout);
    let text = text.trim();
    if text.starts_with('[') || text.starts_with('{') {
        parse_json(text)
    } else {
        parse_lines(text)
    }
}

/// One name a line, blank lines and surrounding whitespace ignored; `kubectl -o name`'s
/// `rollout.argoproj.io/checkout` is `checkout` (everything up to the last `/` dropped).
fn parse_lines(text: &str) -> Result<Vec<String>, String> {
    text.lines()
        .enumerate()
        .map(|(at, line)| (at + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(number, line)| {
            let name = line.rsplit('/').next().unwrap_or(line);
            if name.is_empty() {
                Err(format!(
                    "line {number} ({line:?}) ends in '/', naming no rollout"
                ))
            } else if name.contains(char::is_whitespace) {
                // A table (`NAME  STATUS ...`) rather than names.
                Err(format!(
                    "line {number} ({line:?}) is more than a name: print one name a line"
                ))
            } else {
                Ok(name.to_string())
            }
        })
        .collect()
}

/// The items of a JSON list of rollouts: an array, or an object with a `rollouts` array (the
/// deploy API's `GET /rollouts`). Shared by `list` (names) and `status_all` (whole rollouts).
pub(super) fn list_items(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut fields) => match fields.remove("rollouts") {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err("JSON whose \"rollouts\" is not an array".into()),
            None => Err("a JSON object without a \"rollouts\" array".into()),
        },
        _ => Err("JSON that is neither an array nor an object".into()),
    }
}

/// An array, or an object with a `rollouts` array (the deploy API's `GET /rollouts`); each item
/// a name, or an object whose `name` is one (the rest of it is ignored).
fn parse_json(text: &str) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("bad JSON: {e}"))?;
    list_items(value)?
        .iter()
        .enumerate()
        .map(|(at, item)| {
            let name = match item {
                Value::String(name) => Some(name),
                Value::Object(fields) => match fields.get("name") {
                    Some(Value::String(name)) => Some(name),
                    _ => None,
                },
                _ => None,
            };
            match name.map(|n| n.trim()) {
                Some(name) if !name.is_empty() => Ok(name.to_string()),
                _ => Err(format!(
                    "item {} of the list is not a name nor an object with a \"name\" string",
                    at + 1
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lines_are_names_with_blanks_spaces_and_kinds_dropped() {
        let out = b"  checkout \n\n\trollout.argoproj.io/search\r\nshop/cart\n\n";
        assert_eq!(
            parse_list(out).expect("lines"),
            names(&["checkout", "search", "cart"])
        );
        assert_eq!(parse_list(b"").expect("nothing"), Vec::<String>::new());
        assert_eq!(parse_list(b"\n  \n").expect("blank"), Vec::<String>::new());
    }

    #[test]
    fn a_table_or_a_trailing_slash_is_not_a_list() {
        let err = parse_list(b"NAME      STATUS\ncheckout  Healthy\n").expect_err("a table");
        assert!(
            err.contains("line 1 (\"NAME      STATUS\") is more than a name"),
            "{err}"
        );
        let err = parse_list(b"checkout\n\nrollouts/\n").expect_err("no name");
        assert!(err.contains("line 3 (\"rollouts/\") ends in '/'"), "{err}");
    }

    #[test]
    fn json_arrays_and_the_deploy_apis_object_are_lists() {
        assert_eq!(
            parse_list(b" [\"checkout\", \"search\"]\n").expect("array"),
            names(&["checkout", "search"])
        );
        let api = br#"{"rollouts": ["checkout", {"name": "search", "step": 2, "steps": []}]}"#;
        assert_eq!(
            parse_list(api).expect("object"),
            names(&["checkout", "search"])
        );
        assert_eq!(parse_list(b"[]").expect("empty"), Vec::<String>::new());
        // JSON names are kept whole: a `namespace/name` stays as printed.
        assert_eq!(
            parse_list(br#"[{"name": "shop/checkout"}]"#).expect("slash"),
            names(&["shop/checkout"])
        );
    }

    #[test]
    fn json_of_another_shape_says_which() {
        let err = parse_list(br#"{"items": []}"#).expect_err("no rollouts");
        assert!(err.contains("without a \"rollouts\" array"), "{err}");
        let err = parse_list(br#"{"rollouts": "checkout"}"#).expect_err("not an array");
        assert!(err.contains("\"rollouts\" is not an array"), "{err}");
        let err = parse_list(br#"["checkout", {"id": 7}]"#).expect_err("no name");
        assert!(err.contains("item 2 of the list is not a name"), "{err}");
        let err = parse_list(br#"[3]"#).expect_err("a number");
        assert!(err.contains("item 1 of the list"), "{err}");
        let err = parse_list(b"[\"checkout\",").expect_err("cut short");
        assert!(err.starts_with("bad JSON: "), "{err}");
    }
}
