//! Append-only JSON Lines receipts of every action the console attempted, and its outcome.
//! Each line is written and fsynced before the UI reports the result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::action::ActionKind;
use crate::domain::{GateEvaluation, Rollout, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The verdict of one metric at the moment of decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub metric: String,
    /// Written as `check --json` writes it (`no_data`); the `nodata` of older receipts reads as
    /// `no_data`.
    #[serde(deserialize_with = "verdict_name")]
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<f64>,
    /// The limit on the canary that decided the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub reason: String,
    /// The sequential judge's evidence, estimate, range and requests, when the metric has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<crate::domain::sequential::Figures>,
}

impl VerdictRecord {
    /// One metric's gate evaluation (its reasons joined by `; `) and the judge's figures.
    pub fn new(
        metric: &str,
        e: &GateEvaluation,
        sequential: Option<crate::domain::sequential::Figures>,
    ) -> Self {
        Self {
            metric: metric.to_string(),
            verdict: e.verdict,
            baseline: e.baseline,
            canary: e.canary,
            threshold: e.threshold,
            reason: e.reasons.join("; "),
            sequential,
        }
    }
}

fn verdict_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Verdict, D::Error> {
    use serde::de::IntoDeserializer;
    let name = String::deserialize(d)?;
    match name.as_str() {
        "nodata" => Ok(Verdict::NoData),
        other => Verdict::deserialize(other.into_deserializer()),
    }
}

/// Receipts are compared with their JSON spelling (`v.verdict == "no_data"`).
impl PartialEq<&str> for Verdict {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A receipt's outcome, as written in its `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditResult {
    /// The draft, before the backend answered.
    Pending,
    /// The backend's answers.
    Ok,
    Conflict,
    Rejected,
    Unknown,
    /// In a receipt that resolves an `unknown` one (`resolves`): the action took effect, or not.
    Confirmed,
    NotApplied,
    /// A `gate_override`'s: `check`'s overall verdict.
    Pass,
    Fail,
    Inconclusive,
    Completed,
}

impl AuditResult {
    /// The word written in the receipt (serde's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ok => "ok",
            Self::Conflict => "conflict",
            Self::Rejected => "rejected",
            Self::Unknown => "unknown",
            Self::Confirmed => "confirmed",
            Self::NotApplied => "not_applied",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Inconclusive => "inconclusive",
            Self::Completed => "completed",
        }
    }
}

impl std::fmt::Display for AuditResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AuditResult {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The receipt vocabulary of the promotion engines this console drives.
pub fn operation(kind: ActionKind, completed: bool) -> &'static str {
    match kind {
        ActionKind::Promote if completed => "deployment_complete",
        ActionKind::Promote => "traffic_promoted",
        ActionKind::Pause => "rollout_paused",
        ActionKind::Resume => "rollout_resumed",
        ActionKind::PromoteFull => "deployment_complete",
        ActionKind::Rollback => "rollback_executed",
        // Not in the seeds' vocabulary; named in the same style.
        ActionKind::Retry => "rollout_retried",
        // Undo puts the previous version back: a rollback in the seeds' words.
        ActionKind::Undo => "rollback_executed",
    }
}

/// A `check --override-reason` that lifted the error-budget policy.
pub const GATE_OVERRIDE: &str = "gate_override";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Names this receipt, so a later one can resolve it (`<time>-<rollout>-<action>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `id` of the receipt whose `unknown` outcome this one resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolves: Option<String>,
    /// RFC 3339, UTC.
    pub time: DateTime<Utc>,
    /// `$USER@host`.
    pub actor: String,
    /// The SSH client address when the console runs over SSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
    pub rollout: String,
    /// An `ActionKind` name (`promote`, `promote_full`, `pause`, `resume`, `rollback`, `retry`,
    /// `undo`), or `gate_override` (a `check --override-reason`).
    pub action: String,
    /// `traffic_promoted`, `deployment_complete`, `rollout_paused`, `rollout_resumed`,
    /// `rollback_executed` or `gate_override`.
    #[serde(default)]
    pub operation: String,
    /// 0-based step index (people see `from_step + 1`); `from_step` in receipts written before
    /// the rename.
    #[serde(rename = "from_step_index", alias = "from_step")]
    pub from_step: usize,
    pub from_weight: u8,
    /// 0-based, like `from_step_index`.
    #[serde(
        rename = "to_step_index",
        alias = "to_step",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_weight: Option<u8>,
    pub verdicts: Vec<VerdictRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// Set when the action was sent while the rollout could not be read (an emergency rollback):
    /// why, and that the steps and weights are the last known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_unknown: Option<String>,
    /// `pending` in the draft; `ok`, `conflict`, `rejected` or `unknown` once the backend answered;
    /// `confirmed` or `not_applied` in the receipt that resolves an `unknown` one (`resolves`);
    /// `check`'s verdict in a `gate_override`.
    pub result: AuditResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the backend answered (the updated rollout) when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
}

impl AuditRecord {
    /// The one constructor of a receipt: who did what (`action`, `operation`) to which rollout,
    /// from which step and weight. The rest starts empty, the result `pending`.
    pub fn new(
        time: DateTime<Utc>,
        (actor, ssh_client): (&str, Option<&str>),
        rollout: &str,
        action: &str,
        operation: &str,
        (from_step, from_weight): (usize, u8),
    ) -> Self {
        Self {
            id: None,
            resolves: None,
            time,
            actor: actor.to_string(),
            ssh_client: ssh_client.map(str::to_string),
            rollout: rollout.to_string(),
            action: action.to_string(),
            operation: operation.to_string(),
            from_step,
            from_weight,
            to_step: None,
            to_weight: None,
            verdicts: Vec::new(),
            override_reason: None,
            state_unknown: None,
            result: AuditResult::Pending,
            message: None,
            response: None,
        }
    }

    /// The backend's answer to the action `kind`, written into its draft: the result, the
    /// message and, when it answered with the rollout, where the rollout is now.
    pub fn answered(
        &mut self,
        time: DateTime<Utc>,
        kind: ActionKind,
        result: AuditResult,
        message: Option<String>,
        now: Option<&Rollout>,
    ) {
        self.time = time;
        self.result = result;
        self.message = message;
        if let Some(r) = now {
            self.to_step = Some(r.step);
            self.to_weight = Some(r.canary_weight);
            let completed = r.state == crate::domain::RolloutState::Completed;
            self.operation = operation(kind, completed).into();
            self.response = serde_json::to_value(r).ok();
        }
    }

    /// The receipt that resolves this `unknown` one from a read of the rollout at `time`:
    /// `confirmed` (with `operation` as it took effect) or `not_applied` (the first's).
    pub fn resolution(
        &self,
        time: DateTime<Utc>,
        kind: ActionKind,
        applied: bool,
        read: &Rollout,
        text: &str,
    ) -> Self {
        let mut receipt = self.clone();
        // Distinct from the first even when the read comes in the same millisecond.
        receipt.id = self.id.as_ref().map(|id| format!("{id}-resolved"));
        receipt.resolves = self.id.clone();
        receipt.time = time;
        if applied {
            let completed = read.state == crate::domain::RolloutState::Completed;
            receipt.operation = operation(kind, completed).into();
        }
        receipt.to_step = Some(read.step);
        receipt.to_weight = Some(read.canary_weight);
        // The first receipt has the verdicts the action was decided on.
        receipt.verdicts = vec![];
        receipt.override_reason = None;
        receipt.result = if applied {
            AuditResult::Confirmed
        } else {
            AuditResult::NotApplied
        };
        receipt.message = Some(format!(
            "{text} (read after the UNKNOWN outcome of receipt {})",
            self.id.as_deref().unwrap_or("?")
        ));
        receipt.response = serde_json::to_value(read).ok();
        receipt
    }
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line and fsync it.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_all()
    }

    /// Every record in the log; a line that does not parse is reported with its number.
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| format!("{}:{}: {e}", self.path.display(), i + 1))
            })
            .collect()
    }
}

/// The receipts for one rollout (all when `None`), no older than `since` before `now`.
pub fn select<'a>(
    records: &'a [AuditRecord],
    rollout: Option<&str>,
    since: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> Vec<&'a AuditRecord> {
    let oldest = since
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now - d);
    records
        .iter()
        .filter(|r| rollout.is_none_or(|name| r.rollout == name))
        .filter(|r| oldest.is_none_or(|t| r.time >= t))
        .collect()
}

/// One line per receipt, for people. Columns are as wide as their widest cell.
pub fn render_table(records: &[&AuditRecord]) -> String {
    let header = [
        "TIME",
        "ACTOR",
        "ROLLOUT",
        "OPERATION",
        "STEP",
        "RESULT",
        "NOTE",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            let step = match r.to_step {
                Some(to) if to != r.from_step => format!("{} → {}", r.from_step + 1, to + 1),
                _ => format!("{}", r.from_step + 1),
            };
            let op = if r.operation.is_empty() {
                r.action.as_str()
            } else {
                r.operation.as_str()
            };
            let note = match (&r.override_reason, &r.message) {
                (Some(o), _) => format!("OVERRIDE: {o}"),
                (None, Some(m)) => m.clone(),
                _ => String::new(),
            };
            [
                r.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                r.actor.clone(),
                r.rollout.clone(),
                op.to_string(),
                step,
                r.result.to_string(),
                note,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                // Pad by characters: `→` is one column, three bytes.
                let pad = widths[i] - cell.chars().count() + 1;
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(result: AuditResult) -> AuditRecord {
        let mut r = AuditRecord::new(
            DateTime::<Utc>::UNIX_EPOCH,
            ("alice@bastion", Some("10.1.2.3")),
            "checkout",
            ActionKind::Promote.as_str(),
            operation(ActionKind::Promote, false),
            (0, 5),
        );
        r.to_step = Some(1);
        r.to_weight = Some(25);
        r.verdicts = vec![VerdictRecord {
            metric: "p95 latency".into(),
            verdict: Verdict::Pass,
            baseline: Some(0.18),
            canary: Some(0.19),
            threshold: Some(0.2),
            reason: "ok".into(),
            sequential: None,
        }];
        r.result = result;
        r
    }

    #[test]
    fn appends_one_line_per_record_and_reads_them_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("nested/audit.jsonl"));
        log.append(&record(AuditResult::Ok)).expect("first");
        log.append(&record(AuditResult::Conflict)).expect("second");
        let text = std::fs::read_to_string(log.path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.contains("\"time\":\"1970-01-01T00:00:00Z\"")),
            "{text}"
        );
        let back = log.read_all().expect("parse");
        assert_eq!(back[1].result, AuditResult::Conflict);
        assert_eq!(back[0], record(AuditResult::Ok));
    }

    #[test]
    fn select_filters_by_rollout_and_age() {
        let mut old = record(AuditResult::Ok);
        old.time = DateTime::<Utc>::UNIX_EPOCH;
        let mut new = record(AuditResult::Ok);
        new.time = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(10);
        let mut other = new.clone();
        other.rollout = "search".into();
        let all = vec![old, new, other];
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(11);
        assert_eq!(select(&all, Some("checkout"), None, now).len(), 2);
        assert_eq!(
            select(
                &all,
                Some("checkout"),
                Some(std::time::Duration::from_secs(7200)),
                now
            )
            .len(),
            1
        );
        assert_eq!(
            select(&all, None, Some(std::time::Duration::from_secs(7200)), now).len(),
            2
        );
        let table = render_table(&select(&all, Some("search"), None, now));
        assert!(
            table.contains("search")
                && table.contains("traffic_promoted")
                && table.contains("1 → 2"),
            "{table}"
        );
    }

    #[test]
    fn a_corrupt_line_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{not json}\n").expect("write");
        let err = AuditLog::new(path).read_all().unwrap_err();
        assert!(err.contains("audit.jsonl:1:"), "{err}");
    }

    #[test]
    fn table_columns_stay_aligned_whatever_the_result() {
        let mut ovr = record(AuditResult::Inconclusive);
        ovr.operation = GATE_OVERRIDE.into();
        ovr.to_step = None;
        let ok = record(AuditResult::Ok);
        let table = render_table(&[&ovr, &ok]);
        // Every NOTE/RESULT column starts where its header does.
        let lines: Vec<&str> = table.lines().collect();
        let at = |l: &str, what: &str| l.find(what).map(|b| l[..b].chars().count());
        let result_col = at(lines[0], "RESULT");
        assert_eq!(at(lines[1], "inconclusive"), result_col, "{table}");
        assert_eq!(at(lines[2], "ok"), result_col, "{table}");
        let step_col = at(lines[0], "STEP");
        assert_eq!(at(lines[2], "1 → 2"), step_col, "{table}");
    }

    #[test]
    fn step_fields_say_they_are_0_based_indexes_and_old_receipts_still_read() {
        let json = serde_json::to_value(record(AuditResult::Ok)).expect("json");
        assert_eq!(json["from_step_index"], 0, "{json}");
        assert_eq!(json["to_step_index"], 1, "{json}");
        assert!(json.get("from_step").is_none(), "{json}");
        let mut old = json.clone();
        let obj = old.as_object_mut().expect("object");
        obj.remove("from_step_index");
        obj.remove("to_step_index");
        obj.insert("from_step".into(), 2.into());
        obj.insert("to_step".into(), 3.into());
        let back: AuditRecord = serde_json::from_value(old).expect("old receipt");
        assert_eq!((back.from_step, back.to_step), (2, Some(3)));
        // People read 1-based: index 2 → 3 is "3 → 4".
        assert!(render_table(&[&back]).contains("3 → 4"));
    }

    #[test]
    fn no_data_is_spelled_as_check_json_spells_it_and_old_receipts_still_read() {
        let mut r = record(AuditResult::Ok);
        r.verdicts[0].verdict = Verdict::NoData;
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["verdicts"][0]["verdict"], "no_data", "{json}");
        assert_eq!(
            json["verdicts"][0]["verdict"],
            serde_json::to_value(Verdict::NoData).expect("json")
        );
        let mut old = json.clone();
        old["verdicts"][0]["verdict"] = "nodata".into();
        let back: AuditRecord = serde_json::from_value(old).expect("old receipt");
        assert_eq!(back.verdicts[0].verdict, Verdict::NoData);
    }

    #[test]
    fn a_receipt_is_written_byte_for_byte_as_before_its_fields_were_typed() {
        let line = serde_json::to_string(&record(AuditResult::Ok)).expect("json");
        assert_eq!(
            line,
            r#"{"time":"1970-01-01T00:00:00Z","actor":"alice@bastion","ssh_client":"10.1.2.3","rollout":"checkout","action":"promote","operation":"traffic_promoted","from_step_index":0,"from_weight":5,"to_step_index":1,"to_weight":25,"verdicts":[{"metric":"p95 latency","verdict":"pass","baseline":0.18,"canary":0.19,"threshold":0.2,"reason":"ok"}],"result":"ok"}"#
        );
        for result in [
            AuditResult::Pending,
            AuditResult::Ok,
            AuditResult::Conflict,
            AuditResult::Rejected,
            AuditResult::Unknown,
            AuditResult::Confirmed,
            AuditResult::NotApplied,
            AuditResult::Pass,
            AuditResult::Fail,
            AuditResult::Inconclusive,
            AuditResult::Completed,
        ] {
            let json = serde_json::to_value(result).expect("json");
            assert_eq!(json, result.as_str());
            let back: AuditResult = serde_json::from_value(json).expect("reads back");
            assert_eq!(back, result);
        }
    }
}
