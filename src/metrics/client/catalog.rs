//! The catalog endpoints (`/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`):
//! what `explain` and `init` read to say why a query is empty and what a service's labels are.
//! They share the client's auth, budget and refusal words.

use chrono::{DateTime, Utc};

use super::{PrometheusClient, seconds};
use crate::metrics::budget::Priority;
use crate::metrics::decode::PromError;

/// A series' labels as `/api/v1/series` lists them (a few, read once: owned text).
pub type SeriesLabels = std::collections::BTreeMap<String, String>;

impl PrometheusClient {
    /// The series matching `selector` between `start` and `end` (`/api/v1/series`), at most
    /// `limit` (engines that ignore `limit` send them all; the list is cut here).
    pub async fn series(
        &self,
        selector: &str,
        range: (DateTime<Utc>, DateTime<Utc>),
        limit: usize,
    ) -> Result<Vec<SeriesLabels>, PromError> {
        self.series_with(Priority::Open, selector, range, limit)
            .await
    }

    /// [`Self::series`], waiting its turn in the budget at `priority`.
    pub async fn series_with(
        &self,
        priority: Priority,
        selector: &str,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        limit: usize,
    ) -> Result<Vec<SeriesLabels>, PromError> {
        let mut all: Vec<SeriesLabels> = self
            .list(priority, "series", Some(selector), (start, end), limit)
            .await?;
        all.truncate(limit);
        Ok(all)
    }

    /// The values of `label` on the series matching `selector` (`/api/v1/label/<label>/values`).
    pub async fn label_values(
        &self,
        label: &str,
        selector: Option<&str>,
        range: (DateTime<Utc>, DateTime<Utc>),
        limit: usize,
    ) -> Result<Vec<String>, PromError> {
        self.label_values_with(Priority::Open, label, selector, range, limit)
            .await
    }

    /// [`Self::label_values`], waiting its turn in the budget at `priority`.
    pub async fn label_values_with(
        &self,
        priority: Priority,
        label: &str,
        selector: Option<&str>,
        range: (DateTime<Utc>, DateTime<Utc>),
        limit: usize,
    ) -> Result<Vec<String>, PromError> {
        let path = format!("label/{label}/values");
        self.list(priority, &path, selector, range, limit).await
    }

    /// The label names on the series matching `selector` (`/api/v1/labels`).
    pub async fn label_names(
        &self,
        selector: Option<&str>,
        range: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<String>, PromError> {
        self.label_names_with(Priority::Open, selector, range).await
    }

    /// [`Self::label_names`], waiting its turn in the budget at `priority`.
    pub async fn label_names_with(
        &self,
        priority: Priority,
        selector: Option<&str>,
        range: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<String>, PromError> {
        self.list(priority, "labels", selector, range, 0).await
    }

    /// A metadata endpoint under `api/v1/` whose `data` is a list.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        priority: Priority,
        path: &str,
        selector: Option<&str>,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        limit: usize,
    ) -> Result<Vec<T>, PromError> {
        let url = self
            .query_url
            .join(path)
            .map_err(|e| PromError::Transport(format!("{}: {path}: {e}", self.shown_url)))?;
        let (start, end) = (
            seconds(start.timestamp_millis()),
            seconds(end.timestamp_millis()),
        );
        let limit = limit.to_string();
        let mut params = vec![("start", start.as_str()), ("end", end.as_str())];
        if let Some(selector) = selector {
            params.push(("match[]", selector));
        }
        if limit != "0" {
            params.push(("limit", &limit));
        }
        self.budget.take(priority).await;
        let _permit =
            self.limit.acquire().await.map_err(|_| {
                PromError::Transport(format!("{}: client shut down", self.shown_url))
            })?;
        let request = self
            .authorize(self.http.get(url).query(&params))
            .build()
            .map_err(|e| self.transport(e))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        #[derive(serde::Deserialize)]
        struct Listed<T> {
            status: String,
            data: Option<Vec<T>>,
        }
        match serde_json::from_slice::<Listed<T>>(&body) {
            Ok(Listed {
                status: s,
                data: Some(data),
            }) if s == "success" => Ok(data),
            _ => Err(self.refused(status, &body, path)),
        }
    }
}
