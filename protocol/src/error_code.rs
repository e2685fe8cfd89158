//! Kafka error codes (FACTS.md section 9): a newtype over the wire `int16`
//! so unknown codes stay representable, with names and the Java client's
//! retriable / refresh-metadata classification.

use std::fmt;

/// An error code from a response. `ErrorCode::NONE` (0) means success.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

/// (code, name, retriable, refresh metadata) for every code Kafka 4.1.1 defines.
const TABLE: &[(i16, &str, bool, bool)] = &[
    (-1, "UNKNOWN_SERVER_ERROR", false, false),
    (0, "NONE", false, false),
    (1, "OFFSET_OUT_OF_RANGE", false, false),
    (2, "CORRUPT_MESSAGE", true, false),
    (3, "UNKNOWN_TOPIC_OR_PARTITION", true, true),
    (4, "INVALID_FETCH_SIZE", false, false),
    (5, "LEADER_NOT_AVAILABLE", true, true),
    (6, "NOT_LEADER_OR_FOLLOWER", true, true),
    (7, "REQUEST_TIMED_OUT", true, false),
    (8, "BROKER_NOT_AVAILABLE", false, false),
    (9, "REPLICA_NOT_AVAILABLE", true, true),
    (10, "MESSAGE_TOO_LARGE", false, false),
    (11, "STALE_CONTROLLER_EPOCH", false, false),
    (12, "OFFSET_METADATA_TOO_LARGE", false, false),
    (13, "NETWORK_EXCEPTION", true, true),
    (14, "COORDINATOR_LOAD_IN_PROGRESS", true, false),
    (15, "COORDINATOR_NOT_AVAILABLE", true, false),
    (16, "NOT_COORDINATOR", true, false),
    (17, "INVALID_TOPIC_EXCEPTION", false, false),
    (18, "RECORD_LIST_TOO_LARGE", false, false),
    (19, "NOT_ENOUGH_REPLICAS", true, false),
    (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, false),
    (21, "INVALID_REQUIRED_ACKS", false, false),
    (22, "ILLEGAL_GENERATION", false, false),
    (23, "INCONSISTENT_GROUP_PROTOCOL", false, false),
    (24, "INVALID_GROUP_ID", false, false),
    (25, "UNKNOWN_MEMBER_ID", false, false),
    (26, "INVALID_SESSION_TIMEOUT", false, false),
    (27, "REBALANCE_IN_PROGRESS", false, false),
    (28, "INVALID_COMMIT_OFFSET_SIZE", false, false),
    (29, "TOPIC_AUTHORIZATION_FAILED", false, false),
    (30, "GROUP_AUTHORIZATION_FAILED", false, false),
    (31, "CLUSTER_AUTHORIZATION_FAILED", false, false),
    (32, "INVALID_TIMESTAMP", false, false),
    (33, "UNSUPPORTED_SASL_MECHANISM", false, false),
    (34, "ILLEGAL_SASL_STATE", false, false),
    (35, "UNSUPPORTED_VERSION", false, false),
    (36, "TOPIC_ALREADY_EXISTS", false, false),
    (37, "INVALID_PARTITIONS", false, false),
    (38, "INVALID_REPLICATION_FACTOR", false, false),
    (39, "INVALID_REPLICA_ASSIGNMENT", false, false),
    (40, "INVALID_CONFIG", false, false),
    (41, "NOT_CONTROLLER", true, false),
    (42, "INVALID_REQUEST", false, false),
    (43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, false),
    (44, "POLICY_VIOLATION", false, false),
    (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, false),
    (46, "DUPLICATE_SEQUENCE_NUMBER", false, false),
    (47, "INVALID_PRODUCER_EPOCH", false, false),
    (48, "INVALID_TXN_STATE", false, false),
    (49, "INVALID_PRODUCER_ID_MAPPING", false, false),
    (50, "INVALID_TRANSACTION_TIMEOUT", false, false),
    (51, "CONCURRENT_TRANSACTIONS", true, false),
    (52, "TRANSACTION_COORDINATOR_FENCED", false, false),
    (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, false),
    (54, "SECURITY_DISABLED", false, false),
    (55, "OPERATION_NOT_ATTEMPTED", false, false),
    (56, "KAFKA_STORAGE_ERROR", true, true),
    (57, "LOG_DIR_NOT_FOUND", false, false),
    (58, "SASL_AUTHENTICATION_FAILED", false, false),
    (59, "UNKNOWN_PRODUCER_ID", false, false),
    (60, "REASSIGNMENT_IN_PROGRESS", false, false),
    (61, "DELEGATION_TOKEN_AUTH_DISABLED", false, false),
    (62, "DELEGATION_TOKEN_NOT_FOUND", false, false),
    (63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, false),
    (64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, false),
    (65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, false),
    (66, "DELEGATION_TOKEN_EXPIRED", false, false),
    (67, "INVALID_PRINCIPAL_TYPE", false, false),
    (68, "NON_EMPTY_GROUP", false, false),
    (69, "GROUP_ID_NOT_FOUND", false, false),
    (70, "FETCH_SESSION_ID_NOT_FOUND", true, false),
    (71, "INVALID_FETCH_SESSION_EPOCH", true, false),
    (72, "LISTENER_NOT_FOUND", true, true),
    (73, "TOPIC_DELETION_DISABLED", false, false),
    (74, "FENCED_LEADER_EPOCH", true, true),
    (75, "UNKNOWN_LEADER_EPOCH", true, false),
    (76, "UNSUPPORTED_COMPRESSION_TYPE", false, false),
    (77, "STALE_BROKER_EPOCH", false, false),
    (78, "OFFSET_NOT_AVAILABLE", true, false),
    (79, "MEMBER_ID_REQUIRED", false, false),
    (80, "PREFERRED_LEADER_NOT_AVAILABLE", true, true),
    (81, "GROUP_MAX_SIZE_REACHED", false, false),
    (82, "FENCED_INSTANCE_ID", false, false),
    (83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, true),
    (84, "ELECTION_NOT_NEEDED", true, true),
    (85, "NO_REASSIGNMENT_IN_PROGRESS", false, false),
    (86, "GROUP_SUBSCRIBED_TO_TOPIC", false, false),
    (87, "INVALID_RECORD", false, false),
    (88, "UNSTABLE_OFFSET_COMMIT", true, false),
    (89, "THROTTLING_QUOTA_EXCEEDED", true, false),
    (90, "PRODUCER_FENCED", false, false),
    (91, "RESOURCE_NOT_FOUND", false, false),
    (92, "DUPLICATE_RESOURCE", false, false),
    (93, "UNACCEPTABLE_CREDENTIAL", false, false),
    (94, "INCONSISTENT_VOTER_SET", false, false),
    (95, "INVALID_UPDATE_VERSION", false, false),
    (96, "FEATURE_UPDATE_FAILED", false, false),
    (97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, false),
    (98, "SNAPSHOT_NOT_FOUND", false, false),
    (99, "POSITION_OUT_OF_RANGE", false, false),
    (100, "UNKNOWN_TOPIC_ID", true, true),
    (101, "DUPLICATE_BROKER_REGISTRATION", false, false),
    (102, "BROKER_ID_NOT_REGISTERED", false, false),
    (103, "INCONSISTENT_TOPIC_ID", true, true),
    (104, "INCONSISTENT_CLUSTER_ID", false, false),
    (105, "TRANSACTIONAL_ID_NOT_FOUND", false, false),
    (106, "FETCH_SESSION_TOPIC_ID_ERROR", true, false),
    (107, "INELIGIBLE_REPLICA", false, false),
    (108, "NEW_LEADER_ELECTED", false, false),
    (109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, false),
    (110, "FENCED_MEMBER_EPOCH", false, false),
    (111, "UNRELEASED_INSTANCE_ID", false, false),
    (112, "UNSUPPORTED_ASSIGNOR", false, false),
    (113, "STALE_MEMBER_EPOCH", false, false),
    (114, "MISMATCHED_ENDPOINT_TYPE", false, false),
    (115, "UNSUPPORTED_ENDPOINT_TYPE", false, false),
    (116, "UNKNOWN_CONTROLLER_ID", false, false),
    (117, "UNKNOWN_SUBSCRIPTION_ID", false, false),
    (118, "TELEMETRY_TOO_LARGE", false, false),
    (119, "INVALID_REGISTRATION", false, false),
    (120, "TRANSACTION_ABORTABLE", false, false),
    (121, "INVALID_RECORD_STATE", false, false),
    (122, "SHARE_SESSION_NOT_FOUND", true, false),
    (123, "INVALID_SHARE_SESSION_EPOCH", true, false),
    (124, "FENCED_STATE_EPOCH", false, false),
    (125, "INVALID_VOTER_KEY", false, false),
    (126, "DUPLICATE_VOTER", false, false),
    (127, "VOTER_NOT_FOUND", false, false),
    (128, "INVALID_REGULAR_EXPRESSION", false, false),
    (129, "REBOOTSTRAP_REQUIRED", false, false),
    (130, "STREAMS_INVALID_TOPOLOGY", false, false),
    (131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, false),
    (132, "STREAMS_TOPOLOGY_FENCED", false, false),
    (133, "SHARE_SESSION_LIMIT_REACHED", true, false),
];

#[allow(missing_docs)]
impl ErrorCode {
    pub const UNKNOWN_SERVER_ERROR: ErrorCode = ErrorCode(-1);
    pub const NONE: ErrorCode = ErrorCode(0);
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    pub const INVALID_FETCH_SIZE: ErrorCode = ErrorCode(4);
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    pub const BROKER_NOT_AVAILABLE: ErrorCode = ErrorCode(8);
    pub const REPLICA_NOT_AVAILABLE: ErrorCode = ErrorCode(9);
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    pub const STALE_CONTROLLER_EPOCH: ErrorCode = ErrorCode(11);
    pub const OFFSET_METADATA_TOO_LARGE: ErrorCode = ErrorCode(12);
    pub const NETWORK_EXCEPTION: ErrorCode = ErrorCode(13);
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    pub const INVALID_TOPIC_EXCEPTION: ErrorCode = ErrorCode(17);
    pub const RECORD_LIST_TOO_LARGE: ErrorCode = ErrorCode(18);
    pub const NOT_ENOUGH_REPLICAS: ErrorCode = ErrorCode(19);
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode = ErrorCode(20);
    pub const INVALID_REQUIRED_ACKS: ErrorCode = ErrorCode(21);
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    pub const INCONSISTENT_GROUP_PROTOCOL: ErrorCode = ErrorCode(23);
    pub const INVALID_GROUP_ID: ErrorCode = ErrorCode(24);
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    pub const INVALID_SESSION_TIMEOUT: ErrorCode = ErrorCode(26);
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    pub const INVALID_COMMIT_OFFSET_SIZE: ErrorCode = ErrorCode(28);
    pub const TOPIC_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(29);
    pub const GROUP_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(30);
    pub const CLUSTER_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(31);
    pub const INVALID_TIMESTAMP: ErrorCode = ErrorCode(32);
    pub const UNSUPPORTED_SASL_MECHANISM: ErrorCode = ErrorCode(33);
    pub const ILLEGAL_SASL_STATE: ErrorCode = ErrorCode(34);
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    pub const INVALID_PARTITIONS: ErrorCode = ErrorCode(37);
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    pub const INVALID_REPLICA_ASSIGNMENT: ErrorCode = ErrorCode(39);
    pub const INVALID_CONFIG: ErrorCode = ErrorCode(40);
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(41);
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(42);
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode = ErrorCode(43);
    pub const POLICY_VIOLATION: ErrorCode = ErrorCode(44);
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    pub const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
    pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = ErrorCode(49);
    pub const INVALID_TRANSACTION_TIMEOUT: ErrorCode = ErrorCode(50);
    pub const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
    pub const TRANSACTION_COORDINATOR_FENCED: ErrorCode = ErrorCode(52);
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(53);
    pub const SECURITY_DISABLED: ErrorCode = ErrorCode(54);
    pub const OPERATION_NOT_ATTEMPTED: ErrorCode = ErrorCode(55);
    pub const KAFKA_STORAGE_ERROR: ErrorCode = ErrorCode(56);
    pub const LOG_DIR_NOT_FOUND: ErrorCode = ErrorCode(57);
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    pub const REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(60);
    pub const DELEGATION_TOKEN_AUTH_DISABLED: ErrorCode = ErrorCode(61);
    pub const DELEGATION_TOKEN_NOT_FOUND: ErrorCode = ErrorCode(62);
    pub const DELEGATION_TOKEN_OWNER_MISMATCH: ErrorCode = ErrorCode(63);
    pub const DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: ErrorCode = ErrorCode(64);
    pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(65);
    pub const DELEGATION_TOKEN_EXPIRED: ErrorCode = ErrorCode(66);
    pub const INVALID_PRINCIPAL_TYPE: ErrorCode = ErrorCode(67);
    pub const NON_EMPTY_GROUP: ErrorCode = ErrorCode(68);
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);
    pub const FETCH_SESSION_ID_NOT_FOUND: ErrorCode = ErrorCode(70);
    pub const INVALID_FETCH_SESSION_EPOCH: ErrorCode = ErrorCode(71);
    pub const LISTENER_NOT_FOUND: ErrorCode = ErrorCode(72);
    pub const TOPIC_DELETION_DISABLED: ErrorCode = ErrorCode(73);
    pub const FENCED_LEADER_EPOCH: ErrorCode = ErrorCode(74);
    pub const UNKNOWN_LEADER_EPOCH: ErrorCode = ErrorCode(75);
    pub const UNSUPPORTED_COMPRESSION_TYPE: ErrorCode = ErrorCode(76);
    pub const STALE_BROKER_EPOCH: ErrorCode = ErrorCode(77);
    pub const OFFSET_NOT_AVAILABLE: ErrorCode = ErrorCode(78);
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    pub const PREFERRED_LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(80);
    pub const GROUP_MAX_SIZE_REACHED: ErrorCode = ErrorCode(81);
    pub const FENCED_INSTANCE_ID: ErrorCode = ErrorCode(82);
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: ErrorCode = ErrorCode(83);
    pub const ELECTION_NOT_NEEDED: ErrorCode = ErrorCode(84);
    pub const NO_REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(85);
    pub const GROUP_SUBSCRIBED_TO_TOPIC: ErrorCode = ErrorCode(86);
    pub const INVALID_RECORD: ErrorCode = ErrorCode(87);
    pub const UNSTABLE_OFFSET_COMMIT: ErrorCode = ErrorCode(88);
    pub const THROTTLING_QUOTA_EXCEEDED: ErrorCode = ErrorCode(89);
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(91);
    pub const DUPLICATE_RESOURCE: ErrorCode = ErrorCode(92);
    pub const UNACCEPTABLE_CREDENTIAL: ErrorCode = ErrorCode(93);
    pub const INCONSISTENT_VOTER_SET: ErrorCode = ErrorCode(94);
    pub const INVALID_UPDATE_VERSION: ErrorCode = ErrorCode(95);
    pub const FEATURE_UPDATE_FAILED: ErrorCode = ErrorCode(96);
    pub const PRINCIPAL_DESERIALIZATION_FAILURE: ErrorCode = ErrorCode(97);
    pub const SNAPSHOT_NOT_FOUND: ErrorCode = ErrorCode(98);
    pub const POSITION_OUT_OF_RANGE: ErrorCode = ErrorCode(99);
    pub const UNKNOWN_TOPIC_ID: ErrorCode = ErrorCode(100);
    pub const DUPLICATE_BROKER_REGISTRATION: ErrorCode = ErrorCode(101);
    pub const BROKER_ID_NOT_REGISTERED: ErrorCode = ErrorCode(102);
    pub const INCONSISTENT_TOPIC_ID: ErrorCode = ErrorCode(103);
    pub const INCONSISTENT_CLUSTER_ID: ErrorCode = ErrorCode(104);
    pub const TRANSACTIONAL_ID_NOT_FOUND: ErrorCode = ErrorCode(105);
    pub const FETCH_SESSION_TOPIC_ID_ERROR: ErrorCode = ErrorCode(106);
    pub const INELIGIBLE_REPLICA: ErrorCode = ErrorCode(107);
    pub const NEW_LEADER_ELECTED: ErrorCode = ErrorCode(108);
    pub const OFFSET_MOVED_TO_TIERED_STORAGE: ErrorCode = ErrorCode(109);
    pub const FENCED_MEMBER_EPOCH: ErrorCode = ErrorCode(110);
    pub const UNRELEASED_INSTANCE_ID: ErrorCode = ErrorCode(111);
    pub const UNSUPPORTED_ASSIGNOR: ErrorCode = ErrorCode(112);
    pub const STALE_MEMBER_EPOCH: ErrorCode = ErrorCode(113);
    pub const MISMATCHED_ENDPOINT_TYPE: ErrorCode = ErrorCode(114);
    pub const UNSUPPORTED_ENDPOINT_TYPE: ErrorCode = ErrorCode(115);
    pub const UNKNOWN_CONTROLLER_ID: ErrorCode = ErrorCode(116);
    pub const UNKNOWN_SUBSCRIPTION_ID: ErrorCode = ErrorCode(117);
    pub const TELEMETRY_TOO_LARGE: ErrorCode = ErrorCode(118);
    pub const INVALID_REGISTRATION: ErrorCode = ErrorCode(119);
    pub const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);
    pub const INVALID_RECORD_STATE: ErrorCode = ErrorCode(121);
    pub const SHARE_SESSION_NOT_FOUND: ErrorCode = ErrorCode(122);
    pub const INVALID_SHARE_SESSION_EPOCH: ErrorCode = ErrorCode(123);
    pub const FENCED_STATE_EPOCH: ErrorCode = ErrorCode(124);
    pub const INVALID_VOTER_KEY: ErrorCode = ErrorCode(125);
    pub const DUPLICATE_VOTER: ErrorCode = ErrorCode(126);
    pub const VOTER_NOT_FOUND: ErrorCode = ErrorCode(127);
    pub const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode(128);
    pub const REBOOTSTRAP_REQUIRED: ErrorCode = ErrorCode(129);
    pub const STREAMS_INVALID_TOPOLOGY: ErrorCode = ErrorCode(130);
    pub const STREAMS_INVALID_TOPOLOGY_EPOCH: ErrorCode = ErrorCode(131);
    pub const STREAMS_TOPOLOGY_FENCED: ErrorCode = ErrorCode(132);
    pub const SHARE_SESSION_LIMIT_REACHED: ErrorCode = ErrorCode(133);
}

impl ErrorCode {
    fn entry(self) -> Option<&'static (i16, &'static str, bool, bool)> {
        // Codes are dense from -1, so index directly; fall back to a search.
        let index = usize::try_from(i32::from(self.0) + 1).ok()?;
        TABLE
            .get(index)
            .filter(|e| e.0 == self.0)
            .or_else(|| TABLE.iter().find(|e| e.0 == self.0))
    }

    /// Whether this is `NONE` (success).
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The code's name (`"NOT_LEADER_OR_FOLLOWER"`), or `"UNKNOWN"` for codes newer than this crate.
    pub fn name(self) -> &'static str {
        self.entry().map_or("UNKNOWN", |e| e.1)
    }

    /// Whether the Java client retries a request that failed with this code.
    pub fn is_retriable(self) -> bool {
        self.entry().is_some_and(|e| e.2)
    }

    /// Whether the client should refresh metadata before retrying.
    pub fn needs_metadata_refresh(self) -> bool {
        self.entry().is_some_and(|e| e.3)
    }

    /// Converts to `Ok(())` for `NONE` and `Err(self)` otherwise.
    pub fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() { Ok(()) } else { Err(self) }
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_java_client() {
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.needs_metadata_refresh());
        assert!(ErrorCode::NOT_COORDINATOR.is_retriable());
        assert!(!ErrorCode::NOT_COORDINATOR.needs_metadata_refresh());
        assert!(!ErrorCode::OFFSET_OUT_OF_RANGE.is_retriable());
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(ErrorCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(ErrorCode(133).name(), "SHARE_SESSION_LIMIT_REACHED");
        assert_eq!(ErrorCode(999).name(), "UNKNOWN");
        assert!(!ErrorCode(999).is_retriable());
    }

    #[test]
    fn table_is_dense_from_minus_one() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(i as i32 - 1, i32::from(e.0));
        }
    }
}
