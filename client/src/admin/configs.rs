//! Topic and broker configuration: describe (DescribeConfigs) and change
//! key by key (IncrementalAlterConfigs, KIP-339), as the Java admin client's
//! `describeConfigs` and `incrementalAlterConfigs`.
//!
//! A broker's own configuration lives on that broker, so requests about a
//! broker go to it; requests about a topic go to any broker.

use super::Admin;
use crate::error::{Error, Result};
use crate::net::pool::Lane;
use kafkacc_protocol::generated::describe_configs_request::DescribeConfigsResource;
use kafkacc_protocol::generated::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafkacc_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafkacc_protocol::{ErrorCode, Request, StrBytes};

/// What a configuration belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker, by node id.
    Broker(i32),
}

impl ConfigResource {
    /// The resource type on the wire (Java's `ConfigResource.Type`).
    fn wire_type(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) => 4,
        }
    }

    fn wire_name(&self) -> StrBytes {
        match self {
            ConfigResource::Topic(name) => StrBytes::from(name.as_str()),
            ConfigResource::Broker(id) => StrBytes::from(id.to_string()),
        }
    }
}

/// Where a configuration value comes from (Java's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on this topic.
    DynamicTopic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the default of every broker.
    DynamicDefaultBroker,
    /// From the broker's properties file.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// A broker logger level set dynamically.
    DynamicBrokerLogger,
    /// Client metrics configuration.
    ClientMetrics,
    /// Set on a consumer group.
    Group,
    /// A source this client does not know (the wire value).
    Unknown(i8),
}

impl From<i8> for ConfigSource {
    fn from(wire: i8) -> Self {
        match wire {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            other => ConfigSource::Unknown(other),
        }
    }
}

/// One configuration key as the broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key, e.g. `retention.ms`.
    pub name: String,
    /// The value; None for a sensitive one (passwords) or one without a value.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Cannot be changed at run time.
    pub read_only: bool,
    /// The broker hides its value.
    pub sensitive: bool,
}

impl ConfigEntry {
    /// Whether the value is Kafka's default (nothing set it).
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }
}

/// One change to one key (IncrementalAlterConfigs operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Sets the key to a value.
    Set(String),
    /// Removes the key's setting: it falls back to the next source
    /// (broker, then Kafka's default).
    Delete,
    /// Adds a value to a list-valued key.
    Append(String),
    /// Removes a value from a list-valued key.
    Subtract(String),
}

impl ConfigChange {
    /// The operation and value on the wire.
    fn wire(&self) -> (i8, Option<StrBytes>) {
        match self {
            ConfigChange::Set(v) => (0, Some(StrBytes::from(v.as_str()))),
            ConfigChange::Delete => (1, None),
            ConfigChange::Append(v) => (2, Some(StrBytes::from(v.as_str()))),
            ConfigChange::Subtract(v) => (3, Some(StrBytes::from(v.as_str()))),
        }
    }
}

impl Admin {
    /// Every configuration key of `resource`, with its value and source.
    pub async fn describe_configs(&self, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
        let request = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: resource.wire_type(),
                resource_name: resource.wire_name(),
                configuration_keys: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = self.send_about(resource, &request).await?;
        let Some(result) = response.results.into_iter().next() else {
            return Err(Error::broker(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("DescribeConfigs {resource:?}: empty answer"),
                None,
            ));
        };
        Error::check_code(
            result.error_code,
            || format!("DescribeConfigs {resource:?}"),
            result.error_message.as_deref(),
        )?;
        Ok(result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: ConfigSource::from(c.config_source),
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            })
            .collect())
    }

    /// Changes configuration keys of `resource`, key by key; keys not named
    /// keep their values. The broker applies all of them or none.
    pub async fn alter_configs(
        &self,
        resource: &ConfigResource,
        changes: &[(&str, ConfigChange)],
    ) -> Result<()> {
        let request = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: resource.wire_type(),
                resource_name: resource.wire_name(),
                configs: changes
                    .iter()
                    .map(|(name, change)| {
                        let (config_operation, value) = change.wire();
                        AlterableConfig {
                            name: StrBytes::from(*name),
                            config_operation,
                            value,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let response = self.send_about(resource, &request).await?;
        for r in &response.responses {
            Error::check_code(
                r.error_code,
                || format!("IncrementalAlterConfigs {resource:?}"),
                r.error_message.as_deref(),
            )?;
        }
        Ok(())
    }

    /// Sends a request about `resource`: to the broker itself for a
    /// broker's configuration, else to any broker.
    async fn send_about<R: Request>(
        &self,
        resource: &ConfigResource,
        request: &R,
    ) -> Result<R::Response> {
        match resource {
            ConfigResource::Broker(id) => {
                let conn = self.client.broker_connection(*id, Lane::Default).await?;
                conn.send(request).await
            }
            ConfigResource::Topic(_) => self.client.send_any(request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_are_javas() {
        assert_eq!(ConfigResource::Topic("t".into()).wire_type(), 2);
        assert_eq!(ConfigResource::Broker(1).wire_type(), 4);
        assert_eq!(ConfigResource::Broker(7).wire_name(), StrBytes::from("7"));
        let ops: Vec<i8> = [
            ConfigChange::Set("a".into()),
            ConfigChange::Delete,
            ConfigChange::Append("b".into()),
            ConfigChange::Subtract("c".into()),
        ]
        .iter()
        .map(|c| c.wire().0)
        .collect();
        assert_eq!(ops, [0, 1, 2, 3]);
        assert_eq!(ConfigChange::Delete.wire().1, None);
        assert_eq!(ConfigSource::from(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigSource::from(5), ConfigSource::Default);
        assert_eq!(ConfigSource::from(42), ConfigSource::Unknown(42));
    }
}
