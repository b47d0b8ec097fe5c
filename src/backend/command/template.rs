//! The argv template language of `[backend.command]`: `{name}`, `{step}`, `{next_step}`,
//! `{weight}`, `{actor}` and `{reason}` inside arguments, substituted once and never rescanned;
//! `{reason}` is hidden when shown. Each key allows some of them (`status` only `{name}`, `list`
//! none).

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Name,
    Step,
    NextStep,
    Weight,
    Actor,
    Reason,
}

impl Var {
    pub(super) const ALL: [Self; 6] = [
        Self::Name,
        Self::Step,
        Self::NextStep,
        Self::Weight,
        Self::Actor,
        Self::Reason,
    ];

    pub(super) fn token(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Step => "step",
            Self::NextStep => "next_step",
            Self::Weight => "weight",
            Self::Actor => "actor",
            Self::Reason => "reason",
        }
    }

    /// Values from the environment (`$USER@host`) or typed by the user: left as `{actor}` and
    /// `{reason}` when a command is shown in an error, the events pane or the logs.
    pub(super) fn is_private(self) -> bool {
        matches!(self, Self::Actor | Self::Reason)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Text(String),
    Var(Var),
}

/// What the placeholders stand for in one run.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Values<'a> {
    pub(super) name: &'a str,
    pub(super) step: usize,
    pub(super) weight: u8,
    pub(super) actor: &'a str,
    pub(super) reason: &'a str,
}

impl Values<'_> {
    pub(super) fn get(&self, var: Var) -> Cow<'_, str> {
        match var {
            Var::Name => Cow::Borrowed(self.name),
            Var::Step => Cow::Owned(self.step.to_string()),
            Var::NextStep => Cow::Owned((self.step + 1).to_string()),
            Var::Weight => Cow::Owned(self.weight.to_string()),
            Var::Actor => Cow::Borrowed(self.actor),
            Var::Reason => Cow::Borrowed(self.reason),
        }
    }
}

/// One configured command, parsed once so a typo fails at start-up rather than at the first press.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Template {
    /// The config key: "status", "promote", ...
    key: &'static str,
    args: Vec<Vec<Piece>>,
}

impl Template {
    pub(super) fn parse(
        key: &'static str,
        argv: &[String],
        allowed: &[Var],
    ) -> Result<Self, String> {
        match argv.first() {
            None => {
                let name = if allowed.contains(&Var::Name) {
                    ", \"{name}\""
                } else {
                    ""
                };
                return Err(format!(
                    "[backend.command] {key} is empty: give the program and its arguments, \
                     e.g. {key} = [\"./deploy.sh\", \"{key}\"{name}]"
                ));
            }
            Some(program) if program.trim().is_empty() => {
                return Err(format!(
                    "[backend.command] {key}: the first element must be the program to run"
                ));
            }
            Some(_) => {}
        }
        let args = argv
            .iter()
            .map(|arg| parse_arg(key, arg, allowed))
            .collect::<Result<_, _>>()?;
        Ok(Self { key, args })
    }

    pub(super) fn render(&self, values: &Values<'_>) -> Vec<String> {
        self.args
            .iter()
            .map(|pieces| render_arg(pieces, values, false))
            .collect()
    }

    /// The command as shown to people: `./deploy.sh promote checkout --reason={reason}`.
    pub(super) fn shown(&self, values: &Values<'_>) -> String {
        self.args
            .iter()
            .map(|pieces| {
                let arg = render_arg(pieces, values, true);
                if arg.is_empty() || arg.contains(char::is_whitespace) || arg.contains('"') {
                    format!("{arg:?}")
                } else {
                    arg
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The program as written in the config, for logs (no value substituted into it).
    pub(super) fn program(&self) -> String {
        let no_values = Values::default();
        self.args
            .first()
            .map(|p| render_arg(p, &no_values, true))
            .unwrap_or_default()
    }
}

/// Split one argument into text and placeholders. `{word}` is a placeholder and must be known;
/// any other brace (`{}`, `{"a": 1}`) is plain text.
fn parse_arg(key: &str, arg: &str, allowed: &[Var]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word = after
            .find('}')
            .map(|close| &after[..close])
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let Some(word) = word else {
            text.push('{');
            rest = after;
            continue;
        };
        let var = Var::ALL
            .into_iter()
            .find(|v| v.token() == word)
            .ok_or_else(|| {
                format!(
                    "[backend.command] {key}: unknown placeholder {{{word}}} in {arg:?}; \
                     known: {}",
                    known(&Var::ALL)
                )
            })?;
        if allowed.is_empty() {
            return Err(format!(
                "[backend.command] {key}: {{{word}}} has no value there: {key} is not run \
                 for one rollout, so it takes no placeholders"
            ));
        }
        if !allowed.contains(&var) {
            return Err(format!(
                "[backend.command] {key}: {{{word}}} is only known when acting; {key} may use {}",
                known(allowed)
            ));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Var(var));
        rest = &after[word.len() + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn known(vars: &[Var]) -> String {
    vars.iter()
        .map(|v| format!("{{{}}}", v.token()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values are inserted as they are and never re-scanned: a reason containing `{name}` stays text.
fn render_arg(pieces: &[Piece], values: &Values<'_>, hide_private: bool) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) if hide_private && v.is_private() => {
                out.push('{');
                out.push_str(v.token());
                out.push('}');
            }
            Piece::Var(v) => out.push_str(&values.get(*v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_are_substituted_inside_arguments_and_never_rescanned() {
        let t = Template::parse(
            "promote",
            &args(&["deploy", "--to={name}@{next_step}", "{weight}%", "{reason}"]),
            &Var::ALL,
        )
        .expect("parses");
        let values = Values {
            name: "checkout",
            step: 1,
            weight: 25,
            actor: "alice@bastion",
            reason: "{name} \"; rm -rf /",
        };
        assert_eq!(
            t.render(&values),
            args(&["deploy", "--to=checkout@2", "25%", "{name} \"; rm -rf /"])
        );
        assert_eq!(t.shown(&values), "deploy --to=checkout@2 25% {reason}");
    }

    #[test]
    fn other_braces_are_text() {
        let t = Template::parse(
            "status",
            &args(&["jq", "{}", "{\"a\": 1}", "{"]),
            &[Var::Name],
        )
        .expect("parses");
        assert_eq!(
            t.render(&Values::default()),
            args(&["jq", "{}", "{\"a\": 1}", "{"])
        );
    }

    #[test]
    fn unknown_and_misplaced_placeholders_are_named() {
        let err = Template::parse("promote", &args(&["d", "--x={nmae}"]), &Var::ALL).unwrap_err();
        assert!(err.contains("unknown placeholder {nmae}"), "{err}");
        assert!(err.contains("{next_step}"), "{err}");
        let err = Template::parse("status", &args(&["d", "{step}"]), &[Var::Name]).unwrap_err();
        assert!(
            err.contains("status: {step} is only known when acting"),
            "{err}"
        );
        let err = Template::parse("pause", &[], &Var::ALL).unwrap_err();
        assert!(err.contains("[backend.command] pause is empty"), "{err}");
        assert!(err.contains("\"pause\", \"{name}\"]"), "{err}");
    }

    #[test]
    fn a_template_without_placeholders_names_the_one_it_was_given() {
        let t = Template::parse("list", &args(&["kubectl", "get", "{}"]), &[]).expect("parses");
        assert_eq!(
            t.render(&Values::default()),
            args(&["kubectl", "get", "{}"])
        );
        let err = Template::parse("list", &args(&["d", "--only={name}"]), &[]).unwrap_err();
        assert!(
            err.contains("list: {name} has no value there: list is not run for one rollout"),
            "{err}"
        );
        let err = Template::parse("list", &args(&["d", "{nmae}"]), &[]).unwrap_err();
        assert!(err.contains("unknown placeholder {nmae}"), "{err}");
        let err = Template::parse("list", &[], &[]).unwrap_err();
        assert!(
            err.ends_with("e.g. list = [\"./deploy.sh\", \"list\"]"),
            "{err}"
        );
    }
}
