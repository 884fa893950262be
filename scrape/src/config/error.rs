//! Errors from loading a configuration.

use std::path::PathBuf;

/// Why a configuration could not be loaded. Messages name the line (when
/// known), the field and, inside `scrape_configs`, the job.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, a key is unknown or a value has the wrong type.
    #[error("{}", yaml_message(.file.as_ref(), *.line, .job.as_deref(), .message))]
    Parse {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The job whose scrape config holds the mistake.
        job: Option<String>,
        /// What is wrong, with the field path.
        message: String,
    },
    /// The YAML parsed but breaks a rule (duplicate job, timeout over interval, ...).
    #[error("{}", yaml_message(.file.as_ref(), *.line, .job.as_deref(), .message))]
    Invalid {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// 1-based line of the offending section, when known.
        line: Option<usize>,
        /// The job concerned.
        job: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn yaml_message(
    file: Option<&PathBuf>,
    line: Option<usize>,
    job: Option<&str>,
    message: &str,
) -> String {
    let mut out = String::new();
    if let Some(f) = file {
        out.push_str(&f.display().to_string());
        out.push_str(": ");
    }
    if let Some(l) = line {
        out.push_str(&format!("line {l}: "));
    }
    if let Some(j) = job {
        out.push_str(&format!("scrape config for job {j:?}: "));
    }
    out.push_str(message);
    out
}

impl ConfigError {
    /// The 1-based line of the mistake, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Parse { line, .. } | ConfigError::Invalid { line, .. } => *line,
        }
    }

    /// The job whose config holds the mistake, when known.
    pub fn job(&self) -> Option<&str> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Parse { job, .. } | ConfigError::Invalid { job, .. } => job.as_deref(),
        }
    }
}
