//! The label selector's syntax, checked when the config is read so a typo is named there and not
//! as an API server's 400 at the first LIST. Pure, no I/O. Accepts what `kubectl -l` accepts:
//! `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
//! joined by commas.

/// `Ok` or what is wrong, naming the requirement.
pub fn validate(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Err("the selector is empty: leave it out to list every rollout".into());
    }
    for requirement in split(selector)? {
        requirement_ok(requirement.trim())
            .map_err(|why| format!("selector requirement {:?}: {why}", requirement.trim()))?;
    }
    Ok(())
}

/// Commas outside parentheses separate requirements.
fn split(selector: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in selector.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(format!("selector {selector:?}: unbalanced parentheses"));
        }
    }
    if depth != 0 {
        return Err(format!("selector {selector:?}: unbalanced parentheses"));
    }
    parts.push(&selector[start..]);
    Ok(parts)
}

fn requirement_ok(r: &str) -> Result<(), String> {
    if r.is_empty() {
        return Err("empty (a stray comma?)".into());
    }
    if let Some(key) = r.strip_prefix('!') {
        return key_ok(key.trim());
    }
    for op in ["!=", "==", "="] {
        if let Some((key, value)) = r.split_once(op) {
            key_ok(key.trim())?;
            return value_ok(value.trim());
        }
    }
    let words: Vec<&str> = r.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        let set = rest
            .strip_prefix("notin")
            .or_else(|| rest.strip_prefix("in"))
            .ok_or("expected =, ==, !=, in or notin after the key")?
            .trim();
        key_ok(key)?;
        let values = set
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or("a set is written (a, b)")?;
        return values.split(',').try_for_each(|v| value_ok(v.trim()));
    }
    key_ok(r)
}

/// `[prefix/]name`: a DNS subdomain prefix and a name of at most 63 characters.
fn key_ok(key: &str) -> Result<(), String> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            let dns = !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|l| {
                    !l.is_empty()
                        && l.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            if !dns {
                return Err(format!("{prefix:?} is not a DNS prefix"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err("a key is missing".into());
    }
    name_ok(name).map_err(|why| format!("key {key:?} {why}"))
}

/// A value may be empty.
fn value_ok(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    name_ok(value).map_err(|why| format!("value {value:?} {why}"))
}

fn name_ok(s: &str) -> Result<(), &'static str> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    if s.len() > 63 {
        return Err("is longer than 63 characters");
    }
    if !s.starts_with(alnum) || !s.ends_with(alnum) {
        return Err("must start and end with a letter or digit");
    }
    if !s.chars().all(|c| alnum(c) || "-_.".contains(c)) {
        return Err("may hold only letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn kubectl_selectors_pass() {
        for s in [
            "app=shop",
            "app==shop,tier!=batch",
            "team in (a, b),!canary",
            "env notin (dev),example.com/owner=x",
            "managed",
            "app=",
        ] {
            assert_eq!(validate(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn typos_are_named() {
        let err = |s: &str| validate(s).expect_err(s);
        assert!(
            err("app=shop,").contains("stray comma"),
            "{}",
            err("app=shop,")
        );
        assert!(err("app=sh op").contains("\"app=sh op\""));
        assert!(err("app in (a,b").contains("unbalanced"));
        assert!(err("app in a,b").contains("(a, b)"));
        assert!(err("-app=x").contains("start and end"));
        assert!(err("").contains("empty"));
        assert!(err("app like x").contains("expected ="));
    }
}
