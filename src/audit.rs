//! Append-only JSON Lines receipts of every action the console attempted, and its outcome.
//! Each line is written and fsynced before the UI reports the result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Verdict;
use crate::domain::action::ActionKind;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The verdict of one metric at the moment of decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub metric: String,
    /// `Verdict::as_str`: the same words as `check --json` (`no_data`); the `nodata` of older
    /// receipts reads as `no_data`.
    #[serde(deserialize_with = "verdict_name")]
    pub verdict: String,
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

fn verdict_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    Ok(if name == "nodata" {
        Verdict::NoData.as_str().to_string()
    } else {
        name
    })
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
    /// `confirmed` or `not_applied` in the receipt that resolves an `unknown` one (`resolves`).
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the backend answered (the updated rollout) when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
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
                r.result.clone(),
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

    fn record(result: &str) -> AuditRecord {
        AuditRecord {
            id: None,
            resolves: None,
            time: DateTime::<Utc>::UNIX_EPOCH,
            actor: "alice@bastion".into(),
            ssh_client: Some("10.1.2.3".into()),
            rollout: "checkout".into(),
            action: ActionKind::Promote.as_str().into(),
            operation: operation(ActionKind::Promote, false).into(),
            from_step: 0,
            from_weight: 5,
            to_step: Some(1),
            to_weight: Some(25),
            verdicts: vec![VerdictRecord {
                metric: "p95 latency".into(),
                verdict: "pass".into(),
                baseline: Some(0.18),
                canary: Some(0.19),
                threshold: Some(0.2),
                reason: "ok".into(),
                sequential: None,
            }],
            override_reason: None,
            state_unknown: None,
            result: result.into(),
            message: None,
            response: None,
        }
    }

    #[test]
    fn appends_one_line_per_record_and_reads_them_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("nested/audit.jsonl"));
        log.append(&record("ok")).expect("first");
        log.append(&record("conflict")).expect("second");
        let text = std::fs::read_to_string(log.path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.contains("\"time\":\"1970-01-01T00:00:00Z\"")),
            "{text}"
        );
        let back = log.read_all().expect("parse");
        assert_eq!(back[1].result, "conflict");
        assert_eq!(back[0], record("ok"));
    }

    #[test]
    fn select_filters_by_rollout_and_age() {
        let mut old = record("ok");
        old.time = DateTime::<Utc>::UNIX_EPOCH;
        let mut new = record("ok");
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
        let mut ovr = record("inconclusive");
        ovr.operation = GATE_OVERRIDE.into();
        ovr.to_step = None;
        let ok = record("ok");
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
        let json = serde_json::to_value(record("ok")).expect("json");
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
        let mut r = record("ok");
        r.verdicts[0].verdict = Verdict::NoData.as_str().into();
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["verdicts"][0]["verdict"], "no_data", "{json}");
        assert_eq!(
            json["verdicts"][0]["verdict"],
            serde_json::to_value(Verdict::NoData).expect("json")
        );
        let mut old = json.clone();
        old["verdicts"][0]["verdict"] = "nodata".into();
        let back: AuditRecord = serde_json::from_value(old).expect("old receipt");
        assert_eq!(back.verdicts[0].verdict, "no_data");
    }
}
