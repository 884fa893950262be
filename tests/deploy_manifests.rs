//! The Helm chart and the kustomize manifests are well-formed and agree.
//!
//! Both are rendered offline (see `deploy_support`), every object is parsed
//! as its `k8s-openapi` type and serialised back, so a misspelt or
//! misplaced field (which serde would otherwise skip) fails the test. The
//! ClusterRole is checked against the discovery code's own RBAC list, the
//! container arguments against the server's real flag parser, and the
//! chart's defaults against the plain manifests object by object.

#[path = "deploy_support.rs"]
mod deploy_support;

use std::collections::BTreeSet;

use deploy_support::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, PodSpec, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Parses `object` as `T` and checks that serialising it back gives the
/// same document: nothing was unknown to the type, nothing was lost.
fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> T {
    let typed: T = serde_json::from_value(object.clone()).unwrap_or_else(|e| {
        panic!("{} {} does not parse: {e}", object["kind"], object["metadata"]["name"])
    });
    let mut back = serde_json::to_value(&typed).expect("serialise back");
    // k8s-openapi always writes apiVersion/kind of an embedded claim template.
    for claim in back
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let claim = claim.as_object_mut().expect("claim template object");
        claim.remove("apiVersion");
        claim.remove("kind");
    }
    assert_eq!(
        &back, object,
        "{} {} has fields its type does not know (or lost some)",
        object["kind"], object["metadata"]["name"]
    );
    typed
}

/// Parses every object as the `k8s-openapi` type its kind names.
fn parse_all(objects: &[Value]) {
    for o in objects {
        match o["kind"].as_str().expect("object has a kind") {
            "Namespace" => drop(round_trip::<Namespace>(o)),
            "ServiceAccount" => drop(round_trip::<ServiceAccount>(o)),
            "ClusterRole" => drop(round_trip::<ClusterRole>(o)),
            "ClusterRoleBinding" => drop(round_trip::<ClusterRoleBinding>(o)),
            "ConfigMap" => drop(round_trip::<ConfigMap>(o)),
            "PersistentVolumeClaim" => drop(round_trip::<PersistentVolumeClaim>(o)),
            "Deployment" => drop(round_trip::<Deployment>(o)),
            "StatefulSet" => drop(round_trip::<StatefulSet>(o)),
            "Service" => drop(round_trip::<Service>(o)),
            "Ingress" => drop(round_trip::<Ingress>(o)),
            other => panic!("unexpected kind {other} in the rendered manifests"),
        }
    }
}

/// Value sets exercising every switch of the chart.
fn variants() -> Vec<Value> {
    vec![
        json!({}),
        json!({"server": {"statefulSet": {"enabled": true}, "retentionSize": "20GB"}}),
        json!({"server": {"persistentVolume": {"enabled": false}}}),
        json!({"server": {"statefulSet": {"enabled": true}, "persistentVolume": {"enabled": false}}}),
        json!({"server": {"ingress": {"enabled": true, "ingressClassName": "nginx",
            "hosts": ["promethium.example"],
            "tls": [{"secretName": "promethium-tls", "hosts": ["promethium.example"]}]}}}),
        json!({"rbac": {"create": false}, "serviceAccounts": {"server": {"create": false}}}),
        json!({"rbac": {"workloadMetadata": true}}),
    ]
}

#[test]
fn kustomize_renders_and_every_object_parses_as_its_type() {
    let objects = kustomize();
    // Sorted: kustomize releases order kinds differently (kubectl 1.20's
    // puts the claim after the Deployment).
    let mut found = kinds(&objects);
    found.sort();
    assert_eq!(
        found,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "Namespace",
            "PersistentVolumeClaim",
            "Service",
            "ServiceAccount"
        ]
    );
    parse_all(&objects);
    // The generated ConfigMap's name carries a content hash (a config change
    // rolls the pod); the Deployment must mount it under that name.
    let cm_name = only(&objects, "ConfigMap")["metadata"]["name"].as_str().expect("name");
    assert!(cm_name.starts_with("promethium-"), "hashed name, got {cm_name}");
    let spec = pod_spec(&objects);
    let config = spec.volumes.iter().flatten().find(|v| v.name == "config").expect("config volume");
    assert_eq!(config.config_map.as_ref().map(|c| c.name.as_str()), Some(cm_name));
}

#[test]
fn every_chart_variant_renders_and_parses_and_every_template_is_used() {
    let mut used = BTreeSet::new();
    for values in variants() {
        let rendered = helm_template(&values);
        for (file, objects) in &rendered {
            used.insert(file.rsplit('/').next().expect("file name").to_owned());
            parse_all(objects);
        }
    }
    let templates: BTreeSet<String> = std::fs::read_dir(chart_dir().join("templates"))
        .expect("templates directory")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let unused: Vec<_> = templates.difference(&used).collect();
    assert!(unused.is_empty(), "templates never rendered by any variant: {unused:?}");
}

#[test]
fn every_mount_has_a_volume_in_every_variant() {
    for values in variants() {
        let objects = helm_objects(&values);
        let workload = objects
            .iter()
            .find(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
            .expect("a workload");
        let spec = pod_spec(&objects);
        let mut volumes: BTreeSet<String> =
            spec.volumes.iter().flatten().map(|v| v.name.clone()).collect();
        for claim in workload["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let name = claim["metadata"]["name"].as_str().expect("claim name").to_owned();
            assert!(volumes.insert(name.clone()), "{name} is both a volume and a claim ({values})");
        }
        for c in &spec.containers {
            for m in c.volume_mounts.iter().flatten() {
                assert!(volumes.contains(&m.name), "mount {} has no volume with {values}", m.name);
            }
        }
        if workload["kind"] == "StatefulSet" {
            let governing = workload["spec"]["serviceName"].as_str().expect("serviceName");
            let svc = objects
                .iter()
                .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == governing)
                .unwrap_or_else(|| panic!("no Service {governing} for the StatefulSet"));
            assert_eq!(svc["spec"]["clusterIP"], "None", "the governing Service is headless");
        }
    }
}

/// `(apiGroup, resource, verb)` and `(nonResourceURL, verb)` triples.
fn rule_set(role: &Value) -> BTreeSet<(String, String, String)> {
    let role: ClusterRole = serde_json::from_value(role.clone()).expect("ClusterRole");
    let mut out = BTreeSet::new();
    for rule in role.rules.unwrap_or_default() {
        for verb in &rule.verbs {
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
            for url in rule.non_resource_urls.iter().flatten() {
                out.insert(("nonResourceURL".to_owned(), url.clone(), verb.clone()));
            }
        }
    }
    out
}

#[test]
fn cluster_role_grants_exactly_what_discovery_and_the_default_jobs_need() {
    let mut expected: BTreeSet<(String, String, String)> =
        promethium_discovery::kubernetes::required_rbac_rules()
            .iter()
            .flat_map(|r| {
                r.verbs.iter().map(|v| (r.api_group.to_owned(), r.resource.to_owned(), (*v).into()))
            })
            .collect();
    assert!(expected.iter().any(|(_, r, _)| r == "endpointslices"), "discovery list is complete");
    // Scraping, not discovery: the kubelets' /metrics and /metrics/cadvisor
    // (kubernetes-nodes, kubernetes-nodes-cadvisor) and the API server's
    // /metrics (kubernetes-apiservers).
    expected.insert(("".into(), "nodes/metrics".into(), "get".into()));
    expected.insert(("nonResourceURL".into(), "/metrics".into(), "get".into()));

    let from_kustomize = rule_set(only(&kustomize(), "ClusterRole"));
    assert_eq!(from_kustomize, expected, "kustomize ClusterRole");
    let from_helm = rule_set(only(&helm_objects(&json!({})), "ClusterRole"));
    assert_eq!(from_helm, expected, "Helm ClusterRole");
    assert!(
        !from_helm
            .iter()
            .any(|(_, r, v)| r == "nodes/proxy" || v != "get" && v != "list" && v != "watch"),
        "read-only, no nodes/proxy"
    );

    // rbac.workloadMetadata adds exactly what attach_metadata's workload
    // options watch.
    let with_workloads =
        rule_set(only(&helm_objects(&json!({"rbac": {"workloadMetadata": true}})), "ClusterRole"));
    let workload: BTreeSet<(String, String, String)> =
        promethium_discovery::kubernetes::workload_rbac_rules()
            .iter()
            .flat_map(|r| {
                r.verbs.iter().map(|v| (r.api_group.to_owned(), r.resource.to_owned(), (*v).into()))
            })
            .collect();
    assert!(!workload.is_empty());
    let added: BTreeSet<_> = with_workloads.difference(&expected).cloned().collect();
    assert_eq!(added, workload, "rbac.workloadMetadata grants the workload rules");
    assert!(expected.is_subset(&with_workloads), "and keeps the rest");
}

/// Drops what legitimately differs between a Helm release and the plain
/// manifests: Helm's chart/version labels, the config checksum annotation
/// (kustomize rolls the pod through the ConfigMap name's hash instead), that
/// hash suffix itself, and the config text (compared as YAML separately).
fn normalise(mut o: Value) -> Value {
    let strip_labels = |m: &mut Value| {
        if let Some(labels) = m.get_mut("labels").and_then(Value::as_object_mut) {
            labels.remove("helm.sh/chart");
            labels.remove("app.kubernetes.io/version");
        }
        if let Some(ann) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("checksum/config");
            if ann.is_empty() {
                m.as_object_mut().expect("metadata object").remove("annotations");
            }
        }
    };
    strip_labels(&mut o["metadata"]);
    if o["kind"] == "ConfigMap" {
        o["metadata"]["name"] = json!(RELEASE);
        o["data"]["prometheus.yml"] = json!("<compared separately>");
    }
    if let Some(template) = o.pointer_mut("/spec/template") {
        strip_labels(&mut template["metadata"]);
        for vol in template["spec"]["volumes"].as_array_mut().into_iter().flatten() {
            if let Some(name) = vol.pointer_mut("/configMap/name") {
                *name = json!(RELEASE);
            }
        }
    }
    o
}

#[test]
fn chart_defaults_equal_the_kustomize_manifests() {
    let plain = kustomize();
    let chart = helm_objects(&json!({}));
    let key = |o: &Value| format!("{}/{}", o["kind"], o["metadata"]["name"]);
    // The chart leaves the namespace to `helm install --create-namespace`.
    let plain: Vec<Value> =
        plain.into_iter().filter(|o| o["kind"] != "Namespace").map(normalise).collect();
    let chart: Vec<Value> = chart.into_iter().map(normalise).collect();
    let mut plain_keys: Vec<_> = plain.iter().map(key).collect();
    let mut chart_keys: Vec<_> = chart.iter().map(key).collect();
    plain_keys.sort();
    chart_keys.sort();
    assert_eq!(plain_keys, chart_keys, "the same objects");
    for p in &plain {
        let c = chart.iter().find(|c| key(c) == key(p)).expect("same keys");
        assert_eq!(c, p, "{} differs", key(p));
    }
    // The kustomize ConfigMap is the canonical file; the chart ships a copy
    // (re-serialised by its templates), and both mean the same YAML.
    let yaml = |t: &str| serde_yaml::from_str::<serde_yaml::Value>(t).expect("prometheus.yml");
    let canonical = std::fs::read_to_string(deploy_dir().join("kubernetes/prometheus.yml"))
        .expect("deploy/kubernetes/prometheus.yml");
    let copy = std::fs::read_to_string(chart_dir().join("files/prometheus.yml"))
        .expect("chart files/prometheus.yml");
    assert_eq!(copy, canonical, "the chart's files/prometheus.yml is a copy of the canonical one");
    assert_eq!(yaml(&configmap_prometheus_yml(&kustomize())), yaml(&canonical));
    assert_eq!(yaml(&configmap_prometheus_yml(&helm_objects(&json!({})))), yaml(&canonical));
}

fn pod_spec(objects: &[Value]) -> PodSpec {
    let workload = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
        .expect("a workload");
    serde_json::from_value(workload["spec"]["template"]["spec"].clone()).expect("pod spec")
}

/// Parses the container's arguments with the server's real flag parser.
fn server_flags(spec: &PodSpec) -> promethium_server::flags::Flags {
    let args = spec.containers[0].args.clone().expect("container args");
    promethium_server::flags::Flags::parse_from_args(
        std::iter::once("promethium".to_owned()).chain(args.clone()),
    )
    .unwrap_or_else(|e| panic!("the server rejects the container args {args:?}: {e}"))
}

#[test]
fn pod_runs_the_server_with_probes_non_root_and_a_read_only_root() {
    for objects in [kustomize(), helm_objects(&json!({}))] {
        let spec = pod_spec(&objects);
        let c = &spec.containers[0];
        let flags = server_flags(&spec);
        assert_eq!(
            flags.config_file.as_deref(),
            Some(std::path::Path::new("/etc/promethium/prometheus.yml"))
        );
        assert_eq!(flags.storage_tsdb_path, std::path::Path::new("/data"));
        assert_eq!(flags.listen_address, "0.0.0.0:9090");
        assert!(flags.enable_lifecycle, "/-/reload is enabled");
        let port = c.ports.as_ref().expect("ports").iter().find(|p| p.container_port == 9090);
        assert_eq!(port.and_then(|p| p.name.as_deref()), Some("http"));
        let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
            p.as_ref().and_then(|p| p.http_get.as_ref()).and_then(|h| h.path.clone())
        };
        assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/-/ready"));
        assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/-/healthy"));
        let pod_sc = spec.security_context.as_ref().expect("pod securityContext");
        assert_eq!(pod_sc.run_as_non_root, Some(true));
        assert!(pod_sc.run_as_user.is_some_and(|u| u != 0));
        let sc = c.security_context.as_ref().expect("container securityContext");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert!(c.resources.as_ref().and_then(|r| r.requests.as_ref()).is_some());
        // Everything the server writes goes to the mounted volume.
        let data = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == "/data")
            .expect("/data is mounted");
        assert_eq!(data.read_only, None);
        let svc: Service = serde_json::from_value(only(&objects, "Service").clone()).unwrap();
        let ports = svc.spec.and_then(|s| s.ports).expect("service ports");
        assert_eq!(ports[0].port, 9090);
    }
}

#[test]
fn retention_and_extra_args_from_values_reach_the_server() {
    let objects = helm_objects(&json!({"server": {
        "retention": "30d", "retentionSize": "50GB",
        "extraArgs": {"query.max-samples": "1000"}}}));
    let flags = server_flags(&pod_spec(&objects));
    // Prometheus' byte units are powers of two.
    assert_eq!(flags.retention_size, Some(50 << 30));
    let args = pod_spec(&objects).containers[0].args.clone().unwrap();
    assert!(args.contains(&"--storage.tsdb.retention.time=30d".to_owned()), "{args:?}");
    assert!(args.contains(&"--query.max-samples=1000".to_owned()), "{args:?}");
    // The defaults: 15d, no size limit.
    let args = pod_spec(&helm_objects(&json!({}))).containers[0].args.clone().unwrap();
    assert!(args.contains(&"--storage.tsdb.retention.time=15d".to_owned()), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--storage.tsdb.retention.size")), "{args:?}");
}

#[test]
fn config_change_rolls_the_pod_through_the_checksum_annotation() {
    let checksum = |values: Value| {
        let objects = helm_objects(&values);
        let d = only(&objects, "Deployment");
        d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            .as_str()
            .expect("checksum annotation")
            .to_owned()
    };
    let default = checksum(json!({}));
    assert_eq!(default, checksum(json!({"server": {"retention": "1d"}})), "config unchanged");
    let extra = "- job_name: extra\n  static_configs:\n    - targets: [\"a:9100\"]\n";
    assert_ne!(default, checksum(json!({"extraScrapeConfigs": extra})));
    assert_ne!(
        default,
        checksum(
            json!({"serverFiles": {"prometheus.yml": {"global": {"scrape_interval": "30s"}}}})
        )
    );
}

#[test]
fn server_files_and_extra_scrape_configs_shape_the_config() {
    let extra =
        "- job_name: extra\n  static_configs:\n    - targets: [\"{{ .Release.Name }}-x:9100\"]\n";
    let objects = helm_objects(&json!({
        "extraScrapeConfigs": extra,
        "serverFiles": {"prometheus.yml": {"global": {"scrape_interval": "30s"}}}}));
    let cfg = promethium_scrape::config::Config::load_str(&configmap_prometheus_yml(&objects))
        .expect("the rendered config loads");
    assert_eq!(cfg.global.scrape_interval, std::time::Duration::from_secs(30));
    let jobs: Vec<_> = cfg.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(jobs.first(), Some(&"promethium"), "default jobs kept");
    assert_eq!(jobs.last(), Some(&"extra"), "extra job appended");
    let last = cfg.scrape_configs.last().unwrap();
    assert_eq!(last.static_configs[0].targets, ["promethium-x:9100"], "tpl ran");

    // scrape_configs in serverFiles replaces the default jobs.
    let objects = helm_objects(&json!({"serverFiles": {"prometheus.yml": {
        "scrape_configs": [{"job_name": "only", "static_configs": [{"targets": ["b:1"]}]}]}}}));
    let cfg = promethium_scrape::config::Config::load_str(&configmap_prometheus_yml(&objects))
        .expect("the rendered config loads");
    let jobs: Vec<_> = cfg.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(jobs, ["only"]);
}

#[test]
fn chart_switches_select_the_right_objects() {
    let sts = helm_objects(&json!({"server": {"statefulSet": {"enabled": true}}}));
    assert!(!kinds(&sts).contains(&"Deployment".to_owned()));
    assert!(!kinds(&sts).contains(&"PersistentVolumeClaim".to_owned()), "claim from the template");
    let s: StatefulSet = serde_json::from_value(only(&sts, "StatefulSet").clone()).unwrap();
    let claims = s.spec.as_ref().and_then(|s| s.volume_claim_templates.clone()).expect("claims");
    assert_eq!(claims[0].metadata.name.as_deref(), Some("storage"));

    let ephemeral = helm_objects(&json!({"server": {"persistentVolume": {"enabled": false}}}));
    assert!(!kinds(&ephemeral).contains(&"PersistentVolumeClaim".to_owned()));
    let storage = pod_spec(&ephemeral).volumes.unwrap().into_iter().find(|v| v.name == "storage");
    assert!(storage.and_then(|v| v.empty_dir).is_some(), "emptyDir without persistence");

    let existing =
        helm_objects(&json!({"server": {"persistentVolume": {"existingClaim": "old-data"}}}));
    assert!(!kinds(&existing).contains(&"PersistentVolumeClaim".to_owned()), "no new claim");
    let storage = pod_spec(&existing).volumes.unwrap().into_iter().find(|v| v.name == "storage");
    let claim = storage.and_then(|v| v.persistent_volume_claim).expect("claim volume");
    assert_eq!(claim.claim_name, "old-data");

    let bare = helm_objects(&json!({"rbac": {"create": false},
        "serviceAccounts": {"server": {"create": false, "name": "existing"}}}));
    for kind in ["ClusterRole", "ClusterRoleBinding", "ServiceAccount"] {
        assert!(!kinds(&bare).contains(&kind.to_owned()), "{kind} not created");
    }
    assert_eq!(pod_spec(&bare).service_account_name.as_deref(), Some("existing"));

    let ing =
        helm_objects(&json!({"server": {"ingress": {"enabled": true, "hosts": ["p.example"]}}}));
    let ing: Ingress = serde_json::from_value(only(&ing, "Ingress").clone()).unwrap();
    let rule = &ing.spec.unwrap().rules.unwrap()[0];
    let backend = &rule.http.as_ref().unwrap().paths[0].backend;
    let svc = backend.service.as_ref().unwrap();
    assert_eq!(svc.name, RELEASE);
    assert_eq!(svc.port.as_ref().and_then(|p| p.name.as_deref()), Some("http"));
}

#[test]
fn chart_metadata_and_values_parse() {
    let chart: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "promethium");
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml parses");
    // The prometheus-community chart's names, where the meaning is the same.
    for pointer in [
        "/rbac/create",
        "/serviceAccounts/server/create",
        "/server/retention",
        "/server/retentionSize",
        "/server/resources",
        "/server/persistentVolume/enabled",
        "/server/persistentVolume/size",
        "/server/persistentVolume/existingClaim",
        "/server/statefulSet/enabled",
        "/server/ingress/enabled",
        "/extraScrapeConfigs",
        "/serverFiles/prometheus.yml",
    ] {
        assert!(values.pointer(pointer).is_some(), "values.yaml has {pointer}");
    }
}
