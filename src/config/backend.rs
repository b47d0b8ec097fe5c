//! `[backend]`: which deploy backend and its keys (one flat table, so every key's error keeps
//! its file:line:col), mapped to each backend's own settings.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use crate::backend::BackendSettings;
use crate::backend::argo::ArgoSettings;
use crate::backend::command::CommandSettings;
use crate::backend::http::HttpSettings;
use crate::domain::format::humantime_serde;
use crate::metrics::client;

/// `[backend]`: which backend (`kind`) and that backend's own settings. A new backend adds its
/// keys to the table below, a variant here, and its arm in `BackendConfig::settings` (its
/// `backend::BackendSettings` variant; `setup` builds whichever it is).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "BackendTable")]
pub enum BackendConfig {
    Http(HttpConfig),
    Command(CommandBackendConfig),
    Argo(ArgoConfig),
    Demo(DemoConfig),
}

/// `kind = "http"`: the deploy API at `url`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpConfig {
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// `kind = "command"`: the scripts of `[backend.command]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandBackendConfig {
    pub command: Option<CommandConfig>,
}

/// `kind = "argo"`: the kubeconfig context, the namespaces and the label selector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArgoConfig {
    /// Default: the kubeconfig's current context, like kubectl.
    pub context: Option<String>,
    /// One namespace (the older key): the same as `namespaces = ["x"]`.
    pub namespace: Option<String>,
    /// Default: every namespace the context may list, else the context's namespace.
    pub namespaces: Option<Vec<String>>,
    /// A Kubernetes label selector the listed Rollouts must match.
    pub selector: Option<String>,
    /// Not Argo keys: kept only to say that the kubeconfig gives the server and credentials.
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// `kind = "demo"`: the simulator's scenario, seed and speed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemoConfig {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub speed: Option<f64>,
}

/// The `[backend]` table as written: one table for every kind, so an unknown key's error lists
/// every key at its line and column (the contract of the config's error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BackendKind {
    Http,
    Argo,
    Command,
    Demo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendTable {
    kind: BackendKind,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    scenario: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    command: Option<CommandConfig>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    #[serde(default)]
    selector: Option<String>,
}

/// Keys of another kind are ignored, as they always were (argo's url / token_file excepted: see
/// `ArgoConfig::settings`).
impl From<BackendTable> for BackendConfig {
    fn from(t: BackendTable) -> Self {
        match t.kind {
            BackendKind::Http => Self::Http(HttpConfig {
                url: t.url,
                token_file: t.token_file,
            }),
            BackendKind::Command => Self::Command(CommandBackendConfig { command: t.command }),
            BackendKind::Argo => Self::Argo(ArgoConfig {
                context: t.context,
                namespace: t.namespace,
                namespaces: t.namespaces,
                selector: t.selector,
                url: t.url,
                token_file: t.token_file,
            }),
            BackendKind::Demo => Self::Demo(DemoConfig {
                scenario: t.scenario,
                seed: t.seed,
                speed: t.speed,
            }),
        }
    }
}

/// What `[backend]` asks for: a deploy backend's settings, or the simulator (`demo`, which is
/// the metrics source too, so `setup` builds the whole console from it).
#[derive(Debug, Clone)]
pub enum BackendChoice<'a> {
    Deploy(Box<BackendSettings>),
    Simulator(&'a DemoConfig),
}

impl BackendConfig {
    /// The chosen backend's settings (the words of the first mistake in its keys).
    pub fn settings(&self) -> Result<BackendChoice<'_>, String> {
        Ok(BackendChoice::Deploy(Box::new(match self {
            Self::Http(c) => BackendSettings::Http(c.settings()?),
            Self::Command(c) => BackendSettings::Command(c.settings()?),
            Self::Argo(c) => BackendSettings::Argo(c.settings()?),
            Self::Demo(c) => return Ok(BackendChoice::Simulator(c)),
        })))
    }
}

/// Every backend's calls give up after this long (the console's own timeout is longer).
const BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpConfig {
    /// The deploy API client's settings; reads the token file (an empty one is refused).
    pub fn settings(&self) -> Result<HttpSettings, String> {
        let url = self
            .url
            .clone()
            .ok_or("[backend] kind = \"http\" needs url = \"http://host:port\"")?;
        let token = self
            .token_file
            .as_deref()
            .map(|f| client::read_secret(f, "[backend] token_file"))
            .transpose()?;
        Ok(HttpSettings {
            url,
            token,
            timeout: BACKEND_TIMEOUT,
        })
    }
}

impl CommandBackendConfig {
    /// The command backend's settings: `[backend.command]` with a status command.
    pub fn settings(&self) -> Result<CommandSettings, String> {
        let example = "status = [\"./deploy.sh\", \"status\", \"{name}\"] \
                       (and promote / pause / resume / rollback to act)";
        let command = self.command.as_ref().ok_or_else(|| {
            format!("[backend] kind = \"command\" needs a [backend.command] section with {example}")
        })?;
        if command.status.is_empty() {
            return Err(format!(
                "[backend.command] status is empty: give the command that prints the \
                 rollout's JSON, e.g. {example}"
            ));
        }
        Ok(command.into())
    }
}

impl ArgoConfig {
    /// The Argo client's settings. The server and credentials come from the kubeconfig, as for
    /// kubectl, so a url or token_file is a mistake worth naming.
    pub fn settings(&self) -> Result<ArgoSettings, String> {
        if self.url.is_some() || self.token_file.is_some() {
            return Err(
                "[backend] kind = \"argo\" takes the server and credentials from the \
                 kubeconfig: remove url / token_file (choose a context = \"...\" instead)"
                    .into(),
            );
        }
        let namespaces = match (&self.namespace, &self.namespaces) {
            (Some(_), Some(_)) => {
                return Err("[backend] namespace and namespaces are both set: keep one \
                            (namespaces = [\"a\", \"b\"] covers both)"
                    .into());
            }
            (Some(one), None) => vec![one.clone()],
            (None, Some(list)) if list.is_empty() => {
                return Err("[backend] namespaces is empty: leave it out to list every \
                            namespace the context may"
                    .into());
            }
            (None, Some(list)) => {
                if let Some(blank) = list
                    .iter()
                    .find(|ns| ns.trim().is_empty() || ns.contains('/'))
                {
                    return Err(format!(
                        "[backend] namespaces: {blank:?} is not a namespace"
                    ));
                }
                list.clone()
            }
            (None, None) => Vec::new(),
        };
        if let Some(selector) = &self.selector {
            crate::backend::argo::validate_selector(selector)
                .map_err(|why| format!("[backend] selector: {why}"))?;
        }
        Ok(ArgoSettings {
            kubeconfig: None,
            context: self.context.clone(),
            namespaces,
            selector: self.selector.clone(),
            timeout: Some(BACKEND_TIMEOUT),
        })
    }
}

/// `[backend.command]`: argv templates run without a shell (see assets/deploy-api.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Prints the rollout as the deploy API's `Rollout` JSON on stdout.
    pub status: Vec<String>,
    /// Optional: prints the rollouts' names (one a line, or JSON), for the fleet screen.
    #[serde(default)]
    pub list: Option<Vec<String>>,
    /// Optional: prints every rollout whole (`{"rollouts": [...]}`): one run reads the fleet.
    #[serde(default)]
    pub status_all: Option<Vec<String>>,
    #[serde(default)]
    pub promote: Option<Vec<String>>,
    #[serde(default)]
    pub pause: Option<Vec<String>>,
    #[serde(default)]
    pub resume: Option<Vec<String>>,
    #[serde(default)]
    pub rollback: Option<Vec<String>>,
    /// Optional: skip the remaining steps (offered as `P` only when set).
    #[serde(default)]
    pub promote_full: Option<Vec<String>>,
    /// Optional: start an aborted rollout again (offered as `t` only when set).
    #[serde(default)]
    pub retry: Option<Vec<String>>,
    /// Optional: restore the previous revision (offered as `u` only when set).
    #[serde(default)]
    pub undo: Option<Vec<String>>,
    /// Per command run; the process is killed when it is over.
    #[serde(default = "default_command_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The phases, for status commands whose JSON has no `steps`.
    #[serde(default)]
    pub steps: Vec<crate::domain::Step>,
}

/// The command backend's settings.
impl From<&CommandConfig> for CommandSettings {
    fn from(c: &CommandConfig) -> Self {
        CommandSettings {
            status: c.status.clone(),
            list: c.list.clone(),
            status_all: c.status_all.clone(),
            promote: c.promote.clone(),
            pause: c.pause.clone(),
            resume: c.resume.clone(),
            rollback: c.rollback.clone(),
            promote_full: c.promote_full.clone(),
            retry: c.retry.clone(),
            undo: c.undo.clone(),
            timeout: c.timeout,
            steps: c.steps.clone(),
        }
    }
}

fn default_command_timeout() -> Duration {
    Duration::from_secs(30)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn argo_namespaces_and_selector_map_to_its_settings() {
        let at = Path::new("c.toml");
        let settings = |extra: &str| {
            let text = format!("[backend]\nkind = \"argo\"\n{extra}");
            let Some(BackendConfig::Argo(c)) = parse(&text, at).expect("parses").backend else {
                panic!("kind = \"argo\"");
            };
            c.settings()
        };
        let s = settings("namespaces = [\"a\", \"b\"]\nselector = \"team=payments,tier!=batch\"\n")
            .expect("valid");
        assert_eq!(s.namespaces, ["a", "b"]);
        assert_eq!(s.selector.as_deref(), Some("team=payments,tier!=batch"));
        assert_eq!(
            settings("").expect("valid").namespaces,
            Vec::<String>::new()
        );
        assert_eq!(
            settings("namespace = \"x\"\n").expect("valid").namespaces,
            ["x"]
        );

        let err = settings("namespace = \"x\"\nnamespaces = [\"a\"]\n").expect_err("both");
        assert!(err.contains("namespace and namespaces"), "{err}");
        let err = settings("namespaces = []\n").expect_err("empty");
        assert!(err.contains("namespaces is empty"), "{err}");
        let err = settings("selector = \"team=payments,\"\n").expect_err("stray comma");
        assert!(err.starts_with("[backend] selector: "), "{err}");
        assert!(err.contains("stray comma"), "{err}");
        let err = settings("selector = \"team in (a, b\"\n").expect_err("unbalanced");
        assert!(err.contains("unbalanced parentheses"), "{err}");
    }

    #[test]
    fn the_command_list_key_is_an_optional_argv_and_a_wrong_type_names_its_place() {
        let at = Path::new("c.toml");
        let command = |extra: &str| {
            let text = format!(
                "[backend]\nkind = \"command\"\n[backend.command]\nstatus = [\"s\"]\n{extra}"
            );
            parse(&text, at).map(|c| match c.backend {
                Some(BackendConfig::Command(c)) => c.settings(),
                other => panic!("kind = \"command\", not {other:?}"),
            })
        };
        let argv = "list = [\"kubectl\", \"get\", \"rollouts.argoproj.io\", \"-o\", \"name\"]\n";
        let s = command(argv).expect("parses").expect("settings");
        assert_eq!(
            s.list.as_deref(),
            Some(
                ["kubectl", "get", "rollouts.argoproj.io", "-o", "name"]
                    .map(String::from)
                    .as_slice()
            )
        );
        assert_eq!(command("").expect("parses").expect("settings").list, None);

        let err = command("list = \"kubectl get rollouts\"\n")
            .expect_err("a string")
            .0;
        assert!(err.starts_with("config error in c.toml:5:8\n"), "{err}");
        assert!(err.contains("expected a sequence"), "{err}");
        let err = command("list = [\"kubectl\", 3]\n")
            .expect_err("a number")
            .0;
        assert!(err.starts_with("config error in c.toml:5:20\n"), "{err}");
    }

    #[test]
    fn backend_is_one_variant_per_kind_mapped_to_its_adapters_settings() {
        let at = Path::new("c.toml");
        let argo = "[backend]\nkind = \"argo\"\ncontext = \"prod\"\nnamespace = \"shop\"\n";
        let Some(BackendConfig::Argo(c)) = parse(argo, at).expect("argo").backend else {
            panic!("kind = \"argo\"");
        };
        let s = c.settings().expect("settings");
        assert_eq!(
            (s.context.as_deref(), s.namespaces.as_slice(), s.timeout),
            (
                Some("prod"),
                ["shop".to_string()].as_slice(),
                Some(BACKEND_TIMEOUT)
            )
        );
        let with_url = format!("{argo}url = \"http://x\"\n");
        let Some(BackendConfig::Argo(c)) = parse(&with_url, at).expect("parses").backend else {
            panic!("kind = \"argo\"");
        };
        let err = c.settings().expect_err("argo has no url");
        assert!(err.contains("from the kubeconfig"), "{err}");

        let demo = "[backend]\nkind = \"demo\"\nseed = 7\nspeed = 2.5\n";
        let backend = parse(demo, at).expect("demo").backend;
        assert_eq!(
            backend,
            Some(BackendConfig::Demo(DemoConfig {
                scenario: None,
                seed: Some(7),
                speed: Some(2.5),
            }))
        );

        let http = "[backend]\nkind = \"http\"\n";
        let Some(BackendConfig::Http(c)) = parse(http, at).expect("http").backend else {
            panic!("kind = \"http\"");
        };
        let err = c.settings().expect_err("no url");
        assert!(err.contains("kind = \"http\" needs url"), "{err}");
        let c = HttpConfig {
            url: Some("http://deploy:8080".into()),
            token_file: None,
        };
        assert_eq!(c.settings().expect("settings").url, "http://deploy:8080");

        let command = "[backend]\nkind = \"command\"\n";
        let Some(BackendConfig::Command(c)) = parse(command, at).expect("command").backend else {
            panic!("kind = \"command\"");
        };
        let err = c.settings().expect_err("no [backend.command]");
        assert!(err.contains("needs a [backend.command] section"), "{err}");
    }
}
