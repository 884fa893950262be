//! Loading: parse strictly, apply Prometheus' defaults, validate.
//!
//! Parse errors come from serde_yaml, which names the field path and the
//! line; when the path points into `scrape_configs[i]` the job's name is
//! looked up so the message says which job is wrong. Rule violations found
//! after parsing (duplicate jobs, a timeout over the interval) are located
//! by the job's `job_name:` line.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use promethium_discovery::config::{SdConfigSet, validate_http_client};

use super::{
    Config, ConfigError, DEFAULT_SCRAPE_PROTOCOLS, EscapingScheme, GlobalConfig, ScrapeConfig,
    ScrapeProtocol,
    sections::{AlertmanagerApiVersion, AlertmanagerConfig},
};
use crate::relabel::{NameValidationScheme, RelabelConfig};

/// Prometheus' default global scrape interval.
const DEFAULT_SCRAPE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// Prometheus' default global scrape timeout.
const DEFAULT_SCRAPE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Prometheus' default rule evaluation interval.
const DEFAULT_EVALUATION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The body of a file named by `scrape_config_files`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigsFile {
    #[serde(default, deserialize_with = "super::non_null::scrape_configs")]
    scrape_configs: Vec<ScrapeConfig>,
}

pub(super) fn load(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
    let file = path.map(Path::to_path_buf);
    let mut cfg: Config = parse_yaml(text, file.as_ref())?;
    cfg.original = text.to_owned();
    cfg.source_path = file.clone();
    let base_dir = path.and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();

    let invalid = |message: String| ConfigError::Invalid {
        file: file.clone(),
        line: None,
        job: None,
        message,
    };

    apply_global_defaults(&mut cfg.global).map_err(invalid)?;

    for rf in &cfg.rule_files {
        if !is_valid_glob_path(rf) {
            return Err(invalid(format!("invalid rule file path {rf:?}")));
        }
    }
    cfg.rule_files = cfg.rule_files.iter().map(|p| join_dir(&base_dir, p)).collect();

    // Jobs from the main file, each remembering where it came from so
    // errors point into the right file.
    let mut jobs: Vec<(ScrapeConfig, Option<PathBuf>, String)> =
        std::mem::take(&mut cfg.scrape_configs)
            .into_iter()
            .map(|c| (c, file.clone(), text.to_owned()))
            .collect();
    for pattern in &cfg.scrape_config_files {
        if !is_valid_glob_path(pattern) {
            return Err(invalid(format!("invalid scrape config file path {pattern:?}")));
        }
        for extra in expand_glob(&join_dir(&base_dir, pattern)).map_err(invalid)? {
            let extra_text = std::fs::read_to_string(&extra)
                .map_err(|source| ConfigError::Io { path: extra.clone(), source })?;
            let parsed: ScrapeConfigsFile = parse_yaml(&extra_text, Some(&extra))?;
            let extra_base = extra.parent().map(Path::to_path_buf).unwrap_or_default();
            for mut c in parsed.scrape_configs {
                resolve_scrape_paths(&mut c, &extra_base);
                jobs.push((c, Some(extra.clone()), extra_text.clone()));
            }
        }
    }
    cfg.scrape_config_files =
        cfg.scrape_config_files.iter().map(|p| join_dir(&base_dir, p)).collect();

    let mut seen = HashSet::new();
    let mut warnings = Vec::new();
    for (mut job, job_file, job_text) in jobs {
        let name = job.job_name.clone();
        let job_err = |message: String| ConfigError::Invalid {
            file: job_file.clone(),
            line: job_line(&job_text, &name),
            job: (!name.is_empty()).then(|| name.clone()),
            message,
        };
        if job_file == file {
            resolve_scrape_paths(&mut job, &base_dir);
        }
        validate_scrape_config(&mut job, &cfg.global).map_err(job_err)?;
        if !seen.insert(job.job_name.clone()) {
            return Err(job_err(format!(
                "found multiple scrape configs with job name {:?}",
                job.job_name
            )));
        }
        warnings.extend(scrape_config_warnings(&job));
        cfg.scrape_configs.push(job);
    }

    if let Some(alerting) = cfg.alerting.as_mut() {
        let scheme = cfg.global.metric_name_validation_scheme;
        revalidate_rules(&mut alerting.alert_relabel_configs, scheme).map_err(invalid)?;
        for am in &mut alerting.alertmanagers {
            validate_alertmanager(am, scheme, &base_dir).map_err(invalid)?;
            for key in am.sd_config_set().providers().1 {
                warnings.push(format!("alertmanagers: {key} is accepted but not implemented"));
            }
            if am.sigv4.is_some() {
                warnings.push("alertmanagers: sigv4 is accepted but not implemented".into());
            }
            for key in [
                ("dns_sd_configs", am.dns_sd_configs.is_some()),
                ("consul_sd_configs", am.consul_sd_configs.is_some()),
                ("http_sd_configs", am.http_sd_configs.is_some()),
                ("ec2_sd_configs", am.ec2_sd_configs.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, present)| present.then_some(k))
            {
                warnings.push(format!("alertmanagers: {key} is accepted but not implemented"));
            }
        }
    }

    if let Some(tracing) = &cfg.tracing
        && !tracing.is_null()
        && !matches!(tracing.get("endpoint"), Some(serde_yaml::Value::String(e)) if !e.is_empty())
    {
        return Err(invalid("tracing endpoint must be set".into()));
    }
    validate_remote(&cfg.remote_write, "remote_write").map_err(invalid)?;
    validate_remote(&cfg.remote_read, "remote_read").map_err(invalid)?;
    for (present, what) in [
        (!cfg.remote_write.is_empty(), "remote_write"),
        (!cfg.remote_read.is_empty(), "remote_read"),
        (cfg.tracing.is_some(), "tracing"),
        (cfg.otlp.is_some(), "otlp"),
        (cfg.runtime.is_some(), "runtime"),
    ] {
        if present {
            warnings.push(format!("{what} is accepted but not implemented"));
        }
    }
    if cfg.storage.as_ref().is_some_and(|s| s.exemplars.is_some()) {
        warnings
            .push("storage.exemplars is accepted but exemplar storage is not implemented".into());
    }
    cfg.warnings = warnings;
    Ok(cfg)
}

/// Parses YAML into `T`, turning serde_yaml's error into a [`ConfigError`]
/// that names the job when the path points into `scrape_configs`.
fn parse_yaml<T: serde::de::DeserializeOwned + Default>(
    text: &str,
    file: Option<&PathBuf>,
) -> Result<T, ConfigError> {
    // An empty file (or one holding only comments) is the default config.
    match serde_yaml::from_str::<Option<T>>(text) {
        Ok(v) => Ok(v.unwrap_or_default()),
        Err(e) => {
            let message = e.to_string();
            // serde_yaml appends " at line L column C"; the line is kept
            // separately, so drop the suffix to avoid saying it twice.
            let message = match message.rfind(" at line ") {
                Some(i) if e.location().is_some() => message[..i].to_owned(),
                _ => message,
            };
            Err(ConfigError::Parse {
                file: file.cloned(),
                line: e.location().map(|l| l.line()),
                job: job_of_error_path(&message, text),
                message,
            })
        }
    }
}

/// `scrape_configs[3].tls_config: ...` names job 3; find its name in a
/// lenient parse of the same text.
fn job_of_error_path(message: &str, text: &str) -> Option<String> {
    let rest = message.strip_prefix("scrape_configs[")?;
    let idx: usize = rest[..rest.find(']')?].parse().ok()?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let job = value.get("scrape_configs")?.get(idx)?.get("job_name")?;
    match job {
        serde_yaml::Value::String(s) => Some(s.clone()),
        other => serde_yaml::to_string(other).ok().map(|s| s.trim().to_owned()),
    }
}

/// The 1-based line of `job_name: <name>` in `text`.
fn job_line(text: &str, name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    text.lines()
        .position(|line| {
            let l = line.trim_start();
            let l = l.strip_prefix('-').map_or(l, str::trim_start);
            let Some(v) = l.strip_prefix("job_name:") else {
                return false;
            };
            let v = v.split(" #").next().unwrap_or("").trim();
            let v = v.trim_matches(|c| c == '"' || c == '\'');
            v == name
        })
        .map(|i| i + 1)
}

fn apply_global_defaults(g: &mut GlobalConfig) -> Result<(), String> {
    if g.scrape_interval.is_zero() {
        g.scrape_interval = DEFAULT_SCRAPE_INTERVAL;
    }
    if g.scrape_timeout > g.scrape_interval {
        return Err("global scrape timeout greater than scrape interval".into());
    }
    if g.scrape_timeout.is_zero() {
        g.scrape_timeout = DEFAULT_SCRAPE_TIMEOUT.min(g.scrape_interval);
    }
    if g.evaluation_interval.is_zero() {
        g.evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
    }
    match &g.scrape_protocols {
        None => g.scrape_protocols = Some(DEFAULT_SCRAPE_PROTOCOLS.to_vec()),
        Some(p) => validate_protocols(p)?,
    }
    for (name, value) in g.external_labels.iter_mut() {
        if !g.metric_name_validation_scheme.is_valid_label_name(name) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        // Prometheus 3 always expands environment variables here.
        *value = expand_env(value, |var| std::env::var(var).ok());
    }
    if g.metric_name_escaping_scheme.is_none() {
        g.metric_name_escaping_scheme = Some(default_escaping(g.metric_name_validation_scheme));
    }
    check_escaping(g.metric_name_validation_scheme, g.metric_name_escaping_scheme)?;
    Ok(())
}

/// Go's `os.Expand` with Prometheus' mapping: `$NAME` and `${NAME}` become
/// the variable's value (empty when unset), `$$` a literal `$`, a `$` not
/// followed by a name stays, and malformed `${` or `${}` are dropped.
pub(super) fn expand_env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let special =
        |c: u8| matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit();
    let alnum = |c: u8| c == b'_' || c.is_ascii_alphanumeric();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let rest = &b[j + 1..];
            // (name range within `s`, bytes consumed after the `$`)
            let (name, width): (Option<(usize, usize)>, usize) = if rest[0] == b'{' {
                if rest.len() > 2 && special(rest[1]) && rest[2] == b'}' {
                    (Some((j + 2, j + 3)), 3)
                } else {
                    match rest.iter().skip(1).position(|&c| c == b'}') {
                        Some(0) => (None, 2),
                        Some(k) => (Some((j + 2, j + 2 + k)), k + 2),
                        None => (None, 1),
                    }
                }
            } else if special(rest[0]) {
                (Some((j + 1, j + 2)), 1)
            } else {
                let n = rest.iter().take_while(|&&c| alnum(c)).count();
                if n == 0 { (None, 0) } else { (Some((j + 1, j + 1 + n)), n) }
            };
            match name {
                Some((a, z)) if &s[a..z] == "$" => out.push('$'),
                Some((a, z)) => out.push_str(&lookup(&s[a..z]).unwrap_or_default()),
                // Valid syntax without a name: keep the dollar.
                None if width == 0 => out.push('$'),
                // Malformed: the characters are dropped.
                None => {}
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

fn default_escaping(scheme: NameValidationScheme) -> EscapingScheme {
    match scheme {
        NameValidationScheme::Utf8 => EscapingScheme::AllowUtf8,
        NameValidationScheme::Legacy => EscapingScheme::Underscores,
    }
}

fn check_escaping(
    scheme: NameValidationScheme,
    escaping: Option<EscapingScheme>,
) -> Result<(), String> {
    if scheme == NameValidationScheme::Legacy && escaping == Some(EscapingScheme::AllowUtf8) {
        return Err("metric_name_escaping_scheme cannot be set to 'allow-utf-8' while \
                    metric_name_validation_scheme is not set to UTF8"
            .into());
    }
    Ok(())
}

fn validate_protocols(p: &[ScrapeProtocol]) -> Result<(), String> {
    if p.is_empty() {
        return Err("scrape_protocols cannot be empty".into());
    }
    let mut seen = HashSet::new();
    for proto in p {
        if !seen.insert(*proto) {
            let names: Vec<&str> = p.iter().map(|x| x.as_str()).collect();
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                names.join(" ")
            ));
        }
    }
    Ok(())
}

/// `^[^*]*(\*[^/]*)?$`: a path whose only wildcard is in its last element.
fn is_valid_glob_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains('*') && !p[i..].contains('/'),
    }
}

fn join_dir(base: &Path, p: &str) -> String {
    if p.is_empty() || Path::new(p).is_absolute() || base.as_os_str().is_empty() {
        p.to_owned()
    } else {
        base.join(p).to_string_lossy().into_owned()
    }
}

fn resolve(base: &Path, p: &mut String) {
    *p = join_dir(base, p);
}

/// Makes the file paths of a scrape config relative to the directory of
/// the file that holds it, as Prometheus does.
fn resolve_scrape_paths(c: &mut ScrapeConfig, base: &Path) {
    if base.as_os_str().is_empty() {
        return;
    }
    resolve(base, &mut c.bearer_token_file);
    if let Some(b) = c.basic_auth.as_mut() {
        resolve(base, &mut b.password_file);
        resolve(base, &mut b.username_file);
    }
    if let Some(a) = c.authorization.as_mut() {
        resolve(base, &mut a.credentials_file);
    }
    for f in [&mut c.tls_config.ca_file, &mut c.tls_config.cert_file, &mut c.tls_config.key_file] {
        resolve(base, f);
    }
    for f in &mut c.file_sd_configs {
        for p in &mut f.files {
            resolve(base, p);
        }
    }
    for k in &mut c.kubernetes_sd_configs {
        resolve(base, &mut k.kubeconfig_file);
        resolve(base, &mut k.bearer_token_file);
        for f in
            [&mut k.tls_config.ca_file, &mut k.tls_config.cert_file, &mut k.tls_config.key_file]
        {
            resolve(base, f);
        }
    }
}

fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let paths = glob::glob(pattern).map_err(|e| format!("invalid glob {pattern:?}: {e}"))?;
    let mut out: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
    out.sort();
    Ok(out)
}

fn revalidate_rules(
    rules: &mut [RelabelConfig],
    scheme: NameValidationScheme,
) -> Result<(), String> {
    for r in rules {
        r.validate(scheme).map_err(|e| e.0)?;
    }
    Ok(())
}

/// Applies the inheritance and checks of Prometheus' `ScrapeConfig.Validate`.
pub(super) fn validate_scrape_config(c: &mut ScrapeConfig, g: &GlobalConfig) -> Result<(), String> {
    if c.job_name.is_empty() {
        return Err("job_name is empty".into());
    }
    if c.scrape_interval.is_zero() {
        c.scrape_interval = g.scrape_interval;
    }
    if c.scrape_timeout > c.scrape_interval {
        return Err(format!(
            "scrape timeout greater than scrape interval for scrape config with job name {:?}",
            c.job_name
        ));
    }
    if c.scrape_timeout.is_zero() {
        c.scrape_timeout = g.scrape_timeout.min(c.scrape_interval);
    }
    if c.scrape_protocols.is_empty() {
        c.scrape_protocols =
            g.scrape_protocols.clone().unwrap_or_else(|| DEFAULT_SCRAPE_PROTOCOLS.to_vec());
    }
    validate_protocols(&c.scrape_protocols)?;
    if c.body_size_limit.0 == 0 {
        c.body_size_limit = g.body_size_limit;
    }
    for (limit, global) in [
        (&mut c.sample_limit, g.sample_limit),
        (&mut c.target_limit, g.target_limit),
        (&mut c.label_limit, g.label_limit),
        (&mut c.label_name_length_limit, g.label_name_length_limit),
        (&mut c.label_value_length_limit, g.label_value_length_limit),
        (&mut c.keep_dropped_targets, g.keep_dropped_targets),
    ] {
        if *limit == 0 {
            *limit = global;
        }
    }
    let scheme = *c.metric_name_validation_scheme.get_or_insert(g.metric_name_validation_scheme);
    if c.metric_name_escaping_scheme.is_none() {
        c.metric_name_escaping_scheme =
            Some(if c.metric_name_validation_scheme == Some(g.metric_name_validation_scheme) {
                g.metric_name_escaping_scheme.unwrap_or_else(|| default_escaping(scheme))
            } else {
                default_escaping(scheme)
            });
    }
    check_escaping(scheme, c.metric_name_escaping_scheme)?;
    c.always_scrape_classic_histograms.get_or_insert(g.always_scrape_classic_histograms);
    c.convert_classic_histograms_to_nhcb.get_or_insert(g.convert_classic_histograms_to_nhcb);
    if c.scrape_native_histograms.is_none() {
        c.scrape_native_histograms = g.scrape_native_histograms;
    }
    c.extra_scrape_metrics.get_or_insert(g.extra_scrape_metrics);
    if !c.metrics_path.starts_with('/') {
        return Err(format!("metrics_path {:?} must start with /", c.metrics_path));
    }
    validate_http_client(
        &c.basic_auth,
        &mut c.authorization,
        &c.oauth2,
        &c.bearer_token,
        &c.bearer_token_file,
        &c.proxy_url,
        &c.no_proxy,
        c.proxy_from_environment,
    )?;
    c.bearer_token = None;
    c.bearer_token_file.clear();
    revalidate_rules(&mut c.relabel_configs, scheme)?;
    revalidate_rules(&mut c.metric_relabel_configs, scheme)?;
    validate_sd(c.sd_config_set(), scheme, !c.relabel_configs.is_empty())?;
    for k in &mut c.kubernetes_sd_configs {
        k.validate()?;
    }
    Ok(())
}

/// Checks shared by every place that embeds discovery configs. As in
/// Prometheus, static targets that look like URLs are only rejected when
/// no relabel rule could rewrite them (the blackbox exporter pattern).
fn validate_sd(
    set: SdConfigSet<'_>,
    scheme: NameValidationScheme,
    has_relabeling: bool,
) -> Result<(), String> {
    for sc in set.static_configs {
        for t in &sc.targets {
            if !has_relabeling && t.contains('/') {
                return Err(format!("{t:?} is not a valid hostname"));
            }
        }
        for name in sc.labels.keys() {
            if !scheme.is_valid_label_name(name) {
                return Err(format!("{name:?} is not a valid label name"));
            }
        }
    }
    for f in set.file_sd_configs {
        f.validate()?;
    }
    Ok(())
}

fn validate_alertmanager(
    am: &mut AlertmanagerConfig,
    scheme: NameValidationScheme,
    base: &Path,
) -> Result<(), String> {
    if am.api_version == AlertmanagerApiVersion::V1 {
        return Err("alertmanager api v1 is no longer supported".into());
    }
    validate_http_client(
        &am.basic_auth,
        &mut am.authorization,
        &am.oauth2,
        &am.bearer_token,
        &am.bearer_token_file,
        &am.proxy_url,
        &am.no_proxy,
        am.proxy_from_environment,
    )
    .map_err(|e| format!("alertmanagers: {e}"))?;
    am.bearer_token = None;
    am.bearer_token_file.clear();
    revalidate_rules(&mut am.relabel_configs, scheme)?;
    revalidate_rules(&mut am.alert_relabel_configs, scheme)?;
    for f in &mut am.file_sd_configs {
        for p in &mut f.files {
            resolve(base, p);
        }
    }
    validate_sd(am.sd_config_set(), scheme, !am.relabel_configs.is_empty())?;
    for k in &mut am.kubernetes_sd_configs {
        k.validate().map_err(|e| format!("alertmanagers: {e}"))?;
    }
    Ok(())
}

/// `remote_write` / `remote_read` are kept as written; check what
/// Prometheus checks first: a mapping with a `url`, and unique names.
fn validate_remote(entries: &[serde_yaml::Value], section: &str) -> Result<(), String> {
    let words = section.replace('_', " ");
    let mut names = HashSet::new();
    for e in entries {
        let serde_yaml::Value::Mapping(m) = e else {
            return Err(format!("empty or null {words} config section"));
        };
        match m.get("url") {
            Some(serde_yaml::Value::String(u)) if !u.is_empty() => {
                if !u.contains("://") {
                    return Err(format!("invalid {section} url {u:?}"));
                }
            }
            _ => return Err(format!("url for {section} is empty")),
        }
        if let Some(serde_yaml::Value::String(n)) = m.get("name")
            && !n.is_empty()
            && !names.insert(n.clone())
        {
            // Prometheus' wording, "job name" included.
            return Err(format!("found multiple {words} configs with job name {n:?}"));
        }
    }
    Ok(())
}

fn scrape_config_warnings(c: &ScrapeConfig) -> Vec<String> {
    let job = &c.job_name;
    let mut w = Vec::new();
    for key in c.unsupported_sd_keys().into_iter().chain(c.sd_config_set().providers().1) {
        w.push(format!(
            "job {job:?}: {key} is accepted but not implemented; it discovers no targets"
        ));
    }
    if c.oauth2.is_some() {
        w.push(format!("job {job:?}: oauth2 is accepted but not implemented"));
    }
    if c.http_headers.is_some() {
        w.push(format!("job {job:?}: http_headers is accepted but not implemented"));
    }
    if !c.proxy_connect_header.is_empty() {
        w.push(format!("job {job:?}: proxy_connect_header is accepted but not implemented"));
    }
    w
}
