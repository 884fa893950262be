//! The data model shared by every crate: labels, samples, matchers.

mod labels;
mod matcher;
pub mod regex;
mod sample;

pub use labels::{
    DuplicateLabel, Label, Labels, LabelsBuilder, LabelsIter, METRIC_NAME, RESERVED_PREFIX, xxh3_64,
};
pub use matcher::{MatchType, Matcher, matches_all};
pub use regex::{GoRegex, RegexError};
pub use sample::{
    Exemplar, Metadata, MetricType, STALE_NAN_BITS, Sample, SeriesRef, is_stale_nan, stale_nan,
};
