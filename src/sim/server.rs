//! `rollout-console simulate`: the simulator over HTTP. `GET /metrics` for Prometheus to scrape,
//! and the deploy API (assets/deploy-api.md) so the console can drive it over real HTTP.
//! `GET /_sim/requests` counts the requests served by method and path, and `GET /_sim/actions`
//! lists the control requests received with their bodies and answers, for tests.
//!
//! With a fleet (`simulate --fleet N`) the same routes serve every rollout: `/rollouts` lists them
//! all, `/rollouts/{name}` and its actions reach that one only (each has its own lock), and
//! `/metrics` labels each rollout's series `rollout="<name>"`. Without one the answers are
//! exactly those of a single simulator.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::instrumentation::{self, Instrumentation};
use super::{Fleet, Simulator, exposition};
use crate::backend::ActionError;
use crate::domain::action::ActionKind;

#[derive(Clone)]
struct AppState {
    fleet: Fleet,
    /// Served with `--fleet`: the metrics carry a `rollout` label, a 404 names the fleet.
    labelled: bool,
    /// The metric and label names `/metrics` exports the traffic under.
    instrumentation: Instrumentation,
    requests: Arc<Mutex<BTreeMap<String, u64>>>,
    actions: Arc<Mutex<Vec<serde_json::Value>>>,
}

/// The simulator, advanced to now; a poisoned lock is a 500, never a panic.
fn simulator_now(
    sim: &Arc<Mutex<Simulator>>,
) -> Result<std::sync::MutexGuard<'_, Simulator>, Box<Response>> {
    let mut sim = sim.lock().map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulator state is poisoned",
        )
    })?;
    sim.advance_to(Utc::now());
    Ok(sim)
}

impl AppState {
    /// The rollout `name`, or a 404 that says which there are.
    fn member(&self, name: &str) -> Result<&Arc<Mutex<Simulator>>, Box<Response>> {
        self.fleet.get(name).ok_or_else(|| {
            let text = if self.labelled {
                let names: Vec<&str> = self.fleet.names().take(8).collect();
                let more = if self.fleet.len() > names.len() {
                    format!(", … ({} in all)", self.fleet.len())
                } else {
                    String::new()
                };
                format!(
                    "no rollout named {name:?}; the fleet has {}{more}",
                    names.join(", ")
                )
            } else {
                format!("no rollout named {name:?}")
            };
            Box::new(error(StatusCode::NOT_FOUND, text))
        })
    }

    fn count(&self, method: &Method, uri: &Uri) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry(format!("{method} {}", uri.path())).or_default() += 1;
        }
    }
}

/// The body of every control request of the deploy API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Absent or null only for a rollback sent while the rollout could not be read.
    #[serde(default)]
    pub expected_step: Option<usize>,
    #[serde(default)]
    pub full: bool,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub reason: String,
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": text.into() }))).into_response()
}

pub fn router(sim: Arc<Mutex<Simulator>>) -> Router {
    app(Fleet::single(sim), false, Instrumentation::default())
}

/// The routes for a fleet: every rollout listed, acted on by name, and scraped with a `rollout`
/// label.
pub fn fleet_router(fleet: Fleet) -> Router {
    app(fleet, true, Instrumentation::default())
}

fn app(fleet: Fleet, labelled: bool, instrumentation: Instrumentation) -> Router {
    let state = AppState {
        fleet,
        labelled,
        instrumentation,
        requests: Arc::default(),
        actions: Arc::default(),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/rollouts", get(list))
        .route("/rollouts/{name}", get(one))
        .route("/rollouts/{name}/{action}", post(act))
        .route("/_sim/requests", get(requests))
        .route("/_sim/actions", get(actions))
        .with_state(state)
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: Arc<Mutex<Simulator>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_as(listener, sim, Instrumentation::default(), shutdown).await
}

/// [`serve`] with `/metrics` under `instrumentation`'s names (`simulate --instrumentation`).
pub async fn serve_as(
    listener: tokio::net::TcpListener,
    sim: Arc<Mutex<Simulator>>,
    instrumentation: Instrumentation,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(Fleet::single(sim), false, instrumentation))
        .with_graceful_shutdown(shutdown)
        .await
}

/// [`serve`] for a fleet.
pub async fn serve_fleet(
    listener: tokio::net::TcpListener,
    fleet: Fleet,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_fleet_as(listener, fleet, Instrumentation::default(), shutdown).await
}

/// [`serve_fleet`] with `/metrics` under `instrumentation`'s names.
pub async fn serve_fleet_as(
    listener: tokio::net::TcpListener,
    fleet: Fleet,
    instrumentation: Instrumentation,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(fleet, true, instrumentation))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(s): State<AppState>, method: Method, uri: Uri) -> Response {
    s.count(&method, &uri);
    if !s.labelled {
        let Some((_, sim)) = s.fleet.members().next() else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "no simulator");
        };
        let sim = match simulator_now(sim) {
            Ok(sim) => sim,
            Err(response) => return *response,
        };
        let body = instrumentation::render(s.instrumentation, "checkout", sim.totals());
        return ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response();
    }
    // Each member is locked only to advance it and copy its counters; rendering holds no lock.
    let mut totals = Vec::with_capacity(s.fleet.len());
    for (name, sim) in s.fleet.members() {
        match simulator_now(sim) {
            Ok(sim) => totals.push((name, *sim.totals())),
            Err(response) => return *response,
        }
    }
    let rollouts: Vec<(&str, &[super::Totals; 2])> = totals.iter().map(|(n, t)| (*n, t)).collect();
    let body = instrumentation::render_fleet(s.instrumentation, &rollouts);
    ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response()
}

async fn list(State(s): State<AppState>, method: Method, uri: Uri) -> Response {
    s.count(&method, &uri);
    let mut rollouts = Vec::with_capacity(s.fleet.len());
    for (_, sim) in s.fleet.members() {
        match simulator_now(sim) {
            Ok(sim) => rollouts.push(sim.rollout().clone()),
            Err(response) => return *response,
        }
    }
    Json(serde_json::json!({ "rollouts": rollouts })).into_response()
}

async fn one(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    s.count(&method, &uri);
    let sim = match s.member(&name).and_then(simulator_now) {
        Ok(sim) => sim,
        Err(response) => return *response,
    };
    Json(sim.rollout().clone()).into_response()
}

async fn act(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    Path((name, action)): Path<(String, String)>,
    body: Option<Json<ActionBody>>,
) -> Response {
    s.count(&method, &uri);
    let kind = match action.as_str() {
        "promote" => ActionKind::Promote,
        "pause" => ActionKind::Pause,
        "resume" => ActionKind::Resume,
        "rollback" => ActionKind::Rollback,
        "retry" => ActionKind::Retry,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action {other:?}; use promote, pause, resume, rollback or retry"),
            );
        }
    };
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be JSON: {\"expected_step\": N, \"actor\": \"...\", \"reason\": \"...\"}",
        );
    };
    let mut sim = match s.member(&name).and_then(simulator_now) {
        Ok(sim) => sim,
        Err(response) => return *response,
    };
    let now = Utc::now();
    let actor = if body.actor.is_empty() {
        "unknown".to_string()
    } else {
        body.actor.clone()
    };
    let request = crate::backend::ActionRequest {
        kind,
        rollout: name,
        expected_step: body.expected_step,
        actor,
        reason: body.reason.clone(),
    };
    let outcome = super::backend::apply(&mut sim, &request, body.full, now);
    let answer = match &outcome {
        Ok(r) => format!("ok: now step {}", r.step),
        Err(e) => e.to_string(),
    };
    if let Ok(mut log) = s.actions.lock() {
        let mut entry = serde_json::json!({
            "action": action, "expected_step": body.expected_step, "full": body.full,
            "actor": body.actor, "reason": body.reason, "answer": answer,
        });
        if s.labelled {
            entry["rollout"] = serde_json::Value::String(request.rollout.clone());
        }
        log.push(entry);
    }
    match outcome {
        Ok(rollout) => Json(rollout).into_response(),
        Err(ActionError::Conflict { message, .. }) => error(
            StatusCode::CONFLICT,
            // People read steps 1-based (as the console's header does); the index is named.
            match body.expected_step {
                Some(seen) => format!(
                    "you saw step {} (expected_step {seen}); {message}",
                    seen + 1
                ),
                None => format!("the rollout moved on; {message}"),
            },
        ),
        Err(ActionError::Rejected(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, why),
        Err(ActionError::Unknown(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

async fn requests(State(s): State<AppState>) -> Response {
    let counts = s.requests.lock().map(|r| r.clone()).unwrap_or_default();
    Json(counts).into_response()
}

async fn actions(State(s): State<AppState>) -> Response {
    let log = s.actions.lock().map(|l| l.clone()).unwrap_or_default();
    Json(log).into_response()
}
