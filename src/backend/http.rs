//! `kind = "http"`: our documented deploy API (assets/deploy-api.md) over HTTP.
//! The reader only ever sends GET; the controller, built only in read-write mode, adds the POSTs.

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use std::time::Duration;

use super::{
    ActionError, ActionRequest, BackendHandle, ReadError, RolloutController, RolloutReader,
};
use crate::domain::Rollout;
use crate::domain::action::ActionKind;

/// The deploy API's address, the bearer token's contents (read from `token_file` by the caller:
/// this module reads no files) and the per-request timeout.
#[derive(Clone, PartialEq)]
pub struct HttpSettings {
    pub url: String,
    pub token: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("HttpSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `kind = "http"` from its settings: the reader alone when read-only.
pub fn build(settings: HttpSettings, read_only: bool) -> Result<BackendHandle, HttpError> {
    let reader = HttpReader::new(&settings.url, settings.token, settings.timeout)?;
    Ok(BackendHandle::new(reader, read_only, HttpController::new))
}

/// What went wrong talking to the deploy API (or setting up to); `Display` is the words shown.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("[backend] url {url:?} is not a URL: {source}")]
    BadUrl {
        url: String,
        source: <Url as std::str::FromStr>::Err,
    },
    /// Never `Authorization: Bearer ` with nothing after it.
    #[error("[backend] token_file is empty")]
    EmptyToken,
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{0} cannot carry a path")]
    NoPath(Url),
    #[error("{url} did not answer in time")]
    Timeout { url: Url, source: reqwest::Error },
    #[error("cannot connect to {url}")]
    Connect { url: Url, source: reqwest::Error },
    #[error("{url}: {source}")]
    Transport { url: Url, source: reqwest::Error },
    /// A non-2xx answer, with the API's `{"error": ...}` or an excerpt of the body.
    #[error("{url} answered {status}: {text}")]
    Status {
        url: Url,
        status: StatusCode,
        text: String,
    },
    #[error("{url} sent a body that is not the API's shape: {source}")]
    Shape { url: Url, source: serde_json::Error },
}

impl HttpError {
    fn transport(url: &Url, source: reqwest::Error) -> Self {
        let url = url.clone();
        if source.is_timeout() {
            Self::Timeout { url, source }
        } else if source.is_connect() {
            Self::Connect { url, source }
        } else {
            Self::Transport { url, source }
        }
    }
}

#[derive(Clone)]
pub struct HttpReader {
    client: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl std::fmt::Debug for HttpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("HttpReader")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl HttpReader {
    /// `token` is the bearer token's contents (read from `token_file` by the caller).
    pub fn new(url: &str, token: Option<String>, timeout: Duration) -> Result<Self, HttpError> {
        let mut base = Url::parse(url).map_err(|source| HttpError::BadUrl {
            url: url.to_string(),
            source,
        })?;
        if token.as_deref().is_some_and(str::is_empty) {
            return Err(HttpError::EmptyToken);
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("rollout-console/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Client)?;
        Ok(Self {
            client,
            base,
            token,
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, HttpError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| HttpError::NoPath(self.base.clone()))?;
            path.pop_if_empty();
            // Each segment is percent-encoded: a rollout name cannot change the path.
            path.extend(segments);
        }
        Ok(url)
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<T, HttpError> {
        let url = self.url(segments)?;
        let response = self
            .authorize(self.client.get(url.clone()))
            .send()
            .await
            .map_err(|e| HttpError::transport(&url, e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::transport(&url, e))?;
        if !status.is_success() {
            return Err(HttpError::Status {
                url,
                status,
                text: error_text(&body),
            });
        }
        serde_json::from_slice(&body).map_err(|source| HttpError::Shape { url, source })
    }
}

/// The `{"error": "..."}` of the API, or a short excerpt of whatever came instead.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        error: String,
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => e.error,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let excerpt: String = text.chars().take(200).collect();
            if excerpt.trim().is_empty() {
                "(empty body)".into()
            } else {
                excerpt
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct RolloutList {
    rollouts: Vec<Rollout>,
}

/// What the deploy API can ask for: everything but `undo`.
pub const DEPLOY_API_ACTIONS: [ActionKind; 6] = [
    ActionKind::Promote,
    ActionKind::PromoteFull,
    ActionKind::Pause,
    ActionKind::Resume,
    ActionKind::Rollback,
    ActionKind::Retry,
];

#[async_trait]
impl RolloutReader for HttpReader {
    fn describe(&self) -> String {
        format!("deploy API at {}", self.base)
    }

    /// `retry` is an optional endpoint of the API: an adapter without it answers 404, which the
    /// console shows as a refusal. There is no `undo` in the API.
    fn actions(&self) -> Vec<ActionKind> {
        DEPLOY_API_ACTIONS.to_vec()
    }

    async fn list(&self) -> Result<Vec<String>, ReadError> {
        Ok(self.get_all().await?.into_iter().map(|r| r.name).collect())
    }

    async fn get(&self, name: &str) -> Result<Rollout, ReadError> {
        Ok(self.get_json(&["rollouts", name]).await?)
    }

    /// `GET /rollouts` answers every rollout whole: the fleet is one request a poll.
    fn reads_fleet_whole(&self) -> bool {
        true
    }

    async fn get_all(&self) -> Result<Vec<Rollout>, ReadError> {
        let list: RolloutList = self.get_json(&["rollouts"]).await?;
        Ok(list.rollouts)
    }
}

/// Read and control: only built when the console is not read-only.
#[derive(Debug, Clone)]
pub struct HttpController {
    reader: HttpReader,
}

impl HttpController {
    pub fn new(reader: HttpReader) -> Self {
        Self { reader }
    }
}

super::read_through_reader!(HttpController);

#[async_trait]
impl RolloutController for HttpController {
    async fn act(&self, req: &ActionRequest) -> Result<Rollout, ActionError> {
        req.check_step_given()?;
        let r = &self.reader;
        // `promote_full` is `promote` with `"full": true` in the API.
        let path = match req.kind {
            ActionKind::PromoteFull => "promote",
            other => other.as_str(),
        };
        let url = r
            .url(&["rollouts", &req.rollout, path])
            .map_err(|e| ActionError::Rejected(e.to_string()))?;
        let mut body = serde_json::json!({
            "actor": req.actor,
            "reason": req.reason,
        });
        // Omitted only for a rollback sent while the state could not be read.
        if let Some(step) = req.expected_step {
            body["expected_step"] = step.into();
        }
        if matches!(req.kind, ActionKind::Promote | ActionKind::PromoteFull) {
            body["full"] = serde_json::Value::Bool(req.kind == ActionKind::PromoteFull);
        }
        let response = match r
            .authorize(r.client.post(url.clone()).json(&body))
            .send()
            .await
        {
            Ok(resp) => resp,
            // Refused before anything was sent: certainly not applied.
            Err(e) if e.is_connect() => {
                return Err(ActionError::Rejected(format!(
                    "{}; nothing was sent",
                    HttpError::transport(&url, e)
                )));
            }
            Err(e) => {
                return Err(ActionError::Unknown(
                    HttpError::transport(&url, e).to_string(),
                ));
            }
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ActionError::Unknown(HttpError::transport(&url, e).to_string()))?;
        match status {
            s if s.is_success() => serde_json::from_slice(&bytes).map_err(|e| {
                ActionError::Unknown(format!(
                    "{url} answered {s} with a body that is not a Rollout: {e}"
                ))
            }),
            StatusCode::CONFLICT => Err(ActionError::Conflict {
                current_step: None,
                message: error_text(&bytes),
            }),
            s if s.is_server_error() => Err(ActionError::Unknown(format!(
                "{url} answered {s}: {}",
                error_text(&bytes)
            ))),
            s => Err(ActionError::Rejected(format!(
                "{url} answered {s}: {}",
                error_text(&bytes)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_token_is_refused_not_sent_as_a_bare_bearer() {
        let err = HttpReader::new(
            "http://deploy.example/",
            Some(String::new()),
            Duration::from_secs(1),
        )
        .expect_err("refused");
        assert!(matches!(err, HttpError::EmptyToken), "{err}");
        assert!(err.to_string().contains("token_file is empty"), "{err}");
        assert!(HttpReader::new("http://deploy.example/", None, Duration::from_secs(1)).is_ok());
    }
}
