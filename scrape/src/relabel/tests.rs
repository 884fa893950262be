use super::*;

#[test]
fn default_rule_is_replace_with_prometheus_defaults() {
    let r = RelabelConfig::default();
    assert_eq!(r.action, Action::Replace);
    assert_eq!(r.separator, ";");
    assert_eq!(r.regex.as_str(), "(.*)");
    assert_eq!(r.replacement, "$1");
}
