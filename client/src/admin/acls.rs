//! Access control lists (KIP-140): create, describe and delete ACLs, as the
//! Java admin client's `createAcls`, `describeAcls` and `deleteAcls`. The
//! broker must run an authorizer (e.g. KRaft's `StandardAuthorizer`);
//! without one these calls fail with SECURITY_DISABLED.

use super::Admin;
use crate::error::{Error, Result};
use kafkacc_protocol::StrBytes;
use kafkacc_protocol::generated::create_acls_request::AclCreation;
use kafkacc_protocol::generated::delete_acls_request::DeleteAclsFilter;
use kafkacc_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

/// An enum that travels as one byte; a byte this client does not know
/// becomes `Unknown(byte)`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know (the wire byte).
            Unknown(i8),
        }

        impl $name {
            fn wire(self) -> i8 {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(byte) => byte,
                }
            }

            fn from_wire(byte: i8) -> Self {
                match byte {
                    $($wire => $name::$variant,)+
                    other => $name::Unknown(other),
                }
            }
        }
    };
}

wire_enum! {
    /// What kind of resource an ACL protects (Java's `ResourceType`).
    AclResourceType {
        /// Any kind (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster.
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user (quotas and tokens).
        User = 7,
    }
}

wire_enum! {
    /// How an ACL's resource name matches (Java's `PatternType`).
    AclPatternType {
        /// Any pattern (filters only).
        Any = 1,
        /// Whatever would apply to the named resource (filters only):
        /// literal, prefixed and wildcard ACLs.
        Match = 2,
        /// The name exactly (or `*` for every resource).
        Literal = 3,
        /// Every resource whose name starts with the name.
        Prefixed = 4,
    }
}

wire_enum! {
    /// What an ACL allows or denies (Java's `AclOperation`).
    AclOperation {
        /// Any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read (fetch, join a group, ...).
        Read = 3,
        /// Write (produce).
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Inter-broker actions.
        ClusterAction = 9,
        /// Describe configurations.
        DescribeConfigs = 10,
        /// Alter configurations.
        AlterConfigs = 11,
        /// Idempotent produce.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15,
    }
}

wire_enum! {
    /// Whether an ACL allows or denies (Java's `AclPermissionType`).
    AclPermission {
        /// Either (filters only).
        Any = 1,
        /// Denies; a deny wins over any allow.
        Deny = 2,
        /// Allows.
        Allow = 3,
    }
}

/// One ACL: `principal` from `host` may (or may not) do `operation` on the
/// resources `pattern_type` and `resource_name` select.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBinding {
    /// The kind of resource.
    pub resource_type: AclResourceType,
    /// The resource's name (`*` for all of them with a literal pattern).
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: AclPatternType,
    /// Who, e.g. `User:alice`.
    pub principal: String,
    /// From where (`*` for anywhere).
    pub host: String,
    /// What.
    pub operation: AclOperation,
    /// Allowed or denied.
    pub permission: AclPermission,
}

impl AclBinding {
    /// An ACL that lets `principal` do `operation` on the topic named
    /// `topic`, from any host.
    pub fn allow_topic(topic: &str, principal: &str, operation: AclOperation) -> Self {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: topic.to_owned(),
            pattern_type: AclPatternType::Literal,
            principal: principal.to_owned(),
            host: "*".to_owned(),
            operation,
            permission: AclPermission::Allow,
        }
    }
}

impl AclBinding {
    /// An ACL as an answer carries it: the resource (type, name, pattern),
    /// who (principal, host), and what (operation, permission).
    fn from_wire(
        (resource_type, resource_name, pattern_type): (i8, &StrBytes, i8),
        (principal, host): (&StrBytes, &StrBytes),
        (operation, permission): (i8, i8),
    ) -> Self {
        AclBinding {
            resource_type: AclResourceType::from_wire(resource_type),
            resource_name: resource_name.to_string(),
            pattern_type: AclPatternType::from_wire(pattern_type),
            principal: principal.to_string(),
            host: host.to_string(),
            operation: AclOperation::from_wire(operation),
            permission: AclPermission::from_wire(permission),
        }
    }
}

/// Which ACLs a describe or delete selects; None (and the `Any` values)
/// match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// The kind of resource.
    pub resource_type: AclResourceType,
    /// The resource's name.
    pub resource_name: Option<String>,
    /// How ACLs' names must match it.
    pub pattern_type: AclPatternType,
    /// The principal.
    pub principal: Option<String>,
    /// The host.
    pub host: Option<String>,
    /// The operation.
    pub operation: AclOperation,
    /// The permission.
    pub permission: AclPermission,
}

impl AclFilter {
    /// Every ACL.
    pub fn any() -> Self {
        AclFilter {
            resource_type: AclResourceType::Any,
            resource_name: None,
            pattern_type: AclPatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// The ACLs named for the topic `topic` exactly (literal pattern).
    pub fn topic(topic: &str) -> Self {
        AclFilter {
            resource_type: AclResourceType::Topic,
            resource_name: Some(topic.to_owned()),
            pattern_type: AclPatternType::Literal,
            ..AclFilter::any()
        }
    }
}

impl Admin {
    /// Creates ACLs; fails with the first one the broker refuses (the
    /// others may have been created).
    pub async fn create_acls(&self, acls: &[AclBinding]) -> Result<()> {
        let request = CreateAclsRequest {
            creations: acls
                .iter()
                .map(|acl| AclCreation {
                    resource_type: acl.resource_type.wire(),
                    resource_name: StrBytes::from(acl.resource_name.as_str()),
                    resource_pattern_type: acl.pattern_type.wire(),
                    principal: StrBytes::from(acl.principal.as_str()),
                    host: StrBytes::from(acl.host.as_str()),
                    operation: acl.operation.wire(),
                    permission_type: acl.permission.wire(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let response = self.send_to_controller(&request).await?;
        for r in &response.results {
            Error::check_code(
                r.error_code,
                || "CreateAcls".into(),
                r.error_message.as_deref(),
            )?;
        }
        Ok(())
    }

    /// The ACLs `filter` selects.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest {
            resource_type_filter: filter.resource_type.wire(),
            resource_name_filter: filter.resource_name.as_deref().map(StrBytes::from),
            pattern_type_filter: filter.pattern_type.wire(),
            principal_filter: filter.principal.as_deref().map(StrBytes::from),
            host_filter: filter.host.as_deref().map(StrBytes::from),
            operation: filter.operation.wire(),
            permission_type: filter.permission.wire(),
            ..Default::default()
        };
        let response = self.client.send_any(&request).await?;
        Error::check_code(
            response.error_code,
            || "DescribeAcls".into(),
            response.error_message.as_deref(),
        )?;
        let mut acls = Vec::new();
        for resource in &response.resources {
            for acl in &resource.acls {
                acls.push(AclBinding::from_wire(
                    (
                        resource.resource_type,
                        &resource.resource_name,
                        resource.pattern_type,
                    ),
                    (&acl.principal, &acl.host),
                    (acl.operation, acl.permission_type),
                ));
            }
        }
        Ok(acls)
    }

    /// Deletes the ACLs the filters select and returns them.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<AclBinding>> {
        let request = DeleteAclsRequest {
            filters: filters
                .iter()
                .map(|f| DeleteAclsFilter {
                    resource_type_filter: f.resource_type.wire(),
                    resource_name_filter: f.resource_name.as_deref().map(StrBytes::from),
                    pattern_type_filter: f.pattern_type.wire(),
                    principal_filter: f.principal.as_deref().map(StrBytes::from),
                    host_filter: f.host.as_deref().map(StrBytes::from),
                    operation: f.operation.wire(),
                    permission_type: f.permission.wire(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let response = self.send_to_controller(&request).await?;
        let mut deleted = Vec::new();
        for result in &response.filter_results {
            Error::check_code(
                result.error_code,
                || "DeleteAcls".into(),
                result.error_message.as_deref(),
            )?;
            for acl in &result.matching_acls {
                Error::check_code(
                    acl.error_code,
                    || "DeleteAcls".into(),
                    acl.error_message.as_deref(),
                )?;
                deleted.push(AclBinding::from_wire(
                    (acl.resource_type, &acl.resource_name, acl.pattern_type),
                    (&acl.principal, &acl.host),
                    (acl.operation, acl.permission_type),
                ));
            }
        }
        Ok(deleted)
    }
}

/// A per-result error code as a typed error.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_are_javas_and_unknown_bytes_survive() {
        assert_eq!(AclResourceType::Topic.wire(), 2);
        assert_eq!(AclResourceType::Cluster.wire(), 4);
        assert_eq!(AclPatternType::Literal.wire(), 3);
        assert_eq!(AclPatternType::Prefixed.wire(), 4);
        assert_eq!(AclOperation::Read.wire(), 3);
        assert_eq!(AclOperation::IdempotentWrite.wire(), 12);
        assert_eq!(AclPermission::Allow.wire(), 3);
        assert_eq!(AclPermission::Deny.wire(), 2);
        for byte in -1..20 {
            assert_eq!(AclOperation::from_wire(byte).wire(), byte);
            assert_eq!(AclResourceType::from_wire(byte).wire(), byte);
        }
        assert_eq!(AclOperation::from_wire(99), AclOperation::Unknown(99));
    }
}
