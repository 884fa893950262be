//! Meta-label names and the helpers every role shares.
//!
//! Names follow Prometheus exactly (`__meta_kubernetes_<role>_label_<key>`
//! and so on), because users' relabel rules are written against them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::LabelSet;

/// Prefix of every label this mechanism produces.
pub(crate) const META: &str = "__meta_kubernetes_";
/// The namespace of the object.
pub(crate) const NAMESPACE: &str = "__meta_kubernetes_namespace";
/// Value of every `*present` label.
pub(crate) const PRESENT: &str = "true";

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, as Prometheus'
/// `strutil.SanitizeLabelName` does for label and annotation keys.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Adds `<resource>_label_*`, `_labelpresent_*`, `_annotation_*` and
/// `_annotationpresent_*` for the object's labels and annotations.
pub(crate) fn add_labels_and_annotations(out: &mut LabelSet, meta: &ObjectMeta, resource: &str) {
    let mut add = |kind: &str, map: &Option<BTreeMap<String, String>>| {
        for (k, v) in map.iter().flatten() {
            let key = sanitize(k);
            out.insert(format!("{META}{resource}_{kind}_{key}"), v.clone());
            out.insert(format!("{META}{resource}_{kind}present_{key}"), PRESENT.to_owned());
        }
    };
    add("label", &meta.labels);
    add("annotation", &meta.annotations);
}

/// Adds `<role>_name` plus the object's labels and annotations.
pub(crate) fn add_object_meta(out: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    out.insert(format!("{META}{role}_name"), meta.name.clone().unwrap_or_default());
    add_labels_and_annotations(out, meta, role);
}

/// `host:port`, bracketing IPv6 hosts like Go's `net.JoinHostPort`.
pub(crate) fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_prometheus() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("prometheus.io/scrape"), "prometheus_io_scrape");
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }
}
