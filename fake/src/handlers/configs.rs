//! DescribeConfigs (32) and IncrementalAlterConfigs (44, KIP-339): topic
//! configs (Kafka 4.x keys and defaults, plus what CreateTopics or an alter
//! set on the topic) and a broker's own, read-only, configs. Any broker
//! answers about a topic; a broker answers only about itself.

use super::{Ctx, sb};
use crate::state::{State, valid_topic_name};
use kafkacc_protocol::generated::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafkacc_protocol::generated::incremental_alter_configs_request::AlterableConfig;
use kafkacc_protocol::generated::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafkacc_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind};
use std::collections::{BTreeMap, BTreeSet};

/// `ConfigResource.Type` on the wire.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// `DescribeConfigsResponse` config sources.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// A config's type (`ConfigDef.Type`; its wire value in `config_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    String,
    Int,
    Long,
    Double,
    List,
}

impl Kind {
    fn wire(self) -> i8 {
        match self {
            Kind::Boolean => 1,
            Kind::String => 2,
            Kind::Int => 3,
            Kind::Long => 5,
            Kind::Double => 6,
            Kind::List => 7,
        }
    }

    /// Whether `value` parses as this type.
    fn accepts(self, value: &str) -> bool {
        match self {
            Kind::Boolean => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            Kind::Int => value.trim().parse::<i32>().is_ok(),
            Kind::Long => value.trim().parse::<i64>().is_ok(),
            Kind::Double => value.trim().parse::<f64>().is_ok(),
            Kind::String | Kind::List => true,
        }
    }
}

const LONG_MAX: &str = "9223372036854775807";

/// Kafka 4.x's topic configs and their defaults (`max.message.bytes`
/// follows the broker's `message.max.bytes`, see [`topic_default`]).
const TOPIC_CONFIGS: &[(&str, Kind, &str)] = &[
    ("cleanup.policy", Kind::List, "delete"),
    ("compression.gzip.level", Kind::Int, "-1"),
    ("compression.lz4.level", Kind::Int, "9"),
    ("compression.type", Kind::String, "producer"),
    ("compression.zstd.level", Kind::Int, "3"),
    ("delete.retention.ms", Kind::Long, "86400000"),
    ("file.delete.delay.ms", Kind::Long, "60000"),
    ("flush.messages", Kind::Long, LONG_MAX),
    ("flush.ms", Kind::Long, LONG_MAX),
    ("follower.replication.throttled.replicas", Kind::List, ""),
    ("index.interval.bytes", Kind::Int, "4096"),
    ("leader.replication.throttled.replicas", Kind::List, ""),
    ("local.retention.bytes", Kind::Long, "-2"),
    ("local.retention.ms", Kind::Long, "-2"),
    ("max.compaction.lag.ms", Kind::Long, LONG_MAX),
    ("max.message.bytes", Kind::Int, "1048588"),
    ("message.timestamp.after.max.ms", Kind::Long, "3600000"),
    ("message.timestamp.before.max.ms", Kind::Long, LONG_MAX),
    ("message.timestamp.type", Kind::String, "CreateTime"),
    ("min.cleanable.dirty.ratio", Kind::Double, "0.5"),
    ("min.compaction.lag.ms", Kind::Long, "0"),
    ("min.insync.replicas", Kind::Int, "1"),
    ("preallocate", Kind::Boolean, "false"),
    ("remote.log.copy.disable", Kind::Boolean, "false"),
    ("remote.log.delete.on.disable", Kind::Boolean, "false"),
    ("remote.storage.enable", Kind::Boolean, "false"),
    ("retention.bytes", Kind::Long, "-1"),
    ("retention.ms", Kind::Long, "604800000"),
    ("segment.bytes", Kind::Int, "1073741824"),
    ("segment.index.bytes", Kind::Int, "10485760"),
    ("segment.jitter.ms", Kind::Long, "0"),
    ("segment.ms", Kind::Long, "604800000"),
    ("unclean.leader.election.enable", Kind::Boolean, "false"),
];

/// The type of topic config `name`, if Kafka knows it.
fn topic_kind(name: &str) -> Option<Kind> {
    TOPIC_CONFIGS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, _)| *kind)
}

/// The value topic config `name` has when nothing set it.
fn topic_default(state: &State, name: &str, default: &str) -> String {
    if name == "max.message.bytes" {
        state.config.max_message_bytes.to_string()
    } else {
        default.to_owned()
    }
}

/// Why a topic config may not be set to `value` (INVALID_CONFIG).
pub(crate) fn check_topic_config(name: &str, value: &str) -> Result<(), String> {
    let Some(kind) = topic_kind(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let allowed: &[&str] = match name {
        "cleanup.policy" => &["delete", "compact"],
        "compression.type" => &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
        "message.timestamp.type" => &["CreateTime", "LogAppendTime"],
        _ => &[],
    };
    let valid = kind.accepts(value)
        && (allowed.is_empty()
            || if kind == Kind::List {
                value
                    .split(',')
                    .map(str::trim)
                    .all(|v| allowed.contains(&v))
            } else {
                allowed.contains(&value)
            });
    if valid {
        Ok(())
    } else {
        Err(format!("Invalid value {value} for configuration {name}"))
    }
}

/// A broker's configs: (name, value, read-only).
fn broker_configs(state: &State, node_id: i32) -> Vec<(&'static str, String, bool)> {
    let port = state.broker(node_id).map_or(0, |b| b.port);
    let c = &state.config;
    vec![
        (
            "advertised.listeners",
            format!("PLAINTEXT://127.0.0.1:{port}"),
            true,
        ),
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            true,
        ),
        ("broker.id", node_id.to_string(), true),
        ("default.replication.factor", "1".to_owned(), true),
        (
            "group.initial.rebalance.delay.ms",
            c.initial_rebalance_delay_ms.to_string(),
            true,
        ),
        (
            "group.max.session.timeout.ms",
            c.max_session_timeout_ms.to_string(),
            true,
        ),
        (
            "group.min.session.timeout.ms",
            c.min_session_timeout_ms.to_string(),
            true,
        ),
        ("message.max.bytes", c.max_message_bytes.to_string(), false),
        ("node.id", node_id.to_string(), true),
        ("num.partitions", c.default_partitions.to_string(), false),
        ("offsets.topic.replication.factor", "1".to_owned(), true),
        ("process.roles", "broker,controller".to_owned(), true),
        (
            "socket.request.max.bytes",
            c.max_frame_bytes.to_string(),
            true,
        ),
    ]
}

/// DescribeConfigs.
pub(crate) fn describe(state: &State, ctx: &Ctx, req: DescribeConfigsRequest) -> ResponseKind {
    let results = req
        .resources
        .iter()
        .map(|r| {
            let name = r.resource_name.as_str();
            let wanted = |key: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            let configs = match r.resource_type {
                TOPIC => describe_topic(state, name, req.include_synonyms, &wanted),
                BROKER => describe_broker(state, ctx, name, &wanted),
                other => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("Unsupported resource type {other} in the fake cluster"),
                )),
            };
            let (error_code, error_message, configs) = match configs {
                Ok(configs) => (0, None, configs),
                Err((code, message)) => (code.0, Some(sb(&message)), Vec::new()),
            };
            DescribeConfigsResult {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                configs,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::DescribeConfigs(DescribeConfigsResponse {
        results,
        ..Default::default()
    })
}

type Described = Result<Vec<DescribeConfigsResourceResult>, (ErrorCode, String)>;

fn describe_topic(
    state: &State,
    topic: &str,
    synonyms: bool,
    wanted: &dyn Fn(&str) -> bool,
) -> Described {
    if !valid_topic_name(topic) {
        return Err((
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            format!("Topic name \"{topic}\" is illegal"),
        ));
    }
    let Some(t) = state.topics.get(topic) else {
        return Err((
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("The topic '{topic}' does not exist."),
        ));
    };
    Ok(TOPIC_CONFIGS
        .iter()
        .filter(|(name, _, _)| wanted(name))
        .map(|(name, kind, default)| {
            let default = topic_default(state, name, default);
            let set = t.configs.get(*name);
            let mut synonym_list = Vec::new();
            if synonyms {
                if let Some(v) = set {
                    synonym_list.push(DescribeConfigsSynonym {
                        name: sb(name),
                        value: Some(sb(v)),
                        source: DYNAMIC_TOPIC_CONFIG,
                        ..Default::default()
                    });
                }
                synonym_list.push(DescribeConfigsSynonym {
                    name: sb(name),
                    value: Some(sb(&default)),
                    source: DEFAULT_CONFIG,
                    ..Default::default()
                });
            }
            DescribeConfigsResourceResult {
                name: sb(name),
                value: Some(sb(set.map_or(default.as_str(), String::as_str))),
                read_only: false,
                config_source: if set.is_some() {
                    DYNAMIC_TOPIC_CONFIG
                } else {
                    DEFAULT_CONFIG
                },
                is_sensitive: false,
                synonyms: synonym_list,
                config_type: kind.wire(),
                documentation: None,
                ..Default::default()
            }
        })
        .collect())
}

fn describe_broker(
    state: &State,
    ctx: &Ctx,
    name: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> Described {
    // An empty name is the cluster-wide default; the fake has no dynamic
    // broker configs, so it reads the same.
    if !name.is_empty() && name != ctx.broker.to_string() {
        return Err((
            ErrorCode::INVALID_REQUEST,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                ctx.broker
            ),
        ));
    }
    Ok(broker_configs(state, ctx.broker)
        .into_iter()
        .filter(|(key, _, _)| wanted(key))
        .map(|(key, value, read_only)| DescribeConfigsResourceResult {
            name: sb(key),
            value: Some(sb(&value)),
            read_only,
            config_source: STATIC_BROKER_CONFIG,
            is_sensitive: false,
            config_type: if value.parse::<i64>().is_ok() {
                Kind::Long.wire()
            } else {
                Kind::String.wire()
            },
            ..Default::default()
        })
        .collect())
}

/// IncrementalAlterConfigs: topic configs, all of a resource's changes or
/// none; broker configs are static here.
pub(crate) fn incremental_alter(
    state: &mut State,
    _ctx: &Ctx,
    req: IncrementalAlterConfigsRequest,
) -> ResponseKind {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let name = r.resource_name.as_str();
            let outcome = match r.resource_type {
                TOPIC => alter_topic(state, name, &r.configs, req.validate_only),
                BROKER => Err((
                    ErrorCode::INVALID_CONFIG,
                    "Cannot update these configs dynamically: the fake cluster's broker configs are static"
                        .to_owned(),
                )),
                other => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("Unsupported resource type {other} in the fake cluster"),
                )),
            };
            let (error_code, error_message) = match outcome {
                Ok(()) => (0, None),
                Err((code, message)) => (code.0, Some(sb(&message))),
            };
            AlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    })
}

/// `AlterConfigOp.OpType` on the wire.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn alter_topic(
    state: &mut State,
    topic: &str,
    changes: &[AlterableConfig],
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let invalid = |message: String| (ErrorCode::INVALID_CONFIG, message);
    let mut seen = BTreeSet::new();
    if !changes.iter().all(|c| seen.insert(c.name.as_str())) {
        return Err((
            ErrorCode::INVALID_REQUEST,
            "Error due to duplicate config keys".to_owned(),
        ));
    }
    let Some(t) = state.topics.get(topic) else {
        return Err((
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("The topic '{topic}' does not exist."),
        ));
    };
    let mut configs: BTreeMap<String, String> = t.configs.clone();
    for change in changes {
        let key = change.name.as_str();
        let Some(kind) = topic_kind(key) else {
            return Err(invalid(format!("Unknown topic config name: {key}")));
        };
        let value = change.value.as_ref().map(|v| v.as_str());
        match change.config_operation {
            SET => {
                let value = value.ok_or_else(|| {
                    (
                        ErrorCode::INVALID_REQUEST,
                        format!("Null value not supported for : {key}"),
                    )
                })?;
                check_topic_config(key, value).map_err(invalid)?;
                configs.insert(key.to_owned(), value.to_owned());
            }
            DELETE => {
                configs.remove(key);
            }
            APPEND | SUBTRACT => {
                if kind != Kind::List {
                    return Err(invalid(format!(
                        "Config value append is not allowed for config key: {key}"
                    )));
                }
                let default = TOPIC_CONFIGS
                    .iter()
                    .find(|(n, _, _)| *n == key)
                    .map_or("", |(_, _, d)| d);
                let current = configs.get(key).map_or(default, String::as_str);
                let mut items: Vec<String> = current
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                let given: Vec<&str> = value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if change.config_operation == APPEND {
                    for v in given {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_owned());
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(&i.as_str()));
                }
                let joined = items.join(",");
                check_topic_config(key, &joined).map_err(invalid)?;
                configs.insert(key.to_owned(), joined);
            }
            other => {
                return Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("Unknown config operation {other} for {key}"),
                ));
            }
        }
    }
    if !validate_only {
        if let Some(t) = state.topics.get_mut(topic) {
            t.configs = configs;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_configs_are_checked_by_name_type_and_allowed_values() {
        assert!(check_topic_config("retention.ms", "3600000").is_ok());
        assert!(check_topic_config("retention.ms", "an hour").is_err());
        assert!(check_topic_config("no.such.key", "1").is_err());
        assert!(check_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(check_topic_config("cleanup.policy", "shred").is_err());
        assert!(check_topic_config("preallocate", "TRUE").is_ok());
        assert!(check_topic_config("message.timestamp.type", "LogAppendTime").is_ok());
    }
}
