//! Rendering the deployment manifests for the `deploy_*` tests.
//!
//! The kustomize manifests are rendered with `kubectl kustomize`, the Helm
//! chart with the real Helm template engine through the `helm-python-sdk`
//! package (Helm's Go SDK as a shared library, driven from Python), so no
//! cluster, container engine or `helm` binary is needed. A missing tool
//! fails the test with the command that installs it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

/// The release name and namespace the chart is rendered with; the kustomize
/// manifests are written for the same.
pub(crate) const RELEASE: &str = "promethium";
pub(crate) const NAMESPACE: &str = "monitoring";

/// The workspace root (the parent of this crate).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests crate has a parent").to_path_buf()
}

/// `deploy/` in the workspace.
pub(crate) fn deploy_dir() -> PathBuf {
    workspace_root().join("deploy")
}

/// The Helm chart's directory.
pub(crate) fn chart_dir() -> PathBuf {
    deploy_dir().join("helm/promethium")
}

/// Parses a multi-document YAML stream into JSON values, skipping empty
/// documents (comments only).
pub(crate) fn parse_documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc).expect("well-formed YAML document");
            serde_json::to_value(v).expect("YAML document converts to JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// `kubectl kustomize deploy/kubernetes`, as objects.
pub(crate) fn kustomize() -> Vec<Value> {
    let dir = deploy_dir().join("kubernetes");
    let out = Command::new("kubectl").arg("kustomize").arg(&dir).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `kubectl kustomize` ({e}); install kubectl \
             (Debian: `apt-get install kubernetes-client`)"
        )
    });
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_documents(&String::from_utf8(out.stdout).expect("UTF-8 output"))
}

/// The Helm chart rendered with `values` (merged over values.yaml, as
/// `helm install -f` would) as release `promethium` in `monitoring`: one
/// entry per template file that produced output, with its objects.
pub(crate) fn helm_template(values: &Value) -> Vec<(String, Vec<Value>)> {
    const SCRIPT: &str = r#"
import json, sys
try:
    import helm_python as helm
except ImportError as e:
    sys.stderr.write("MISSING: %s\n" % e)
    sys.exit(3)
chart_dir, release, namespace, values = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with helm.Chart.load(chart_dir) as chart:
    rendered = chart.render(values, name=release, namespace=namespace)
json.dump(rendered, sys.stdout)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(chart_dir())
        .arg(RELEASE)
        .arg(NAMESPACE)
        .arg(values.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 to render the Helm chart: {e}"));
    if out.status.code() == Some(3) {
        panic!(
            "rendering the Helm chart needs the helm-python-sdk package (Helm's template \
             engine): `pip install helm-python-sdk==0.2.2` ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    assert!(
        out.status.success(),
        "helm template failed with values {values}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: serde_json::Map<String, Value> =
        serde_json::from_slice(&out.stdout).expect("renderer prints a JSON object");
    let mut rendered: Vec<(String, Vec<Value>)> = files
        .into_iter()
        .filter(|(name, _)| name.ends_with(".yaml"))
        .map(|(name, text)| {
            let objects = parse_documents(text.as_str().expect("rendered text"));
            (name, objects)
        })
        .filter(|(_, objects)| !objects.is_empty())
        .collect();
    rendered.sort_by(|a, b| a.0.cmp(&b.0));
    rendered
}

/// Every object of a Helm render, in template-file order.
pub(crate) fn helm_objects(values: &Value) -> Vec<Value> {
    helm_template(values).into_iter().flat_map(|(_, objects)| objects).collect()
}

/// The object of `kind` (there must be exactly one).
pub(crate) fn only<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind}, found {}", found.len());
    found[0]
}

/// The kinds present, in order.
pub(crate) fn kinds(objects: &[Value]) -> Vec<String> {
    objects.iter().map(|o| o["kind"].as_str().unwrap_or("?").to_owned()).collect()
}

/// The `prometheus.yml` text of the ConfigMap among `objects`.
pub(crate) fn configmap_prometheus_yml(objects: &[Value]) -> String {
    only(objects, "ConfigMap")["data"]["prometheus.yml"]
        .as_str()
        .expect("ConfigMap has data.prometheus.yml")
        .to_owned()
}
