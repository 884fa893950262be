//! `file_sd_configs`: target groups read from JSON or YAML files.
//!
//! The discoverer expands the configured globs, reads every matching file
//! and sends one target group per list entry, with source `<path>:<index>`
//! and the label `__meta_filepath`. It re-reads everything when a watched
//! directory changes (inotify through `notify`) and every
//! `refresh_interval` regardless, because change events can be lost (NFS,
//! editors that swap files, watcher limits).
//!
//! Failure policy, as in Prometheus: a file that cannot be read or parsed
//! keeps the groups it last produced (the error is logged); a file that no
//! longer matches any glob has its groups removed by sending them empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::{ScalarString, duration_serde, scalar_label_set};
use crate::{Discoverer, DiscoveryError, DiscoveryFuture, LabelSet, SdConfig, TargetGroup};

/// The label holding the file a target was read from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File name patterns; only the last path element may contain `*`, and
    /// names must end in `.json`, `.yml` or `.yaml`.
    pub files: Vec<String>,
    /// How often every file is re-read even without a change event; 5m.
    #[serde(default = "default_refresh_interval", with = "duration_serde")]
    pub refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}

impl FileSdConfig {
    /// Checks the patterns as Prometheus does.
    pub fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".into());
        }
        for f in &self.files {
            if !is_valid_pattern(f) {
                return Err(format!("path name {f:?} is not valid for file discovery"));
            }
        }
        if self.refresh_interval.is_zero() {
            return Err("file service discovery refresh_interval must be greater than zero".into());
        }
        Ok(())
    }
}

/// `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn is_valid_pattern(p: &str) -> bool {
    let ext_ok = ["json", "yml", "yaml", "JSON", "YML", "YAML"]
        .iter()
        .any(|ext| p.strip_suffix(ext).is_some_and(|stem| stem.ends_with('.') && stem.len() > 1));
    let glob_ok = match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains('*') && !p[i..].contains('/'),
    };
    ext_ok && glob_ok
}

impl SdConfig for FileSdConfig {
    fn key(&self) -> &'static str {
        "file_sd_configs"
    }

    fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        self.validate()
            .map_err(|reason| DiscoveryError::InvalidConfig { key: "file_sd_configs", reason })?;
        Ok(Box::new(FileDiscoverer { config: self.clone(), known: BTreeMap::new() }))
    }
}

/// One entry of a file: the same shape in JSON and YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<ScalarString>,
    #[serde(default, deserialize_with = "scalar_label_set")]
    labels: LabelSet,
}

/// A JSON entry: Go's JSON decoding wants strings and ignores unknown keys.
#[derive(Debug, Deserialize)]
struct JsonFileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: LabelSet,
}

/// Why a file's content was rejected.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not a list of target groups.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line where the parser knows it).
        message: String,
    },
}

/// Reads one file into target groups with sources `<path>:<index>`.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, FileSdError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FileSdError::Read { path: path.into(), source })?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parse_err = |message: String| FileSdError::Parse { path: path.into(), message };
    let groups: Vec<FileGroup> = if is_json {
        serde_json::from_str::<Option<Vec<JsonFileGroup>>>(&text)
            .map_err(|e| parse_err(e.to_string()))?
            .map(|v| {
                v.into_iter()
                    .map(|g| FileGroup {
                        targets: g.targets.into_iter().map(ScalarString).collect(),
                        labels: g.labels,
                    })
                    .collect()
            })
    } else {
        serde_yaml::from_str::<Option<Vec<FileGroup>>>(&text)
            .map_err(|e| parse_err(e.to_string()))?
    }
    .unwrap_or_default();
    let display = path.to_string_lossy().into_owned();
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        for name in g.labels.keys() {
            if name.is_empty() {
                return Err(parse_err(format!("group {i}: empty label name")));
            }
        }
        // Addresses are checked after relabeling, which may rewrite them.
        let targets = g
            .targets
            .into_iter()
            .map(|t| LabelSet::from([(crate::ADDRESS_LABEL.to_owned(), t.0)]))
            .collect();
        let mut labels = g.labels;
        labels.insert(FILEPATH_LABEL.to_owned(), display.clone());
        out.push(TargetGroup { source: format!("{display}:{i}"), targets, labels });
    }
    Ok(out)
}

struct FileDiscoverer {
    config: FileSdConfig,
    /// Number of groups each file produced at the last successful read.
    known: BTreeMap<PathBuf, usize>,
}

impl FileDiscoverer {
    /// The files the patterns match now, sorted.
    fn list_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for pattern in &self.config.files {
            match glob::glob(pattern) {
                Ok(paths) => files.extend(paths.filter_map(Result::ok)),
                Err(e) => tracing::error!(pattern, error = %e, "invalid file_sd pattern"),
            }
        }
        files.sort();
        files.dedup();
        files
    }

    /// Reads every file; returns the groups to send (including empty ones
    /// that remove groups which no longer exist).
    fn refresh(&mut self) -> Vec<TargetGroup> {
        let mut out = Vec::new();
        let mut now: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for path in self.list_files() {
            match read_file(&path) {
                Ok(groups) => {
                    let before = self.known.get(&path).copied().unwrap_or(0);
                    let count = groups.len();
                    out.extend(groups);
                    // Entries removed from the end of the file.
                    out.extend((count..before).map(|i| empty_group(&path, i)));
                    now.insert(path, count);
                }
                Err(e) => {
                    // Keep what the file last produced; nothing is sent for it.
                    tracing::error!(error = %e, "file_sd: keeping the last good target groups");
                    if let Some(n) = self.known.get(&path) {
                        now.insert(path, *n);
                    }
                }
            }
        }
        for (path, n) in &self.known {
            if !now.contains_key(path) {
                out.extend((0..*n).map(|i| empty_group(path, i)));
            }
        }
        self.known = now;
        out
    }

    /// Directories to watch: the parent of each pattern.
    fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .config
            .files
            .iter()
            .map(|p| match Path::new(p).parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

fn empty_group(path: &Path, index: usize) -> TargetGroup {
    TargetGroup { source: format!("{}:{index}", path.to_string_lossy()), ..TargetGroup::default() }
}

/// Starts watching `dirs`; each change wakes `wake`. Returns the watcher
/// (dropping it stops watching) or `None` if watching is unavailable, in
/// which case the refresh interval alone drives updates.
fn watch(dirs: &[PathBuf], wake: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = match notify::recommended_watcher(
        move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                // A full channel already holds a pending wake-up.
                let _ = wake.try_send(());
            }
        },
    ) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "file_sd: cannot watch files, relying on refresh_interval");
            return None;
        }
    };
    for d in dirs {
        if let Err(e) = watcher.watch(d, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "file_sd: cannot watch directory");
        }
    }
    Some(watcher)
}

/// Change events come in bursts (write, chmod, rename); wait this long
/// after one before re-reading so a burst causes one refresh.
const DEBOUNCE: Duration = Duration::from_millis(50);

impl Discoverer for FileDiscoverer {
    fn run(mut self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> DiscoveryFuture {
        Box::pin(async move {
            let (wake_tx, mut wake_rx) = mpsc::channel(1);
            let _watcher = watch(&self.watch_dirs(), wake_tx);
            let mut first = true;
            loop {
                let groups = self.refresh();
                // The first send happens even when empty so the manager
                // knows this provider has reported.
                if (first || !groups.is_empty()) && updates.send(groups).await.is_err() {
                    return;
                }
                first = false;
                tokio::select! {
                    _ = tokio::time::sleep(self.config.refresh_interval) => {}
                    Some(()) = wake_rx.recv() => {
                        tokio::time::sleep(DEBOUNCE).await;
                        while wake_rx.try_recv().is_ok() {}
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ADDRESS_LABEL;

    #[test]
    fn validates_patterns_like_prometheus() {
        let ok = ["a.json", "dir/*.yml", "/etc/x/targets-*.yaml", "f.JSON"];
        for p in ok {
            assert!(is_valid_pattern(p), "{p}");
        }
        let bad = ["a.txt", "*/a.json", "a*b*.json", "json", ".json", "dir/a.json.bak"];
        for p in bad {
            assert!(!is_valid_pattern(p), "{p}");
        }
        let cfg = FileSdConfig { files: vec![], refresh_interval: Duration::from_secs(1) };
        assert!(cfg.validate().unwrap_err().contains("at least one path name"));
    }

    #[test]
    fn parses_json_and_yaml_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("a.json");
        std::fs::write(&json, r#"[{"targets": ["h1:80", "h2:80"], "labels": {"env": "prod"}}, {"targets": ["h3:80"]}]"#)
            .expect("write");
        let groups = read_file(&json).expect("valid json");
        assert_eq!(groups.len(), 2);
        let p = json.to_string_lossy().into_owned();
        assert_eq!(groups[0].source, format!("{p}:0"));
        assert_eq!(groups[1].source, format!("{p}:1"));
        assert_eq!(groups[0].targets[1][ADDRESS_LABEL], "h2:80");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[1].labels[FILEPATH_LABEL], p);

        let yaml = dir.path().join("b.yml");
        std::fs::write(&yaml, "- targets: ['x:1']\n  labels:\n    port: 8080\n").expect("write");
        let groups = read_file(&yaml).expect("valid yaml");
        assert_eq!(groups[0].labels["port"], "8080");

        std::fs::write(&yaml, "").expect("write");
        assert!(read_file(&yaml).expect("empty is no groups").is_empty());

        for bad in ["- targets: [a]\n  lables: {}\n", "targets: [a]\n", "- targets: [[a]]\n"] {
            std::fs::write(&yaml, bad).expect("write");
            assert!(read_file(&yaml).is_err(), "{bad:?} should be rejected");
        }
        std::fs::write(&json, r#"[{"targets": ["a"], "labels": {"x": 1}}]"#).expect("write");
        assert!(read_file(&json).is_err(), "JSON label values must be strings");
    }

    async fn next(rx: &mut mpsc::Receiver<Vec<TargetGroup>>) -> Vec<TargetGroup> {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an update within 10s")
            .expect("discoverer running")
    }

    fn addresses(groups: &[TargetGroup]) -> Vec<(String, Vec<String>)> {
        groups
            .iter()
            .map(|g| {
                (g.source.clone(), g.targets.iter().map(|t| t[ADDRESS_LABEL].clone()).collect())
            })
            .collect()
    }

    /// Replaces a file the way config management tools do (write a
    /// temporary file, rename it), so no reader sees it half-written.
    fn replace(path: &Path, content: &str) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, content).expect("write temporary file");
        std::fs::rename(&tmp, path).expect("rename into place");
    }

    type State = BTreeMap<String, Vec<String>>;

    fn apply(state: &mut State, groups: &[TargetGroup]) {
        for (source, addrs) in addresses(groups) {
            if addrs.is_empty() {
                state.remove(&source);
            } else {
                state.insert(source, addrs);
            }
        }
    }

    /// Applies updates until the state is `want` (updates may repeat
    /// unchanged groups, or arrive split over several sends).
    async fn wait_for(rx: &mut mpsc::Receiver<Vec<TargetGroup>>, state: &mut State, want: &State) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while state != want {
            let groups = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap_or_else(|_| panic!("state never became {want:?}; last {state:?}"))
                .expect("discoverer running");
            apply(state, &groups);
        }
    }

    fn state(entries: &[(String, &[&str])]) -> State {
        entries
            .iter()
            .map(|(s, a)| (s.clone(), a.iter().map(|x| (*x).to_owned()).collect()))
            .collect()
    }

    #[tokio::test]
    async fn follows_writes_changes_invalid_content_and_deletion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("targets.yml");
        let src = |i: usize| format!("{}:{i}", path.to_string_lossy());
        replace(&path, "- targets: ['a:1']\n- targets: ['b:1']\n");
        let cfg = FileSdConfig {
            files: vec![dir.path().join("*.yml").to_string_lossy().into_owned()],
            // Long enough that only change events drive this test.
            refresh_interval: Duration::from_secs(3600),
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(cfg.discoverer().expect("valid").run(tx));
        let mut st = State::new();

        let first = next(&mut rx).await;
        assert_eq!(
            addresses(&first),
            vec![(src(0), vec!["a:1".into()]), (src(1), vec!["b:1".into()])]
        );
        apply(&mut st, &first);

        // A change that removes the second entry sends it empty.
        replace(&path, "- targets: ['a:1', 'c:1']\n");
        wait_for(&mut rx, &mut st, &state(&[(src(0), &["a:1", "c:1"])])).await;

        // Invalid content keeps the last good groups.
        replace(&path, "- targets: [unclosed\n");
        let before = st.clone();
        let quiet_until = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(groups)) = tokio::time::timeout_at(quiet_until, rx.recv()).await {
            apply(&mut st, &groups);
        }
        assert_eq!(st, before, "invalid content must not change the groups");

        // A new file matching the glob is picked up.
        let other = dir.path().join("more.yml");
        replace(&other, "- targets: ['d:1']\n");
        let other_src = format!("{}:0", other.to_string_lossy());
        wait_for(
            &mut rx,
            &mut st,
            &state(&[(src(0), &["a:1", "c:1"]), (other_src.clone(), &["d:1"])]),
        )
        .await;

        // Deleting a file removes its groups.
        std::fs::remove_file(&path).expect("remove");
        wait_for(&mut rx, &mut st, &state(&[(other_src, &["d:1"])])).await;
        task.abort();
    }

    #[tokio::test]
    async fn refresh_interval_finds_files_without_change_events() {
        // The directory does not exist yet, so it cannot be watched: only
        // the periodic refresh can find the file.
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("later");
        let cfg = FileSdConfig {
            files: vec![sub.join("*.json").to_string_lossy().into_owned()],
            refresh_interval: Duration::from_millis(100),
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(cfg.discoverer().expect("valid").run(tx));
        assert!(next(&mut rx).await.is_empty(), "the first update reports no groups");
        std::fs::create_dir(&sub).expect("mkdir");
        let file = sub.join("t.json");
        replace(&file, r#"[{"targets": ["p:1"]}]"#);
        let mut st = State::new();
        wait_for(&mut rx, &mut st, &state(&[(format!("{}:0", file.to_string_lossy()), &["p:1"])]))
            .await;
        task.abort();
    }

    #[tokio::test]
    async fn refresh_reports_each_removal_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#).expect("write");
        let cfg = FileSdConfig {
            files: vec![path.to_string_lossy().into_owned()],
            refresh_interval: Duration::from_millis(100),
        };
        let mut d = FileDiscoverer { config: cfg, known: BTreeMap::new() };
        assert_eq!(d.refresh().len(), 1);
        // Unchanged content is resent on each refresh; the manager dedups.
        assert_eq!(d.refresh().len(), 1);
        std::fs::remove_file(&path).expect("remove");
        let gone = d.refresh();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].targets.is_empty());
        assert!(d.refresh().is_empty(), "nothing left to remove");
    }
}
