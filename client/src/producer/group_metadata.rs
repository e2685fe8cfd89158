//! The consumer group position a transaction commits offsets for.

/// A group member's identity at the time its records were read: what
/// `send_offsets_to_transaction` needs so the group coordinator can refuse
/// offsets from a member that has since lost its partitions (the Java
/// client's `ConsumerGroupMetadata`). Get it from
/// [`GroupConsumer::group_metadata`](crate::GroupConsumer::group_metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation (classic) or member epoch (KIP-848); -1 when unknown.
    pub generation_id: i32,
    /// The member id; empty when unknown.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata with only a group id: the coordinator then skips the
    /// generation check (as Java's `new ConsumerGroupMetadata(groupId)`).
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
