//! The headless gate behind `rollout-console check`: the same model, `update` and domain core as
//! the TUI, turned into one report with an exit code. `report` judges the model (pure); `run`
//! polls until done and writes the report and any override receipt.

mod report;
mod run;

pub use report::{
    CheckReport, MetricReport, Overall, SloReport, render_human, report, rollback_advised,
};
pub use run::{CheckError, CheckOptions, record_override, run_check};
