use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

/// Parses a YAML list of rules, as they appear under `relabel_configs`.
fn rules(yaml: &str) -> Vec<RelabelConfig> {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("rules must parse: {e}\n{yaml}"))
}

fn rule_err(yaml: &str) -> String {
    match serde_yaml::from_str::<Vec<RelabelConfig>>(yaml) {
        Ok(r) => panic!("expected an error for {yaml}, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn default_rule_is_replace_with_prometheus_defaults() {
    let r = RelabelConfig::default();
    assert_eq!(r.action, Action::Replace);
    assert_eq!(r.separator, ";");
    assert_eq!(r.regex.as_str(), "(.*)");
    assert_eq!(r.replacement, "$1");
    let parsed = rules("- target_label: x\n");
    assert_eq!(parsed[0].regex.as_str(), "(.*)");
    assert_eq!(parsed[0].action, Action::Replace);
}

/// Each case: input labels, rules, expected output (None = dropped).
#[test]
fn process_table() {
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, Option<Vec<(&'a str, &'a str)>>);
    let cases: Vec<Case<'_>> = vec![
        (
            "replace with ${1} twice",
            vec![("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}",
            Some(vec![("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        ),
        (
            "chained replaces see earlier results",
            vec![("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}\n\
             - {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
            Some(vec![("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
        ),
        (
            "drop stops processing",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: '.*o.*', action: drop}\n\
             - {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch$1-ch$1'}",
            None,
        ),
        (
            "replace with an inner group",
            vec![("a", "abc")],
            "- {source_labels: [a], regex: '.*(b).*', target_label: d}",
            Some(vec![("a", "abc"), ("d", "b")]),
        ),
        (
            "drop without match keeps",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: no-match, action: drop}",
            Some(vec![("a", "foo")]),
        ),
        (
            "regex is anchored: f|o does not match foo",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: 'f|o', action: drop}",
            Some(vec![("a", "foo")]),
        ),
        (
            "keep without match drops",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: no-match, action: keep}",
            None,
        ),
        (
            "keep with match keeps",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: 'f.*', action: keep}",
            Some(vec![("a", "foo")]),
        ),
        (
            "no replacement without a match",
            vec![("a", "boo")],
            "- {source_labels: [a], regex: f, target_label: b, replacement: bar}",
            Some(vec![("a", "boo")]),
        ),
        (
            "hashmod agrees with Prometheus",
            vec![("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [c], target_label: d, action: hashmod, modulus: 1000}",
            Some(vec![("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
        ),
        (
            "hashmod with a newline in the value",
            vec![("a", "foo\nbar")],
            "- {source_labels: [a], target_label: b, action: hashmod, modulus: 1000}",
            Some(vec![("a", "foo\nbar"), ("b", "734")]),
        ),
        (
            "labelmap copies matching names",
            vec![("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            "- {regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}",
            Some(vec![
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ]),
        ),
        (
            "labelmap of meta labels",
            vec![
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
            ],
            "- {regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}",
            Some(vec![
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb"),
            ]),
        ),
        (
            "target label from a group",
            vec![("a", "some-name-value")],
            "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}'}",
            Some(vec![("a", "some-name-value"), ("name", "value")]),
        ),
        (
            "a missing group expands to empty, which deletes the (absent) target",
            vec![("a", "some-name-value")],
            "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}'}",
            Some(vec![("a", "some-name-value")]),
        ),
        (
            "an empty expanded target name does nothing",
            vec![("a", "some-name-0")],
            "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}\n\
             - {source_labels: [a], regex: 'some-([^-]+)(-[^,]+)', replacement: '${1}', target_label: '${3}'}",
            Some(vec![("a", "some-name-0")]),
        ),
        (
            "real-life tag parsing",
            vec![("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
            "- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', replacement: '${1}', target_label: __metrics_path__}\n\
             - {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', replacement: '${1}', target_label: job}\n\
             - {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', replacement: '${2}', target_label: '${1}'}",
            Some(vec![
                ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
                ("__metrics_path__", "/secret"),
                ("job", "some-job"),
                ("foo", "bar"),
            ]),
        ),
        (
            "labeldrop then replace then keep (prometheus#12283)",
            vec![
                ("__meta_kubernetes_pod_container_port_name", "foo"),
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ],
            "- {regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop}\n\
             - {source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: '(.+)', replacement: metrics, target_label: __meta_kubernetes_pod_container_port_name}\n\
             - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$', action: keep}",
            Some(vec![
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ]),
        ),
        (
            "labelkeep",
            vec![("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            "- {regex: '(b.*)', action: labelkeep}",
            Some(vec![("b1", "bar"), ("b2", "baz")]),
        ),
        (
            "labeldrop",
            vec![("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            "- {regex: '(b.*)', action: labeldrop}",
            Some(vec![("a", "foo")]),
        ),
        (
            "uppercase and lowercase",
            vec![("foo", "bAr123Foo")],
            "- {source_labels: [foo], action: uppercase, target_label: foo_uppercase}\n\
             - {source_labels: [foo], action: lowercase, target_label: foo_lowercase}",
            Some(vec![
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO"),
            ]),
        ),
        (
            "keepequal with equal values keeps",
            vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")],
            "- {source_labels: [__tmp_port], action: keepequal, target_label: __port1}",
            Some(vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")]),
        ),
        (
            "dropequal with equal values drops",
            vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")],
            "- {source_labels: [__tmp_port], action: dropequal, target_label: __port1}",
            None,
        ),
        (
            "dropequal with different values keeps",
            vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")],
            "- {source_labels: [__tmp_port], action: dropequal, target_label: __port2}",
            Some(vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")]),
        ),
        (
            "keepequal with different values drops",
            vec![("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")],
            "- {source_labels: [__tmp_port], action: keepequal, target_label: __port2}",
            None,
        ),
        (
            "fast path: empty input with default regex sets the replacement literally",
            vec![("a", "x")],
            "- {source_labels: [missing], target_label: b, replacement: static}",
            Some(vec![("a", "x"), ("b", "static")]),
        ),
        (
            "an empty replacement deletes the target label",
            vec![("a", "x"), ("b", "y")],
            "- {source_labels: [a], target_label: b, replacement: ''}",
            Some(vec![("a", "x")]),
        ),
        (
            "missing source labels join as empty strings",
            vec![("a", "x")],
            "- {source_labels: [a, missing, a], separator: '-', regex: '(.*)--(.*)', target_label: b, replacement: '$1+$2'}",
            Some(vec![("a", "x"), ("b", "x+x")]),
        ),
        (
            "Go expansion: $1x names group 1x, which does not exist",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: '(f)(o+)', target_label: b, replacement: '$1x${2}y'}",
            Some(vec![("a", "foo"), ("b", "ooy")]),
        ),
        (
            "named groups expand",
            vec![("a", "host:9100")],
            "- {source_labels: [a], regex: '(?P<h>[^:]+):(?P<p>\\d+)', target_label: port, replacement: '$p'}",
            Some(vec![("a", "host:9100"), ("port", "9100")]),
        ),
        (
            "$$ is a literal dollar",
            vec![("a", "foo")],
            "- {source_labels: [a], target_label: b, replacement: 'cost $$1'}",
            Some(vec![("a", "foo"), ("b", "cost $1")]),
        ),
        (
            "dot matches newline (Prometheus 3)",
            vec![("a", "foo\nbar")],
            "- {source_labels: [a], regex: 'foo.bar', action: keep}",
            Some(vec![("a", "foo\nbar")]),
        ),
        (
            "Go's \\d is ASCII only",
            vec![("a", "١٢")],
            "- {source_labels: [a], regex: '\\d+', action: drop}",
            Some(vec![("a", "١٢")]),
        ),
        (
            "action names are case-insensitive",
            vec![("a", "foo")],
            "- {source_labels: [a], regex: foo, action: DROP}",
            None,
        ),
        (
            "a UTF-8 target label is valid in Prometheus 3",
            vec![("a", "foo")],
            "- {source_labels: [a], target_label: 'ünïcode.name'}",
            Some(vec![("a", "foo"), ("ünïcode.name", "foo")]),
        ),
        (
            "replace on the empty label set adds a label",
            vec![],
            "- {target_label: job, replacement: x}",
            Some(vec![("job", "x")]),
        ),
    ];
    for (name, input, yaml, want) in cases {
        let got = process(&labels(&input), &rules(yaml));
        let want = want.map(|w| labels(&w));
        assert_eq!(got, want, "case {name:?}");
    }
}

#[test]
fn hashmod_uses_the_last_eight_md5_bytes() {
    // MD5("baz") = 73feffa4b7f6bb68e44cf984c85f6e88; the last 8 bytes as a
    // big-endian u64 modulo 1000 is 976 (and Prometheus' test agrees).
    let d = md5::compute(b"baz");
    assert_eq!(format!("{d:x}"), "73feffa4b7f6bb68e44cf984c85f6e88");
    assert_eq!(0xe44c_f984_c85f_6e88_u64 % 1000, 976);
    let out = process(
        &labels(&[("c", "baz")]),
        &rules("- {source_labels: [c], target_label: s, action: hashmod, modulus: 7}"),
    )
    .expect("kept");
    assert_eq!(out.get("s"), Some((0xe44c_f984_c85f_6e88_u64 % 7).to_string().as_str()));
}

#[test]
fn labelmap_does_not_remap_labels_it_added() {
    // `(.*)` -> `x_$1` would loop forever if added labels were revisited.
    let out = process(
        &labels(&[("a", "1")]),
        &rules("- {regex: '(.*)', replacement: 'x_$1', action: labelmap}"),
    )
    .expect("kept");
    assert_eq!(out, labels(&[("a", "1"), ("x_a", "1")]));
}

#[test]
fn validation_matches_prometheus() {
    let bad = [
        ("- {action: replace}", "requires 'target_label' value"),
        ("- {action: lowercase}", "requires 'target_label' value"),
        ("- {action: hashmod, target_label: x}", "requires non-zero modulus"),
        ("- {action: hashmod, modulus: 2}", "requires 'target_label' value"),
        (
            "- {action: uppercase, target_label: x, replacement: y}",
            "'replacement' can not be set for uppercase action",
        ),
        (
            "- {action: keepequal, target_label: x, regex: a}",
            "requires only 'source_labels' and `target_label`",
        ),
        (
            "- {action: dropequal, target_label: x, separator: ','}",
            "requires only 'source_labels' and `target_label`",
        ),
        (
            "- {action: labeldrop, regex: a, source_labels: [x]}",
            "labeldrop action requires only 'regex'",
        ),
        (
            "- {action: labelkeep, regex: a, target_label: x}",
            "labelkeep action requires only 'regex'",
        ),
        (
            "- {action: labelkeep, regex: a, replacement: x}",
            "labelkeep action requires only 'regex'",
        ),
        ("- {action: explode}", "unknown relabel action \"explode\""),
        ("- {regex: '(unclosed', target_label: x}", "error parsing regexp"),
        ("- {target_label: x, sourcelabels: [a]}", "unknown field `sourcelabels`"),
        ("- {action: replace, target_label: ''}", "requires 'target_label' value"),
    ];
    for (yaml, want) in bad {
        let err = rule_err(yaml);
        assert!(err.contains(want), "{yaml}: {err:?} does not contain {want:?}");
    }
    // What Prometheus accepts.
    for ok in [
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}",
        "- {action: labelmap, regex: '__meta_(.+)'}",
        "- {action: keepequal, source_labels: [a], target_label: b}",
        "- {source_labels: [a], regex: null, target_label: b}",
        "- {source_labels: [a], regex: 200, target_label: b, replacement: 1}",
    ] {
        rules(ok);
    }
}

#[test]
fn legacy_scheme_rejects_utf8_and_bad_templates() {
    let check = |yaml: &str| {
        let mut r = rules(yaml).remove(0);
        r.validate(NameValidationScheme::Legacy).map_err(|e| e.0)
    };
    for (yaml, want) in [
        ("- {target_label: 'a.b'}", r#""a.b" is invalid 'target_label' for replace action"#),
        ("- {action: lowercase, target_label: '${3}'}", r#""${3}" is invalid 'target_label'"#),
        ("- {target_label: '0${3}'}", r#""0${3}" is invalid 'target_label'"#),
        ("- {target_label: '-${3}'}", r#""-${3}" is invalid 'target_label' for replace action"#),
        (
            "- {action: labelmap, regex: 'x', replacement: 'a-$1'}",
            "is invalid 'replacement' for labelmap action",
        ),
        (
            "- {action: hashmod, modulus: 2, target_label: 'a.b'}",
            "is invalid 'target_label' for hashmod action",
        ),
    ] {
        let err = check(yaml).expect_err(yaml);
        assert!(err.contains(want), "{yaml}: {err:?}");
    }
    for ok in [
        "- {target_label: '${1}label'}",
        "- {target_label: 'asd$2asd'}",
        "- {target_label: 'foo${bar}foo'}",
    ] {
        check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // The target-with-variables shape, as Prometheus' TestTargetLabelValidity.
    for (s, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ] {
        assert_eq!(is_legacy_name_with_vars(s), valid, "{s:?}");
    }
    // Processing under the legacy scheme skips a target that expands to
    // an invalid name.
    let mut r =
        rules("- {source_labels: [a], regex: '(.*)', target_label: '${1}', replacement: v}");
    r[0].validate(NameValidationScheme::Legacy).expect("valid template");
    let out = process(&labels(&[("a", "not-legacy")]), &r).expect("kept");
    assert_eq!(out, labels(&[("a", "not-legacy")]));
}

#[test]
fn rules_round_trip_through_yaml() {
    let r = rules(
        "- {source_labels: [a, b], separator: ',', regex: 'x(.*)', target_label: t, replacement: '$1', action: replace}",
    );
    let text = serde_yaml::to_string(&r).expect("serializes");
    assert_eq!(rules(&text), r);
}

#[test]
fn unvalidated_rules_never_panic_or_write_nameless_labels() {
    let input = labels(&[("a", "x")]);
    for action in [Action::HashMod, Action::Lowercase, Action::Uppercase, Action::Replace] {
        let rule =
            RelabelConfig { source_labels: vec!["a".into()], action, ..RelabelConfig::default() };
        assert_eq!(process(&input, &[rule]), Some(input.clone()), "{action}");
    }
    let zero = RelabelConfig {
        source_labels: vec!["a".into()],
        action: Action::HashMod,
        target_label: "h".into(),
        modulus: 0,
        ..RelabelConfig::default()
    };
    assert_eq!(process(&input, &[zero]), Some(input.clone()));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "b", "__name__", "__meta_x", "job", "ü"])
            .prop_map(str::to_owned)
    }

    fn rule() -> impl Strategy<Value = RelabelConfig> {
        let actions = prop::sample::select(vec![
            Action::Replace,
            Action::Keep,
            Action::Drop,
            Action::KeepEqual,
            Action::DropEqual,
            Action::HashMod,
            Action::LabelMap,
            Action::LabelDrop,
            Action::LabelKeep,
            Action::Lowercase,
            Action::Uppercase,
        ]);
        let regexes = prop::sample::select(vec!["(.*)", "a|b", "(.)(.*)", "x.*", "", "(?P<n>.+)"]);
        let replacements = prop::sample::select(vec!["$1", "${2}x", "$n", "", "lit", "$$"]);
        (prop::collection::vec(name(), 0..3), actions, regexes, name(), replacements, 0u64..4)
            .prop_map(|(source_labels, action, regex, target_label, replacement, modulus)| {
                RelabelConfig {
                    source_labels,
                    action,
                    regex: Regex::new(regex).expect("valid test regex"),
                    target_label,
                    replacement: replacement.to_owned(),
                    modulus,
                    ..RelabelConfig::default()
                }
            })
    }

    proptest! {
        /// Any rules, validated or not, on any labels: no panic, and a
        /// kept result never holds an empty name or value.
        #[test]
        fn process_is_total(
            pairs in prop::collection::vec((name(), "[a-zé ]{0,4}"), 0..6),
            rules in prop::collection::vec(rule(), 0..5),
        ) {
            let input = Labels::new(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            if let Some(out) = process(&input, &rules) {
                for l in out.iter() {
                    prop_assert!(!l.name.is_empty() && !l.value.is_empty(), "{out:?}");
                }
            }
        }
    }
}
