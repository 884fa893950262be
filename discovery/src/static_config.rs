//! `static_configs`: targets written directly in the configuration.
//!
//! Each entry becomes one target group whose source is the entry's index,
//! sent once; the discoverer then idles until it is aborted, so a static
//! job behaves like any other provider in the manager.

use serde::{Deserialize, Serialize};

use crate::{
    ADDRESS_LABEL, Discoverer, DiscoveryError, DiscoveryFuture, LabelSet, SdConfig, TargetGroup,
};

/// One `static_configs` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses; each becomes a target's `__address__`.
    #[serde(default, deserialize_with = "scalar_strings")]
    pub targets: Vec<String>,
    /// Labels attached to every target of the entry.
    #[serde(
        default,
        skip_serializing_if = "LabelSet::is_empty",
        deserialize_with = "crate::config::scalar_label_set"
    )]
    pub labels: LabelSet,
}

fn scalar_strings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<crate::config::ScalarString>::deserialize(d)?;
    Ok(v.into_iter().map(|s| s.0).collect())
}

impl StaticConfig {
    /// The target group for the entry at `index` of its list.
    pub fn target_group(&self, index: usize) -> TargetGroup {
        TargetGroup {
            source: index.to_string(),
            targets: self
                .targets
                .iter()
                .map(|t| LabelSet::from([(ADDRESS_LABEL.to_owned(), t.clone())]))
                .collect(),
            labels: self.labels.clone(),
        }
    }
}

/// All `static_configs` entries of one job, as one provider: Prometheus
/// runs a single static provider per job whose groups are indexed by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticConfigs(pub Vec<StaticConfig>);

impl SdConfig for StaticConfigs {
    fn key(&self) -> &'static str {
        "static_configs"
    }

    fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        let groups = self.0.iter().enumerate().map(|(i, c)| c.target_group(i)).collect();
        Ok(Box::new(StaticDiscoverer { groups }))
    }
}

struct StaticDiscoverer {
    groups: Vec<TargetGroup>,
}

impl Discoverer for StaticDiscoverer {
    fn run(
        self: Box<Self>,
        updates: tokio::sync::mpsc::Sender<Vec<TargetGroup>>,
    ) -> DiscoveryFuture {
        Box::pin(async move {
            // A closed channel means the manager stopped this provider.
            if updates.send(self.groups).await.is_err() {
                return;
            }
            std::future::pending::<()>().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_one_group_per_entry_with_index_sources() {
        let cfg: Vec<StaticConfig> = serde_yaml::from_str(
            "- targets: ['a:9100', 'b:9100']\n  labels: {env: prod}\n- targets: ['c:80']\n",
        )
        .expect("valid");
        let d = StaticConfigs(cfg).discoverer().expect("builds");
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(d.run(tx));
        let groups = rx.recv().await.expect("initial groups");
        task.abort();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, "0");
        assert_eq!(groups[0].targets[1][ADDRESS_LABEL], "b:9100");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[1].source, "1");
        assert!(groups[1].labels.is_empty());
    }

    #[test]
    fn rejects_unknown_keys() {
        let err =
            serde_yaml::from_str::<StaticConfig>("targets: [a]\nlabel: {x: y}").expect_err("typo");
        assert!(err.to_string().contains("unknown field `label`"), "{err}");
    }
}
