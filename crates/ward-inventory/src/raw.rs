//! The TOML file as written: serde structs that keep the span of every value an
//! error may point at. Nothing here is validated or resolved; that is `resolve`'s
//! job. Optional fields are `Option` so that defaults live in one place (resolve).
//! Enumerations (kinds, lifecycle, fence) stay strings so a typo gets a hint
//! listing the valid values instead of serde's generic message.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

pub type Text = Spanned<String>;
pub type Names = Vec<Spanned<String>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub tick: Option<Text>,
    pub stale_after: Option<Text>,
    pub quorum: Option<Spanned<u32>>,
    pub observer_suspect_percent: Option<Spanned<u32>>,
    pub time_gap_max: Option<Text>,
    pub disk_warn_horizon: Option<Text>,
    pub job_timeout: Option<Text>,
    pub notify: Option<Names>,
    pub budget: Option<RawBudget>,
    pub damping: Option<RawDamping>,
    pub integrity: Option<RawIntegrity>,
    pub controller_site: Option<Text>,
    pub cross_site_promotion: Option<Text>,
    pub partition_grace: Option<Text>,
    pub evidence_max_age: Option<Text>,
    pub promotion_data_loss: Option<Text>,
    pub rollout: Option<RawRolloutPolicy>,
    pub fence_retry_after: Option<Text>,
    pub agent: Option<RawAgentPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgentPolicy {
    pub lease: Option<Text>,
    pub renew_every: Option<Text>,
    pub margin: Option<Text>,
    pub clock_skew_max: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRolloutPolicy {
    pub domains_max: Option<Spanned<u32>>,
    pub pool_percent_max: Option<Spanned<u32>>,
    pub batch_wait_max: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub window: Option<Text>,
    pub group_moves_max: Option<Spanned<u32>>,
    pub group_percent_max: Option<Spanned<u32>>,
    pub fleet_moves_max: Option<Spanned<u32>>,
    pub fleet_percent_max: Option<Spanned<u32>>,
    pub pool_percent_max: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDamping {
    pub penalty_per_flap: Option<Spanned<u32>>,
    pub half_life: Option<Text>,
    pub suppress_above: Option<Spanned<u32>>,
    pub reuse_below: Option<Spanned<u32>>,
    pub penalty_max: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntegrity {
    pub removed_active_max: Option<Spanned<u32>>,
    pub changed_percent_max: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub name: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObserver {
    pub name: Text,
    pub site: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: Text,
    pub site: Text,
    pub address: Text,
    pub labels: Option<BTreeMap<String, String>>,
    pub lifecycle: Option<Text>,
    pub priority: Option<i32>,
    pub depends_on: Option<Names>,
    pub replication: Option<Spanned<RawReplication>>,
    pub disk_check: Option<Text>,
    pub agent: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplication {
    pub source: Text,
    pub lag_max: Text,
    pub check: Text,
    /// The hook that may restart this node's replication when it stopped.
    pub repair: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: Text,
    pub kind: Text,
    pub target: Text,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    pub interval: Option<Text>,
    pub timeout: Option<Text>,
    pub rise: Option<Spanned<u32>>,
    pub fall: Option<Spanned<u32>>,
    pub timeout_fall: Option<Spanned<u32>>,
    pub nodes: Spanned<Selector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    pub name: Text,
    pub kind: Text,
    pub url: Option<Text>,
    pub command: Option<Spanned<Vec<String>>>,
    /// postgres, mysql: the connection string, rendered per node (`{address}`, `{node}`).
    pub dsn: Option<Text>,
    /// postgres: how to fence a node when the service's fence is `stop` or `hook`.
    pub fence_command: Option<Spanned<Vec<String>>>,
    /// haproxy: the runtime API (a unix socket path or `host:port`).
    pub socket: Option<Text>,
    /// haproxy: the backend whose servers are named after Ward's nodes.
    pub backend: Option<Text>,
    pub timeout: Option<Text>,
    pub retries: Option<u32>,
    pub parallel_max: Option<Spanned<u32>>,
    pub services: Option<Names>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Text,
    pub kind: Text,
    pub url: Option<Text>,
    pub command: Option<Spanned<Vec<String>>>,
    pub escalate_to: Option<Text>,
    pub escalate_after: Option<Text>,
    pub repeat_every: Option<Text>,
    pub escalations_max: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Text,
    pub kind: Text,
    pub group: Option<String>,
    pub candidates: Spanned<Selector>,
    pub initial: Option<Names>,
    pub checks: Option<Names>,
    pub verify: Option<Names>,
    pub actuator: Text,
    pub notify: Option<Names>,
    pub min_targets: Option<Spanned<u32>>,
    pub fence: Option<Text>,
    pub sync_delete_max: Option<Spanned<u32>>,
    pub follows: Option<Text>,
}

/// Which nodes something applies to: a list of node names, or a label selector
/// (`{ role = "web" }`: every node carrying all these labels).
#[derive(Debug)]
pub enum Selector {
    Names(Names),
    Labels(BTreeMap<String, String>),
}

// Hand-written rather than `#[serde(untagged)]`: untagged enums buffer their
// input, which would lose the span of each listed name.
impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SelectorVisitor;
        impl<'de> Visitor<'de> for SelectorVisitor {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of node names or a label selector like { role = \"web\" }")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Selector, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<Spanned<String>>()? {
                    names.push(name);
                }
                Ok(Selector::Names(names))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Selector, A::Error> {
                let mut labels = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    labels.insert(key, value);
                }
                Ok(Selector::Labels(labels))
            }
        }
        deserializer.deserialize_any(SelectorVisitor)
    }
}

/// The field names serde accepts for a struct, read from its derived impl, so the
/// "valid fields" hints can never drift from the structs above.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(FieldsProbe) {
        Err(FieldsFound(fields)) => fields,
        Ok(_) => &[],
    }
}

struct FieldsProbe;

#[derive(Debug)]
struct FieldsFound(&'static [&'static str]);

impl fmt::Display for FieldsFound {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("fields probe")
    }
}

impl std::error::Error for FieldsFound {}

impl de::Error for FieldsFound {
    fn custom<T: fmt::Display>(_: T) -> Self {
        FieldsFound(&[])
    }
}

impl<'de> Deserializer<'de> for FieldsProbe {
    type Error = FieldsFound;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FieldsFound> {
        Err(FieldsFound(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, FieldsFound> {
        Err(FieldsFound(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_derived_impl() {
        assert_eq!(fields_of::<RawSite>(), &["name"]);
        assert!(fields_of::<RawService>().contains(&"sync_delete_max"));
        assert!(fields_of::<RawPolicy>().contains(&"damping"));
    }
}
