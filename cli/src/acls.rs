//! `kafkacc acls ...`.

use crate::args::{AclArgs, AclOperationChoice, AclsArgs, AclsCommand, ClusterArgs};
use crate::{CliError, CliResult, connect};
use kafkacc::Admin;
use kafkacc::admin::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType,
};

pub(crate) async fn run(cluster: &ClusterArgs, args: AclsArgs) -> CliResult {
    let admin = Admin::new(connect(cluster).await?);
    match args.command {
        AclsCommand::List(which) => {
            for acl in admin.describe_acls(&filter(&which)).await? {
                println!("{}", line(&acl));
            }
        }
        AclsCommand::Create(which) => {
            let acl = binding(&which)?;
            admin.create_acls(std::slice::from_ref(&acl)).await?;
            println!("created {}", line(&acl));
        }
        AclsCommand::Delete(which) => {
            for acl in admin.delete_acls(&[filter(&which)]).await? {
                println!("deleted {}", line(&acl));
            }
        }
    }
    Ok(())
}

/// The resource the options name: its type and name (None: any).
fn resource(args: &AclArgs) -> (AclResourceType, Option<String>) {
    if let Some(topic) = &args.topic {
        (AclResourceType::Topic, Some(topic.clone()))
    } else if let Some(group) = &args.group {
        (AclResourceType::Group, Some(group.clone()))
    } else if let Some(id) = &args.transactional_id {
        (AclResourceType::TransactionalId, Some(id.clone()))
    } else if args.cluster {
        (AclResourceType::Cluster, Some("kafka-cluster".to_owned()))
    } else {
        (AclResourceType::Any, None)
    }
}

fn operation(choice: AclOperationChoice) -> AclOperation {
    match choice {
        AclOperationChoice::All => AclOperation::All,
        AclOperationChoice::Read => AclOperation::Read,
        AclOperationChoice::Write => AclOperation::Write,
        AclOperationChoice::Create => AclOperation::Create,
        AclOperationChoice::Delete => AclOperation::Delete,
        AclOperationChoice::Alter => AclOperation::Alter,
        AclOperationChoice::Describe => AclOperation::Describe,
        AclOperationChoice::ClusterAction => AclOperation::ClusterAction,
        AclOperationChoice::DescribeConfigs => AclOperation::DescribeConfigs,
        AclOperationChoice::AlterConfigs => AclOperation::AlterConfigs,
        AclOperationChoice::IdempotentWrite => AclOperation::IdempotentWrite,
    }
}

/// The ACLs the options select; unset options match anything.
fn filter(args: &AclArgs) -> AclFilter {
    let (resource_type, resource_name) = resource(args);
    AclFilter {
        resource_type,
        resource_name,
        pattern_type: match (args.prefixed, resource_type) {
            (true, _) => AclPatternType::Prefixed,
            (false, AclResourceType::Any) => AclPatternType::Any,
            (false, _) => AclPatternType::Literal,
        },
        principal: args.principal.clone(),
        host: args.host.clone(),
        operation: args.operation.map_or(AclOperation::Any, operation),
        permission: if args.deny {
            AclPermission::Deny
        } else {
            AclPermission::Any
        },
    }
}

/// The one ACL the options describe.
fn binding(args: &AclArgs) -> Result<AclBinding, CliError> {
    let (resource_type, Some(resource_name)) = resource(args) else {
        return Err(CliError::Usage(
            "name a resource: --topic, --group, --transactional-id or --cluster".into(),
        ));
    };
    let Some(principal) = args.principal.clone() else {
        return Err(CliError::Usage(
            "--principal is required, e.g. User:alice".into(),
        ));
    };
    Ok(AclBinding {
        resource_type,
        resource_name,
        pattern_type: if args.prefixed {
            AclPatternType::Prefixed
        } else {
            AclPatternType::Literal
        },
        principal,
        host: args.host.clone().unwrap_or_else(|| "*".to_owned()),
        operation: args.operation.map_or(AclOperation::All, operation),
        permission: if args.deny {
            AclPermission::Deny
        } else {
            AclPermission::Allow
        },
    })
}

/// One ACL on one line: resource, pattern, principal, host, operation,
/// permission.
fn line(acl: &AclBinding) -> String {
    format!(
        "{:?}:{}:{:?} {} {} {:?} {:?}",
        acl.resource_type,
        acl.resource_name,
        acl.pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission
    )
}
