//! `file_sd_configs`: target groups read from JSON or YAML files.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration_serde;

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File name patterns; the last path element may contain `*`, `?` or
    /// `[...]`. Files must end in `.json`, `.yml` or `.yaml`.
    pub files: Vec<String>,
    /// How often every file is re-read even without a change event.
    #[serde(default = "default_refresh_interval", with = "duration_serde")]
    pub refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}
