//! The UI's static files, embedded in the binary so the server needs no
//! asset directory and no Node.js toolchain: plain HTML, CSS and
//! JavaScript modules from `server/web/`.

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// Path below `/assets/`.
    pub(crate) name: &'static str,
    pub(crate) body: &'static str,
    pub(crate) content_type: &'static str,
}

macro_rules! asset {
    ($name:literal, $ty:expr) => {
        Asset { name: $name, body: include_str!(concat!("../../web/", $name)), content_type: $ty }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file below `/assets/`.
pub(crate) const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/query.js", JS),
    asset!("js/editor.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/alerts.js", JS),
    asset!("js/targets.js", JS),
    asset!("js/sd.js", JS),
    asset!("js/status.js", JS),
];

/// The single-page shell every UI route answers with; `%PREFIX%` is
/// replaced by the route prefix when served.
pub(crate) const INDEX_HTML: &str = include_str!("../../web/index.html");

/// Looks up an asset by its path below `/assets/`.
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// A strong validator for a body: FNV-1a over its bytes. Bodies are fixed
/// at build time, so the tag changes exactly when a file does.
pub(crate) fn etag(body: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_non_empty() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            assert_eq!(find(a.name).map(|f| f.name), Some(a.name));
        }
        assert!(find("nope.js").is_none());
    }

    #[test]
    fn modules_import_only_embedded_files() {
        // A module importing a file that is not embedded would 404 in the
        // browser and blank the page.
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for line in a.body.lines().filter(|l| l.starts_with("import ")) {
                let spec = line.rsplit(" from ").next().unwrap_or(line);
                let spec =
                    spec.trim().trim_end_matches(';').trim_matches(|c| c == '\'' || c == '"');
                let target = spec.strip_prefix("./").expect("relative import");
                let full = format!("js/{target}");
                assert!(find(&full).is_some(), "{} imports missing {full}", a.name);
            }
        }
    }

    #[test]
    fn etags_differ_by_content() {
        assert_ne!(etag("a"), etag("b"));
        assert_eq!(etag("a"), etag("a"));
    }
}
