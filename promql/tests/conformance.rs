//! Runs Prometheus' PromQL test scripts (`*.test`) from the shared
//! conformance folder against `MemStorage` and the `Engine`, and prints per
//! file how many eval commands passed, failed and were skipped (and why).
//!
//! The folder is `$PROMETHIUM_CONFORMANCE_DIR/promql`, by default
//! `<workspace>/../shared/conformance/promql`. A missing folder fails the
//! test: silently passing without data would hide a broken setup.

use std::path::PathBuf;

use promethium_promql::promqltest::{CommandOutcome, SkipPolicy, run_script};

fn conformance_dir() -> PathBuf {
    let base =
        std::env::var_os("PROMETHIUM_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join("shared")
                .join("conformance")
        });
    base.join("promql")
}

#[test]
fn promql_conformance_scripts() {
    let dir = conformance_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "conformance scripts not found in {} ({e}); set PROMETHIUM_CONFORMANCE_DIR to the folder holding promql/*.test",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test files in {}", dir.display());
    // An optional filter for working on one file: PROMQL_TEST_FILE=functions.
    let only = std::env::var("PROMQL_TEST_FILE").ok();
    let mut policy = SkipPolicy::default();
    // PROMQL_RUN_EXPERIMENTAL=1 also runs the files of experimental features,
    // to see how far the engine gets with them.
    if std::env::var_os("PROMQL_RUN_EXPERIMENTAL").is_some() {
        policy.files.retain(|(f, _)| *f == "native_histograms.test");
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let report = run_script(&name, &text, &policy);
        if let Some(e) = &report.script_error {
            problems.push(format!("{name}: cannot run script: {e}"));
        }
        let (f, s) = (report.failed(), report.skipped());
        println!("{name}: {} passed, {} failed, {} skipped", report.passed(), f.len(), s.len());
        let mut reasons: Vec<&str> =
            s.iter()
                .filter_map(|(_, _, o)| {
                    if let CommandOutcome::Skipped(r) = o { Some(r.as_str()) } else { None }
                })
                .collect();
        reasons.sort_unstable();
        reasons.dedup();
        for r in reasons {
            println!("    skipped: {r}");
        }
        for (line, expr, outcome) in &f {
            if let CommandOutcome::Failed(why) = outcome {
                println!("    FAIL line {line}: {expr}\n        {why}");
                problems.push(format!("{name}:{line}: {expr}"));
            }
        }
        passed += report.passed();
        failed += f.len();
        skipped += s.len();
    }
    println!("total: {passed} passed, {failed} failed, {skipped} skipped");
    assert!(
        problems.is_empty(),
        "{} conformance problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
