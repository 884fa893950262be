//! Relabeling: the rules that rewrite, keep or drop label sets.
//!
//! The same rules run at three places (targets before scraping, samples
//! after, alerts before sending) so this module only knows label sets and
//! [`RelabelConfig`]s. Behaviour follows Prometheus' `model/relabel`
//! exactly, including its corner cases: an empty source value with the
//! default regex takes a fast path, a `replace` whose expanded target is not
//! a valid label name does nothing, and `hashmod` uses the last eight bytes
//! of an MD5 digest so shards agree with Prometheus servers.
//!
//! Regexes are [`GoRegex`]es: Go RE2 syntax, fully anchored, shared with the
//! PromQL matchers so both accept and match the same patterns.

use std::fmt;
use std::sync::OnceLock;

use promethium_discovery::config::deserialize_scalar_with;
use promethium_engine::model::{GoRegex, Labels, LabelsBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Writes `replacement` (with `$n` expanded) to `target_label` when the
    /// regex matches the joined source values.
    #[default]
    Replace,
    /// Drops the set unless the regex matches.
    Keep,
    /// Drops the set if the regex matches.
    Drop,
    /// Drops the set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the set if the joined source values equal `target_label`'s value.
    DropEqual,
    /// Writes MD5(joined values) mod `modulus` to `target_label`.
    HashMod,
    /// Copies every label whose name matches to the name given by `replacement`.
    LabelMap,
    /// Removes every label whose name matches.
    LabelDrop,
    /// Removes every label whose name does not match.
    LabelKeep,
    /// Writes the lower-cased joined values to `target_label`.
    Lowercase,
    /// Writes the upper-cased joined values to `target_label`.
    Uppercase,
}

impl Action {
    /// The action's name as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name case-insensitively, as Prometheus does.
    pub fn parse(s: &str) -> Option<Action> {
        const ALL: [Action; 11] = [
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
        ];
        let lower = s.to_lowercase();
        ALL.into_iter().find(|a| a.as_str() == lower)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_scalar_with(d, "a relabel action", |s| {
            Action::parse(s).ok_or_else(|| format!("unknown relabel action {s:?}"))
        })
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which label names are valid: Prometheus 3 accepts any non-empty UTF-8
/// name by default; the legacy scheme allows only `[a-zA-Z_][a-zA-Z0-9_]*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameValidationScheme {
    /// Any non-empty UTF-8 string (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*`.
    Legacy,
}

impl NameValidationScheme {
    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_label_name(name),
        }
    }

    /// Whether `name` is a valid metric name under this scheme.
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => {
                let mut chars = name.chars();
                chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            }
        }
    }
}

/// Whether `name` matches `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A relabel regex: a [`GoRegex`] that (de)serializes as its pattern.
#[derive(Clone, PartialEq)]
pub struct Regex(pub GoRegex);

/// The pattern every relabel rule uses unless it sets `regex`.
pub const DEFAULT_REGEX: &str = "(.*)";

impl Regex {
    /// Compiles a Go RE2 pattern, anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, promethium_engine::model::RegexError> {
        GoRegex::new(pattern).map(Regex)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    fn is_default(&self) -> bool {
        self.as_str() == DEFAULT_REGEX
    }
}

impl Default for Regex {
    fn default() -> Self {
        static DEFAULT: OnceLock<GoRegex> = OnceLock::new();
        Regex(
            DEFAULT
                .get_or_init(|| GoRegex::new(DEFAULT_REGEX).expect("the default regex compiles"))
                .clone(),
        )
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `regex: null` (or `regex:`) means the empty pattern, as in Prometheus.
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Regex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a regular expression")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Regex, E> {
                Regex::new("").map_err(E::custom)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Regex, E> {
                Regex::new("").map_err(E::custom)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Regex, D::Error> {
                deserialize_scalar_with(d, "a regular expression", |s| {
                    Regex::new(s).map_err(|e| e.to_string())
                })
            }
        }
        d.deserialize_option(V)
    }
}

impl Serialize for Regex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One relabel rule, as written under `relabel_configs`,
/// `metric_relabel_configs` or `alert_relabel_configs`.
///
/// Deserializing validates the rule as Prometheus does while parsing (with
/// the UTF-8 name scheme), so a bad rule is reported with its line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "raw::RelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// Joins the source values; `;` unless set.
    pub separator: String,
    /// Matched against the joined values (or label names for the label*
    /// actions); `(.*)` unless set.
    pub regex: Regex,
    /// Divisor for `hashmod`.
    #[serde(skip_serializing_if = "is_zero")]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`
    /// or compared by `keepequal`/`dropequal`; may contain `$n` for `replace`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    /// The value written by `replace` or the name by `labelmap`; `$1` unless set.
    pub replacement: String,
    /// What to do; `replace` unless set.
    pub action: Action,
    /// Which names the rule treats as valid; set from the job's
    /// `metric_name_validation_scheme` when the config is loaded.
    #[serde(skip_serializing)]
    pub name_validation: NameValidationScheme,
}

/// The rule as written, before validation. A module of its own so that
/// serde's messages say "struct RelabelConfig".
mod raw {
    use serde::Deserialize;

    use super::{Action, Regex};
    use crate::config::ScalarString;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct RelabelConfig {
        pub(super) source_labels: Vec<ScalarString>,
        #[serde(deserialize_with = "crate::config::scalar_string")]
        pub(super) separator: String,
        pub(super) regex: Regex,
        pub(super) modulus: u64,
        #[serde(deserialize_with = "crate::config::scalar_string")]
        pub(super) target_label: String,
        #[serde(deserialize_with = "crate::config::scalar_string")]
        pub(super) replacement: String,
        pub(super) action: Action,
    }

    impl Default for RelabelConfig {
        fn default() -> Self {
            let d = super::RelabelConfig::default();
            RelabelConfig {
                source_labels: Vec::new(),
                separator: d.separator,
                regex: d.regex,
                modulus: d.modulus,
                target_label: d.target_label,
                replacement: d.replacement,
                action: d.action,
            }
        }
    }
}

impl TryFrom<raw::RelabelConfig> for RelabelConfig {
    type Error = RelabelConfigError;

    fn try_from(raw: raw::RelabelConfig) -> Result<Self, Self::Error> {
        let mut c = RelabelConfig {
            source_labels: raw.source_labels.into_iter().map(|s| s.0).collect(),
            separator: raw.separator,
            regex: raw.regex,
            modulus: raw.modulus,
            target_label: raw.target_label,
            replacement: raw.replacement,
            action: raw.action,
            name_validation: NameValidationScheme::Utf8,
        };
        c.validate(NameValidationScheme::Utf8)?;
        Ok(c)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The separator every rule uses unless it sets one.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The replacement every rule uses unless it sets one.
pub const DEFAULT_REPLACEMENT: &str = "$1";

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
            name_validation: NameValidationScheme::Utf8,
        }
    }
}

/// A relabel rule that Prometheus would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RelabelConfigError(pub String);

/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`: a legacy label name that
/// may contain `$n`/`${name}` references.
fn is_legacy_name_with_vars(s: &str) -> bool {
    static RE: OnceLock<GoRegex> = OnceLock::new();
    RE.get_or_init(|| {
        GoRegex::new(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+")
            .expect("the relabel target regex compiles")
    })
    .is_match(s)
}

impl RelabelConfig {
    /// Checks the rule as Prometheus' `relabel.Config.Validate` does, with
    /// `scheme` deciding which label names are valid, and remembers the
    /// scheme for processing.
    pub fn validate(&mut self, scheme: NameValidationScheme) -> Result<(), RelabelConfigError> {
        self.name_validation = scheme;
        let err = |m: String| Err(RelabelConfigError(m));
        let a = self.action;
        let valid_name = |n: &str| scheme.is_valid_label_name(n);
        let valid_with_vars = |n: &str| match scheme {
            NameValidationScheme::Legacy => is_legacy_name_with_vars(n),
            NameValidationScheme::Utf8 => !n.is_empty(),
        };
        if self.modulus == 0 && a == Action::HashMod {
            return err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return err(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            ));
        }
        let has_var = self.target_label.contains('$');
        if a == Action::Replace && has_var && !valid_with_vars(&self.target_label) {
            return err(format!(
                "{:?} is invalid 'target_label' for {a} action",
                self.target_label
            ));
        }
        if a == Action::Replace && !has_var && !valid_name(&self.target_label) {
            return err(format!(
                "{:?} is invalid 'target_label' for {a} action",
                self.target_label
            ));
        }
        let strict_target = matches!(
            a,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if strict_target && !valid_name(&self.target_label) {
            return err(format!(
                "{:?} is invalid 'target_label' for {a} action",
                self.target_label
            ));
        }
        if strict_target && self.replacement != DEFAULT_REPLACEMENT {
            return err(format!("'replacement' can not be set for {a} action"));
        }
        if a == Action::LabelMap && !valid_with_vars(&self.replacement) {
            return err(format!("{:?} is invalid 'replacement' for {a} action", self.replacement));
        }
        if a == Action::HashMod && !valid_name(&self.target_label) {
            return err(format!(
                "{:?} is invalid 'target_label' for {a} action",
                self.target_label
            ));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (!self.regex.is_default()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!(
                "{a} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!("{a} action requires only 'regex', and no other fields"));
        }
        for name in &self.source_labels {
            if !valid_name(name) {
                return err(format!("{name:?} is not a valid label name"));
            }
        }
        Ok(())
    }
}

/// Applies `rules` in order to `labels`. Returns `None` when a rule drops
/// the set. An unchanged set is returned without rebuilding it.
pub fn process(labels: &Labels, rules: &[RelabelConfig]) -> Option<Labels> {
    if rules.is_empty() {
        return Some(labels.clone());
    }
    let mut builder = labels.to_builder();
    if process_builder(&mut builder, rules) { Some(builder.build()) } else { None }
}

/// Like [`process`], editing a builder the caller owns (for callers that
/// add labels before or after relabeling). Returns false when dropped.
pub fn process_builder(builder: &mut LabelsBuilder, rules: &[RelabelConfig]) -> bool {
    let mut value = String::new();
    rules.iter().all(|rule| apply(rule, builder, &mut value))
}

fn apply(rule: &RelabelConfig, lb: &mut LabelsBuilder, val: &mut String) -> bool {
    val.clear();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&rule.separator);
        }
        val.push_str(lb.get(name).unwrap_or(""));
    }
    let val = val.as_str();
    match rule.action {
        Action::Drop => return !rule.regex.0.is_match(val),
        Action::Keep => return rule.regex.0.is_match(val),
        Action::DropEqual => return lb.get(&rule.target_label).unwrap_or("") != val,
        Action::KeepEqual => return lb.get(&rule.target_label).unwrap_or("") == val,
        Action::Replace => replace(rule, lb, val),
        // Validation rejects an empty target label or a zero modulus; rules
        // built in code without validating are skipped rather than
        // writing a nameless label or dividing by zero.
        Action::Lowercase | Action::Uppercase | Action::HashMod if rule.target_label.is_empty() => {
        }
        Action::Lowercase => {
            lb.set(&rule.target_label, &val.to_lowercase());
        }
        Action::Uppercase => {
            lb.set(&rule.target_label, &val.to_uppercase());
        }
        Action::HashMod => {
            let digest = md5::compute(val.as_bytes());
            let tail: [u8; 8] = digest.0[8..].try_into().expect("an MD5 digest has 16 bytes");
            if let Some(m) = u64::from_be_bytes(tail).checked_rem(rule.modulus) {
                lb.set(&rule.target_label, &m.to_string());
            }
        }
        Action::LabelMap => {
            // Collect first, then set: labels added here must not be
            // remapped again. `is_match` takes the literal fast paths and
            // rejects most names before the costlier capture search.
            let re = rule.regex.0.regex();
            let mut adds: Vec<(String, String)> = Vec::new();
            for l in lb.iter() {
                if !rule.regex.0.is_match(l.name) {
                    continue;
                }
                if let Some(caps) = re.captures(l.name) {
                    let mut new_name = String::new();
                    caps.expand(&rule.replacement, &mut new_name);
                    // An empty expansion (`$1` without a group 1) names no
                    // label; Prometheus would write a nameless one.
                    if !new_name.is_empty() {
                        adds.push((new_name, l.value.to_owned()));
                    }
                }
            }
            for (name, value) in adds {
                lb.set(&name, &value);
            }
        }
        Action::LabelDrop => {
            lb.retain(|name, _| !rule.regex.0.is_match(name));
        }
        Action::LabelKeep => {
            lb.retain(|name, _| rule.regex.0.is_match(name));
        }
    }
    true
}

fn replace(rule: &RelabelConfig, lb: &mut LabelsBuilder, val: &str) {
    // Prometheus' fast path: with the default regex, an empty input and no
    // references, set the target to the replacement as is (which deletes it
    // when the replacement is empty).
    if val.is_empty()
        && rule.regex.is_default()
        && !rule.target_label.contains('$')
        && !rule.replacement.contains('$')
    {
        lb.set(&rule.target_label, &rule.replacement);
        return;
    }
    let Some(caps) = rule.regex.0.regex().captures(val) else {
        return;
    };
    let mut target = String::new();
    caps.expand(&rule.target_label, &mut target);
    if !rule.name_validation.is_valid_label_name(&target) {
        return;
    }
    let mut value = String::new();
    caps.expand(&rule.replacement, &mut value);
    // An empty value deletes the label (LabelsBuilder::set does that).
    lb.set(&target, &value);
}

#[cfg(test)]
mod tests;
