//! The image builds and runs the binary the tests run.
//!
//! No container engine runs here, so the Dockerfile is read instead: its
//! `cargo build` names a package and binary that exist in this workspace
//! (asked of `cargo metadata --locked`, which also fails on a stale
//! Cargo.lock, as the image build would), the runtime stage copies exactly that
//! binary from the build stage and runs it directly (exec form, no shell
//! script), as a non-root user, with the config and data paths the
//! manifests mount, and those arguments pass the server's flag parser.

#[path = "deploy_support.rs"]
mod deploy_support;

use std::process::Command;

use deploy_support::*;
use serde_json::Value;

/// One Dockerfile instruction: keyword (upper case) and its arguments, with
/// line continuations joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (kw, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
        out.push((kw.to_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    out
}

/// Builder and runtime stages: `(FROM args, instructions)`.
fn stages(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (kw, args) in instructions(text) {
        if kw == "FROM" {
            out.push((args, Vec::new()));
        } else {
            out.last_mut().expect("FROM comes first").1.push((kw, args));
        }
    }
    out
}

fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not exec (JSON) form: {args} ({e})"))
}

/// The value after `flag` in a whitespace-split command.
fn flag_value<'a>(words: &[&'a str], flag: &str) -> &'a str {
    let i = words.iter().position(|w| *w == flag).unwrap_or_else(|| panic!("no {flag}"));
    words.get(i + 1).unwrap_or_else(|| panic!("{flag} has no value"))
}

#[test]
fn dockerfile_builds_and_runs_the_workspace_binary() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).expect("deploy/Dockerfile");
    let stages = stages(&text);
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let (build_from, build) = &stages[0];
    let stage_name = build_from
        .split_once(" AS ")
        .or_else(|| build_from.split_once(" as "))
        .map(|(_, n)| n.trim().to_owned())
        .expect("the build stage is named");

    // A pinned toolchain no older than the workspace's rust-version, on the
    // runtime's Debian release.
    let image = build_from.split_whitespace().next().expect("builder image");
    let tag = image.strip_prefix("rust:").expect("the official Rust image");
    let (version, distro) = tag.split_once("-slim-").expect("rust:<version>-slim-<debian>");
    assert!(distro == "bookworm" && stages[1].0.starts_with("debian:bookworm"), "{image}");
    let root = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("Cargo.toml");
    let wanted = root
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("workspace rust-version");
    let parse =
        |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().expect("number")).collect() };
    assert!(parse(version).len() >= 2, "pinned to a minor release, got {version}");
    assert!(parse(version) >= parse(&wanted), "builder Rust {version} < rust-version {wanted}");

    // The build command and the package/binary it names.
    let cargo = build
        .iter()
        .find(|(kw, args)| kw == "RUN" && args.contains("cargo build"))
        .map(|(_, args)| args.clone())
        .expect("a RUN cargo build");
    let words: Vec<&str> = cargo.split_whitespace().collect();
    assert!(words.contains(&"--release") && words.contains(&"--locked"), "{cargo}");
    let package = flag_value(&words, "-p");
    let bin = flag_value(&words, "--bin");

    let out = Command::new(env!("CARGO"))
        // `--locked`, as the image's build: a stale Cargo.lock fails here.
        .args(["metadata", "--locked", "--format-version", "1", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata --locked fails, so would the image's cargo build --locked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let members = meta["workspace_members"].as_array().expect("workspace members");
    let pkg = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == package && members.contains(&p["id"]))
        .unwrap_or_else(|| panic!("the Dockerfile builds package {package}, not in the workspace"));
    let has_bin = pkg["targets"].as_array().expect("targets").iter().any(|t| {
        t["name"] == bin && t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"))
    });
    assert!(has_bin, "package {package} has no binary {bin}");
    // The binary the end-to-end tests and the server's own tests run.
    assert_eq!((package, bin), ("promethium-server", "promethium"));

    // The runtime stage copies that binary out of the build stage.
    let (runtime_from, runtime) = &stages[1];
    assert!(!runtime_from.starts_with("rust"), "slim runtime, not the toolchain image");
    let built = format!("/src/target/release/{bin}");
    let installed = runtime
        .iter()
        .filter(|(kw, _)| kw == "COPY")
        .find_map(|(_, args)| {
            let w: Vec<&str> = args.split_whitespace().collect();
            (w.first() == Some(&format!("--from={stage_name}").as_str())
                && w.get(1) == Some(&built.as_str()))
            .then(|| w[2].to_owned())
        })
        .unwrap_or_else(|| panic!("runtime stage copies {built} from {stage_name}"));
    let workdir = build.iter().find(|(kw, _)| kw == "WORKDIR").map(|(_, a)| a.as_str());
    assert_eq!(workdir, Some("/src"), "the build runs in /src, so the binary is at {built}");

    let get = |kw: &str| runtime.iter().rev().find(|(k, _)| k == kw).map(|(_, a)| a.clone());
    let entrypoint = exec_form(&get("ENTRYPOINT").expect("ENTRYPOINT"));
    assert_eq!(entrypoint, [installed], "the binary itself is the entrypoint");
    let cmd = exec_form(&get("CMD").expect("CMD"));
    assert_eq!(cmd, ["--config.file=/etc/promethium/prometheus.yml", "--storage.tsdb.path=/data"]);
    let flags = promethium_server::flags::Flags::parse_from_args(
        std::iter::once(bin.to_owned()).chain(cmd.iter().cloned()),
    )
    .expect("the server accepts the image's arguments");
    assert_eq!(flags.storage_tsdb_path, std::path::Path::new("/data"));
    assert_eq!(get("EXPOSE").as_deref(), Some("9090"));
    let user = get("USER").expect("USER");
    let uid = user.split(':').next().unwrap_or("");
    assert!(uid.parse::<u32>().is_ok_and(|u| u != 0), "numeric non-root user, got {user}");
    // runAsUser in the manifests is the image's user.
    let pod = kustomize();
    let d = only(&pod, "Deployment");
    assert_eq!(d["spec"]["template"]["spec"]["securityContext"]["runAsUser"].to_string(), uid);
}

#[test]
fn image_default_config_loads_and_the_build_context_keeps_what_cargo_needs() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).expect("deploy/Dockerfile");
    let copied = instructions(&text)
        .into_iter()
        .filter(|(kw, _)| kw == "COPY")
        .find_map(|(_, args)| {
            let w: Vec<&str> = args.split_whitespace().collect();
            (w.last() == Some(&"/etc/promethium/prometheus.yml")).then(|| w[w.len() - 2].to_owned())
        })
        .expect("the image ships /etc/promethium/prometheus.yml");
    let cfg = promethium_scrape::config::Config::load_file(workspace_root().join(&copied))
        .expect("the image's default config loads");
    assert_eq!(cfg.scrape_configs[0].job_name, "promethium");

    let ignore = std::fs::read_to_string(workspace_root().join(".dockerignore"))
        .expect(".dockerignore at the build context's root");
    let ignored: Vec<&str> =
        ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(ignored.contains(&"target"), "the host's target/ stays out of the context");
    for needed in ["Cargo.toml", "Cargo.lock", "server", "deploy", "engine"] {
        assert!(
            !ignored.iter().any(|p| p.trim_start_matches('/').trim_end_matches('/') == needed),
            "{needed} must be in the build context"
        );
    }
}
