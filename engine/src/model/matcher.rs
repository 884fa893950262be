//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus semantics.
//!
//! A matcher applies to a label's value, and an absent label has the value
//! `""`. So `{foo!=""}` selects series that have `foo`, and `{foo=~".*"}`
//! matches every series, including those without `foo`.

use std::fmt;

use super::regex::{GoRegex, RegexError};

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// A compiled label matcher.
#[derive(Clone, PartialEq)]
pub struct Matcher {
    /// The operator.
    pub kind: MatchType,
    /// The label name it applies to.
    pub name: String,
    /// The value or pattern as written.
    pub value: String,
    regex: Option<GoRegex>,
}

impl Matcher {
    /// Builds a matcher, compiling the pattern for the regex kinds.
    pub fn new(
        kind: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, RegexError> {
        let value = value.into();
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(GoRegex::new(&value)?),
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher { kind, name: name.into(), value, regex })
    }

    /// An `=` matcher; never fails.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher { kind: MatchType::Equal, name: name.into(), value: value.into(), regex: None }
    }

    /// Whether a label value (`""` for an absent label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.kind, &self.regex) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regex, Some(re)) => re.is_match(value),
            (MatchType::NotRegex, Some(re)) => !re.is_match(value),
            (MatchType::Regex | MatchType::NotRegex, None) => {
                unreachable!("regex matchers are always built with a compiled regex")
            }
        }
    }

    /// Whether the matcher accepts a series that lacks the label entirely.
    /// Index lookups use this to decide between "intersect with postings of
    /// matching values" and "subtract postings of non-matching values".
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether a label set satisfies the matcher.
    pub fn matches_labels(&self, labels: &super::Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// The compiled regex, for regex kinds.
    pub fn regex(&self) -> Option<&GoRegex> {
        self.regex.as_ref()
    }
}

/// Formats as PromQL writes it: `name="value"`.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind.as_str(), self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether every matcher accepts `labels`.
pub fn matches_all(matchers: &[Matcher], labels: &super::Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::super::Labels;
    use super::*;

    #[test]
    fn empty_value_edge_cases_follow_prometheus() {
        let with = Labels::new([("foo", "bar")]);
        let without = Labels::new([("other", "x")]);
        let ne_empty = Matcher::new(MatchType::NotEqual, "foo", "").unwrap();
        assert!(ne_empty.matches_labels(&with));
        assert!(!ne_empty.matches_labels(&without));
        let any = Matcher::new(MatchType::Regex, "foo", ".*").unwrap();
        assert!(any.matches_labels(&with) && any.matches_labels(&without));
        let eq_empty = Matcher::new(MatchType::Equal, "foo", "").unwrap();
        assert!(!eq_empty.matches_labels(&with) && eq_empty.matches_labels(&without));
        let nre = Matcher::new(MatchType::NotRegex, "foo", "b.*").unwrap();
        assert!(!nre.matches_labels(&with) && nre.matches_labels(&without));
    }
}
