//! Loading: parse, apply defaults, validate.

use std::path::Path;

use super::{Config, ConfigError};

pub(super) fn load(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
    let mut cfg: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        file: path.map(Path::to_path_buf),
        line: e.location().map(|l| l.line()),
        job: None,
        message: e.to_string(),
    })?;
    cfg.original = text.to_owned();
    cfg.source_path = path.map(Path::to_path_buf);
    Ok(cfg)
}
