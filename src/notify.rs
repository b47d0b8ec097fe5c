//! `[notify]`: a Slack-compatible webhook message per action. A failure to notify is shown in the
//! events pane and never blocks or undoes the action.

use reqwest::Url;
use std::time::Duration;

use crate::audit::AuditRecord;

pub struct Notifier {
    client: reqwest::Client,
    url: Url,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Webhook URLs carry their token in the path: show the host only.
        f.debug_struct("Notifier")
            .field("host", &self.url.host_str())
            .finish()
    }
}

impl Notifier {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let url = Url::parse(url.trim())
            .map_err(|e| format!("[notify] webhook URL is not a URL: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("rollout-console/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, url })
    }

    /// POST `{"text": ...}`; an error names the host, never the whole URL.
    pub async fn send(&self, text: &str) -> Result<(), String> {
        let host = self.url.host_str().unwrap_or("the webhook").to_string();
        let response = self
            .client
            .post(self.url.clone())
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("{host} did not answer in time")
                } else {
                    format!("cannot reach {host}")
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(120).collect();
        Err(format!("{host} answered {status}: {excerpt}"))
    }
}

/// One line for humans in a chat channel.
pub fn message(r: &AuditRecord) -> String {
    let to = match (r.to_step, r.to_weight) {
        (Some(step), Some(weight)) if r.action == "promote" => {
            format!(" → step {} ({weight}%)", step + 1)
        }
        _ => String::new(),
    };
    let op = if r.operation.is_empty() {
        r.action.as_str()
    } else {
        r.operation.as_str()
    };
    let mut text = format!(
        "rollout-console: {} `{op}` on *{}* at step {} ({}%){to}: {}",
        r.actor,
        r.rollout,
        r.from_step + 1,
        r.from_weight,
        r.result
    );
    if let Some(reason) = &r.override_reason {
        text.push_str(&format!(" — OVERRIDE: {reason}"));
    }
    if r.result != "ok"
        && let Some(m) = &r.message
    {
        text.push_str(&format!(" — {m}"));
    }
    text
}
