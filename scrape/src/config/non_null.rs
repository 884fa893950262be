//! Lists whose entries may not be null, with Prometheus' message for each.
//!
//! `relabel_configs: [null]` (often a stray `-` line) is an error in
//! Prometheus with a message naming the section; serde alone would report
//! an opaque type error, or for some structs accept an empty entry.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

fn list<'de, D, T>(d: D, message: &'static str) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let entries = Option::<Vec<Option<T>>>::deserialize(d)?.unwrap_or_default();
    entries.into_iter().map(|e| e.ok_or_else(|| D::Error::custom(message))).collect()
}

macro_rules! non_null_list {
    ($($name:ident: $ty:ty => $message:literal;)*) => {$(
        #[doc = concat!("`deserialize_with` for a list rejecting null entries: \"", $message, "\".")]
        pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$ty>, D::Error> {
            list(d, $message)
        }
    )*};
}

non_null_list! {
    scrape_configs: super::ScrapeConfig => "empty or null scrape config section";
    target_relabel_configs: crate::relabel::RelabelConfig => "empty or null target relabeling rule in scrape config";
    metric_relabel_configs: crate::relabel::RelabelConfig => "empty or null metric relabeling rule in scrape config";
    alert_relabel_configs: crate::relabel::RelabelConfig => "empty or null alert relabeling rule";
    alertmanager_relabel_configs: crate::relabel::RelabelConfig => "empty or null Alertmanager target relabeling rule";
    alertmanager_alert_relabel_configs: crate::relabel::RelabelConfig => "empty or null Alertmanager alert relabeling rule";
    static_configs: promethium_discovery::static_config::StaticConfig => "empty or null section in static_configs";
}
