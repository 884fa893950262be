//! The PromQL test-script runner, reusable by any crate's tests.
//!
//! It reads the scripts of Prometheus' `promql/promqltest` language
//! (`load`, `clear`, `eval instant|range`, `expect ...`), runs them
//! against [`MemStorage`](promethium_engine::MemStorage) and an [`Engine`](crate::Engine),
//! and reports per command whether it passed, failed or was skipped (with
//! the reason). Native-histogram data and a few experimental features are
//! skipped; [`runner::SkipPolicy`] lists why.

pub mod runner;
pub mod script;
pub mod series_desc;

pub use runner::{CommandOutcome, FileReport, SkipPolicy, run_script, run_script_on};
pub use script::{Command, EvalCommand, EvalTime, LoadCommand, MessageMatch, parse_script};
