//! Evaluation never panics: random expressions built from the PromQL
//! grammar (selectors with offsets and `@`, range functions, subqueries,
//! aggregations, binary operators with matching) are run as instant and
//! range queries over a small data set. Errors are fine; panics are not.

use promethium_engine::model::{Labels, stale_nan};
use promethium_engine::{Appendable, MemStorage};
use promethium_promql::{Engine, EngineOptions};
use proptest::prelude::*;

fn storage() -> MemStorage {
    let db = MemStorage::new();
    let series = [
        ("http_requests_total", "api", "0"),
        ("http_requests_total", "api", "1"),
        ("http_requests_total", "web", "0"),
        ("latency_bucket", "api", "0.1"),
        ("latency_bucket", "api", "+Inf"),
        ("gauge", "web", "x"),
    ];
    for (i, (name, job, extra)) in series.iter().enumerate() {
        let key = if name.ends_with("_bucket") { "le" } else { "instance" };
        let labels = Labels::new([("__name__", *name), ("job", job), (key, extra)]);
        let mut app = db.appender();
        for k in 0..60i64 {
            let v =
                if k == 30 && i == 1 { stale_nan() } else { ((k * (i as i64 + 1)) % 17) as f64 };
            app.append(None, &labels, k * 30_000, v).unwrap();
        }
        app.commit().unwrap();
    }
    db
}

fn selector() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("http_requests_total"),
        Just("latency_bucket"),
        Just("gauge"),
        Just("nope"),
        Just("{job=~\"a.*|web\"}"),
    ];
    let modifier = prop_oneof![
        Just(String::new()),
        Just(" offset 5m".to_owned()),
        Just(" offset -1m".to_owned()),
        Just(" @ 600".to_owned()),
        Just(" @ start()".to_owned()),
        Just(" @ end() offset 30s".to_owned()),
        Just(" @ 9999999999".to_owned()),
        Just(" offset 100000w".to_owned()),
    ];
    (name, modifier).prop_map(|(n, m)| format!("{n}{m}"))
}

fn range_selector() -> impl Strategy<Value = String> {
    let name = prop_oneof![Just("http_requests_total"), Just("gauge"), Just("nope")];
    let range = prop_oneof![Just("1m"), Just("5m"), Just("30s"), Just("1ms"), Just("1000w")];
    let modifier = prop_oneof![
        Just(""),
        Just(" offset 2m"),
        Just(" @ 900"),
        Just(" anchored"),
        Just(" smoothed"),
    ];
    (name, range, modifier).prop_map(|(n, r, m)| format!("{n}[{r}]{m}"))
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        selector(),
        Just("1".to_owned()),
        Just("time()".to_owned()),
        Just("vector(NaN)".to_owned()),
        range_selector().prop_map(|r| format!("rate({r})")),
        range_selector().prop_map(|r| format!("changes({r})")),
        range_selector().prop_map(|r| format!("quantile_over_time(0.3, {r})")),
        range_selector().prop_map(|r| format!("predict_linear({r}, 60)")),
        range_selector().prop_map(|r| format!("absent_over_time({r})")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let func = prop_oneof![
            Just("abs"),
            Just("sort_desc"),
            Just("timestamp"),
            Just("absent"),
            Just("year"),
            Just("scalar"),
        ];
        let agg = prop_oneof![
            Just("sum"),
            Just("avg by (job)"),
            Just("max without (instance)"),
            Just("count_values(\"v\","),
            Just("topk(2,"),
            Just("quantile(0.9,"),
            Just("stddev by (le)"),
        ];
        let op = prop_oneof![
            Just("+"),
            Just("/ on(job) group_left"),
            Just("> bool"),
            Just("and"),
            Just("or ignoring(instance)"),
            Just("unless"),
            Just("%"),
            Just("^"),
        ];
        prop_oneof![
            (func, inner.clone()).prop_map(|(f, e)| format!("{f}({e})")),
            (agg, inner.clone()).prop_map(|(a, e)| if a.ends_with(',') {
                format!("{a} {e})")
            } else {
                format!("{a}({e})")
            }),
            (inner.clone(), op, inner.clone()).prop_map(|(l, o, r)| format!("({l}) {o} ({r})")),
            (
                inner.clone(),
                prop_oneof![Just("[5m:1m]"), Just("[10m:]"), Just("[1h:7s] offset 1m")]
            )
                .prop_map(|(e, s)| format!("max_over_time(({e}){s})")),
            inner.clone().prop_map(|e| format!("histogram_quantile(0.5, {e})")),
            inner.prop_map(|e| format!("label_replace({e}, \"x\", \"$1\", \"job\", \"(.*)\")")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_never_panics(query in expr(), t in 0i64..2_400_000) {
        let db = storage();
        let engine = Engine::new(EngineOptions { max_samples: 100_000, ..EngineOptions::default() });
        let _ = engine.instant_query(&db, &query, t);
        let _ = engine.range_query(&db, &query, t, t + 600_000, 60_000);
    }
}
