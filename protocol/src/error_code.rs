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

/// One constant per code, named as the Java client names it. Each says whether
/// the Java client retries it ([`ErrorCode::is_retriable`]) and what it
/// must do first ([`ErrorCode::needs_metadata_refresh`]), then what it means.
impl ErrorCode {
    /// `-1`: not retriable. The server hit an unexpected error handling the request.
    pub const UNKNOWN_SERVER_ERROR: ErrorCode = ErrorCode(-1);
    /// `0`: success. No error.
    pub const NONE: ErrorCode = ErrorCode(0);
    /// `1`: not retriable. The requested offset is outside the range the partition holds.
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    /// `2`: retriable. A record failed its CRC check, exceeds the valid size or is otherwise
    /// corrupt.
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    /// `3`: retriable after a metadata refresh. This server does not host this topic-partition.
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    /// `4`: not retriable. The requested fetch size is invalid.
    pub const INVALID_FETCH_SIZE: ErrorCode = ErrorCode(4);
    /// `5`: retriable after a metadata refresh. The partition has no leader right now (a leader
    /// election is under way).
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    /// `6`: retriable after a metadata refresh. This broker is not the leader (or a follower, for
    /// fetches) of the partition.
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    /// `7`: retriable. The request timed out on the broker.
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    /// `8`: not retriable. The broker is not available.
    pub const BROKER_NOT_AVAILABLE: ErrorCode = ErrorCode(8);
    /// `9`: retriable after a metadata refresh. The replica is not available for the partition.
    pub const REPLICA_NOT_AVAILABLE: ErrorCode = ErrorCode(9);
    /// `10`: not retriable. A record is larger than the broker accepts.
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    /// `11`: not retriable. The controller moved to another broker.
    pub const STALE_CONTROLLER_EPOCH: ErrorCode = ErrorCode(11);
    /// `12`: not retriable. The metadata string of an offset commit is too large.
    pub const OFFSET_METADATA_TOO_LARGE: ErrorCode = ErrorCode(12);
    /// `13`: retriable after a metadata refresh. The server disconnected before a response was
    /// received.
    pub const NETWORK_EXCEPTION: ErrorCode = ErrorCode(13);
    /// `14`: retriable. The coordinator is still loading its state and cannot serve requests yet.
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    /// `15`: retriable after finding the coordinator again. The coordinator is not available.
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    /// `16`: retriable after finding the coordinator again. This broker is not the coordinator of
    /// the group or transactional id.
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    /// `17`: not retriable. The topic name is invalid, or the operation is not allowed on this
    /// topic.
    pub const INVALID_TOPIC_EXCEPTION: ErrorCode = ErrorCode(17);
    /// `18`: not retriable. A record batch is larger than the topic's segment size.
    pub const RECORD_LIST_TOO_LARGE: ErrorCode = ErrorCode(18);
    /// `19`: retriable. Fewer in-sync replicas than `min.insync.replicas`: the records were
    /// rejected.
    pub const NOT_ENOUGH_REPLICAS: ErrorCode = ErrorCode(19);
    /// `20`: retriable. The records were written, but to fewer in-sync replicas than required.
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode = ErrorCode(20);
    /// `21`: not retriable. The produce request's `acks` value is invalid.
    pub const INVALID_REQUIRED_ACKS: ErrorCode = ErrorCode(21);
    /// `22`: not retriable. The group generation id is not the current one.
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    /// `23`: not retriable. The member's protocols do not match those of the group's members.
    pub const INCONSISTENT_GROUP_PROTOCOL: ErrorCode = ErrorCode(23);
    /// `24`: not retriable. The group id is invalid (empty, for instance).
    pub const INVALID_GROUP_ID: ErrorCode = ErrorCode(24);
    /// `25`: not retriable. The coordinator does not know this member id.
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    /// `26`: not retriable. The session timeout is outside the broker's
    /// `group.min.session.timeout.ms`..`group.max.session.timeout.ms`.
    pub const INVALID_SESSION_TIMEOUT: ErrorCode = ErrorCode(26);
    /// `27`: not retriable. The group is rebalancing: the member must rejoin.
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    /// `28`: not retriable. The size of the committed offset data is invalid.
    pub const INVALID_COMMIT_OFFSET_SIZE: ErrorCode = ErrorCode(28);
    /// `29`: not retriable. Not authorized to access the topic.
    pub const TOPIC_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(29);
    /// `30`: not retriable. Not authorized to access the group.
    pub const GROUP_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(30);
    /// `31`: not retriable. Not authorized for this cluster operation.
    pub const CLUSTER_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(31);
    /// `32`: not retriable. A record timestamp is outside the range the topic accepts.
    pub const INVALID_TIMESTAMP: ErrorCode = ErrorCode(32);
    /// `33`: not retriable. The broker does not support the requested SASL mechanism.
    pub const UNSUPPORTED_SASL_MECHANISM: ErrorCode = ErrorCode(33);
    /// `34`: not retriable. The request is not valid in the current state of the SASL exchange.
    pub const ILLEGAL_SASL_STATE: ErrorCode = ErrorCode(34);
    /// `35`: not retriable. The broker does not support this API version.
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    /// `36`: not retriable. The topic already exists.
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    /// `37`: not retriable. The number of partitions is invalid (below 1, or fewer than the topic
    /// has).
    pub const INVALID_PARTITIONS: ErrorCode = ErrorCode(37);
    /// `38`: not retriable. The replication factor is invalid (for instance larger than the number
    /// of brokers).
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    /// `39`: not retriable. The replica assignment is invalid.
    pub const INVALID_REPLICA_ASSIGNMENT: ErrorCode = ErrorCode(39);
    /// `40`: not retriable. A configuration is invalid.
    pub const INVALID_CONFIG: ErrorCode = ErrorCode(40);
    /// `41`: retriable. This broker is not the active controller.
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(41);
    /// `42`: not retriable. The request is malformed or inconsistent (see the error message).
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(42);
    /// `43`: not retriable. The message format version on the broker does not support the request.
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode = ErrorCode(43);
    /// `44`: not retriable. The request violates a policy configured on the broker.
    pub const POLICY_VIOLATION: ErrorCode = ErrorCode(44);
    /// `45`: not retriable. The broker received an out-of-order sequence number from an idempotent
    /// producer.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    /// `46`: not retriable. The broker received a duplicate sequence number from an idempotent
    /// producer.
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    /// `47`: not retriable. The producer used an old epoch (a newer instance of it exists).
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    /// `48`: not retriable. The producer attempted a transactional operation in an invalid state.
    pub const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
    /// `49`: not retriable. The producer id is not the one currently assigned to its transactional
    /// id.
    pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = ErrorCode(49);
    /// `50`: not retriable. The transaction timeout exceeds the broker's
    /// `transaction.max.timeout.ms`.
    pub const INVALID_TRANSACTION_TIMEOUT: ErrorCode = ErrorCode(50);
    /// `51`: retriable. Another transaction operation is still in progress for this producer id.
    pub const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
    /// `52`: not retriable. The transaction coordinator sending the request is not the current one.
    pub const TRANSACTION_COORDINATOR_FENCED: ErrorCode = ErrorCode(52);
    /// `53`: not retriable. Not authorized to use the transactional id.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(53);
    /// `54`: not retriable. Security features are disabled on the broker.
    pub const SECURITY_DISABLED: ErrorCode = ErrorCode(54);
    /// `55`: not retriable. The operation was not attempted because a related one in the same
    /// request failed.
    pub const OPERATION_NOT_ATTEMPTED: ErrorCode = ErrorCode(55);
    /// `56`: retriable after a metadata refresh. A disk error on the broker while accessing the
    /// log.
    pub const KAFKA_STORAGE_ERROR: ErrorCode = ErrorCode(56);
    /// `57`: not retriable. The user-specified log directory is not found on the broker.
    pub const LOG_DIR_NOT_FOUND: ErrorCode = ErrorCode(57);
    /// `58`: not retriable. SASL authentication failed.
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);
    /// `59`: not retriable. The broker has no state for this producer id (its records may have been
    /// deleted).
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    /// `60`: not retriable. A partition reassignment is in progress.
    pub const REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(60);
    /// `61`: not retriable. Delegation token authentication is disabled on the broker.
    pub const DELEGATION_TOKEN_AUTH_DISABLED: ErrorCode = ErrorCode(61);
    /// `62`: not retriable. The delegation token was not found.
    pub const DELEGATION_TOKEN_NOT_FOUND: ErrorCode = ErrorCode(62);
    /// `63`: not retriable. The principal is not the owner or a renewer of the delegation token.
    pub const DELEGATION_TOKEN_OWNER_MISMATCH: ErrorCode = ErrorCode(63);
    /// `64`: not retriable. Delegation token requests are not allowed on PLAINTEXT or one-way SSL
    /// connections, nor on delegation-token-authenticated ones.
    pub const DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: ErrorCode = ErrorCode(64);
    /// `65`: not retriable. Not authorized for the delegation token operation.
    pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(65);
    /// `66`: not retriable. The delegation token has expired.
    pub const DELEGATION_TOKEN_EXPIRED: ErrorCode = ErrorCode(66);
    /// `67`: not retriable. The principal type is not supported.
    pub const INVALID_PRINCIPAL_TYPE: ErrorCode = ErrorCode(67);
    /// `68`: not retriable. The group is not empty.
    pub const NON_EMPTY_GROUP: ErrorCode = ErrorCode(68);
    /// `69`: not retriable. The group id does not exist.
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);
    /// `70`: retriable. The fetch session id was not found.
    pub const FETCH_SESSION_ID_NOT_FOUND: ErrorCode = ErrorCode(70);
    /// `71`: retriable. The fetch session epoch is invalid.
    pub const INVALID_FETCH_SESSION_EPOCH: ErrorCode = ErrorCode(71);
    /// `72`: retriable after a metadata refresh. The leader has no endpoint on the listener the
    /// request came in on.
    pub const LISTENER_NOT_FOUND: ErrorCode = ErrorCode(72);
    /// `73`: not retriable. Topic deletion is disabled on the broker.
    pub const TOPIC_DELETION_DISABLED: ErrorCode = ErrorCode(73);
    /// `74`: retriable after a metadata refresh. The request's leader epoch is older than the
    /// broker's.
    pub const FENCED_LEADER_EPOCH: ErrorCode = ErrorCode(74);
    /// `75`: retriable. The request's leader epoch is newer than the broker's.
    pub const UNKNOWN_LEADER_EPOCH: ErrorCode = ErrorCode(75);
    /// `76`: not retriable. The requesting client does not support the topic's compression type.
    pub const UNSUPPORTED_COMPRESSION_TYPE: ErrorCode = ErrorCode(76);
    /// `77`: not retriable. The broker epoch has changed.
    pub const STALE_BROKER_EPOCH: ErrorCode = ErrorCode(77);
    /// `78`: retriable. The leader high watermark has not caught up since the leader election: no
    /// offset can be given yet.
    pub const OFFSET_NOT_AVAILABLE: ErrorCode = ErrorCode(78);
    /// `79`: not retriable. The member needs the member id the coordinator gave it before it can
    /// join.
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    /// `80`: retriable after a metadata refresh. The preferred leader was not available.
    pub const PREFERRED_LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(80);
    /// `81`: not retriable. The group has reached its maximum size.
    pub const GROUP_MAX_SIZE_REACHED: ErrorCode = ErrorCode(81);
    /// `82`: not retriable. Another member with the same `group.instance.id` fenced this static
    /// member.
    pub const FENCED_INSTANCE_ID: ErrorCode = ErrorCode(82);
    /// `83`: retriable after a metadata refresh. No eligible leader is available for the partition.
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: ErrorCode = ErrorCode(83);
    /// `84`: retriable after a metadata refresh. No leader election is needed for the partition.
    pub const ELECTION_NOT_NEEDED: ErrorCode = ErrorCode(84);
    /// `85`: not retriable. No partition reassignment is in progress.
    pub const NO_REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(85);
    /// `86`: not retriable. Offsets cannot be deleted while the group is subscribed to the topic.
    pub const GROUP_SUBSCRIBED_TO_TOPIC: ErrorCode = ErrorCode(86);
    /// `87`: not retriable. The broker rejected a record (it failed the broker's validation).
    pub const INVALID_RECORD: ErrorCode = ErrorCode(87);
    /// `88`: retriable. Offsets of a pending transaction are not yet stable: try again later.
    pub const UNSTABLE_OFFSET_COMMIT: ErrorCode = ErrorCode(88);
    /// `89`: retriable. A throttling quota was exceeded.
    pub const THROTTLING_QUOTA_EXCEEDED: ErrorCode = ErrorCode(89);
    /// `90`: not retriable. A newer producer with the same transactional id fenced this one.
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);
    /// `91`: not retriable. A resource the request refers to does not exist.
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(91);
    /// `92`: not retriable. The request names a resource more than once.
    pub const DUPLICATE_RESOURCE: ErrorCode = ErrorCode(92);
    /// `93`: not retriable. The credential does not meet the broker's requirements.
    pub const UNACCEPTABLE_CREDENTIAL: ErrorCode = ErrorCode(93);
    /// `94`: not retriable. The sender or recipient of a voter-only request is not one of the
    /// expected voters.
    pub const INCONSISTENT_VOTER_SET: ErrorCode = ErrorCode(94);
    /// `95`: not retriable. The update version is invalid.
    pub const INVALID_UPDATE_VERSION: ErrorCode = ErrorCode(95);
    /// `96`: not retriable. The feature update could not be applied.
    pub const FEATURE_UPDATE_FAILED: ErrorCode = ErrorCode(96);
    /// `97`: not retriable. The request principal could not be deserialized.
    pub const PRINCIPAL_DESERIALIZATION_FAILURE: ErrorCode = ErrorCode(97);
    /// `98`: not retriable. The requested snapshot was not found.
    pub const SNAPSHOT_NOT_FOUND: ErrorCode = ErrorCode(98);
    /// `99`: not retriable. The requested snapshot position is negative or beyond the snapshot's
    /// size.
    pub const POSITION_OUT_OF_RANGE: ErrorCode = ErrorCode(99);
    /// `100`: retriable after a metadata refresh. This server does not host this topic id.
    pub const UNKNOWN_TOPIC_ID: ErrorCode = ErrorCode(100);
    /// `101`: not retriable. A broker with this id is already registered.
    pub const DUPLICATE_BROKER_REGISTRATION: ErrorCode = ErrorCode(101);
    /// `102`: not retriable. The broker id is not registered.
    pub const BROKER_ID_NOT_REGISTERED: ErrorCode = ErrorCode(102);
    /// `103`: retriable after a metadata refresh. The topic id in the request does not match the
    /// topic's id in the log.
    pub const INCONSISTENT_TOPIC_ID: ErrorCode = ErrorCode(103);
    /// `104`: not retriable. The cluster id in the request does not match the cluster's.
    pub const INCONSISTENT_CLUSTER_ID: ErrorCode = ErrorCode(104);
    /// `105`: not retriable. The transactional id was not found.
    pub const TRANSACTIONAL_ID_NOT_FOUND: ErrorCode = ErrorCode(105);
    /// `106`: retriable. The fetch session used topic ids inconsistently.
    pub const FETCH_SESSION_TOPIC_ID_ERROR: ErrorCode = ErrorCode(106);
    /// `107`: not retriable. The new ISR contains at least one ineligible replica.
    pub const INELIGIBLE_REPLICA: ErrorCode = ErrorCode(107);
    /// `108`: not retriable. The partition state was updated, but the leader has changed.
    pub const NEW_LEADER_ELECTED: ErrorCode = ErrorCode(108);
    /// `109`: not retriable. The requested offset has moved to tiered storage.
    pub const OFFSET_MOVED_TO_TIERED_STORAGE: ErrorCode = ErrorCode(109);
    /// `110`: not retriable. The group coordinator fenced the member epoch: the member must give up
    /// its partitions and rejoin.
    pub const FENCED_MEMBER_EPOCH: ErrorCode = ErrorCode(110);
    /// `111`: not retriable. The static member's instance id is still used by another member, which
    /// must leave first.
    pub const UNRELEASED_INSTANCE_ID: ErrorCode = ErrorCode(111);
    /// `112`: not retriable. The assignor (or its version) is not supported by the group.
    pub const UNSUPPORTED_ASSIGNOR: ErrorCode = ErrorCode(112);
    /// `113`: not retriable. The member epoch is stale: retry once the next heartbeat response
    /// gives the current one.
    pub const STALE_MEMBER_EPOCH: ErrorCode = ErrorCode(113);
    /// `114`: not retriable. The request was sent to an endpoint of the wrong type.
    pub const MISMATCHED_ENDPOINT_TYPE: ErrorCode = ErrorCode(114);
    /// `115`: not retriable. This endpoint type does not support the request.
    pub const UNSUPPORTED_ENDPOINT_TYPE: ErrorCode = ErrorCode(115);
    /// `116`: not retriable. The controller id is not known.
    pub const UNKNOWN_CONTROLLER_ID: ErrorCode = ErrorCode(116);
    /// `117`: not retriable. A telemetry push named an invalid or outdated subscription id.
    pub const UNKNOWN_SUBSCRIPTION_ID: ErrorCode = ErrorCode(117);
    /// `118`: not retriable. The client telemetry payload is larger than the broker accepts.
    pub const TELEMETRY_TOO_LARGE: ErrorCode = ErrorCode(118);
    /// `119`: not retriable. The controller considers the broker registration invalid.
    pub const INVALID_REGISTRATION: ErrorCode = ErrorCode(119);
    /// `120`: not retriable. The transaction hit an error on the broker: abort it to keep using the
    /// transactional id.
    pub const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);
    /// `121`: not retriable. The record state is invalid: the share-group delivery acknowledgement
    /// could not be completed.
    pub const INVALID_RECORD_STATE: ErrorCode = ErrorCode(121);
    /// `122`: retriable. The share session was not found.
    pub const SHARE_SESSION_NOT_FOUND: ErrorCode = ErrorCode(122);
    /// `123`: retriable. The share session epoch is invalid.
    pub const INVALID_SHARE_SESSION_EPOCH: ErrorCode = ErrorCode(123);
    /// `124`: not retriable. The share coordinator rejected the request: the share-group state
    /// epoch did not match.
    pub const FENCED_STATE_EPOCH: ErrorCode = ErrorCode(124);
    /// `125`: not retriable. The voter key does not match the receiving replica's key.
    pub const INVALID_VOTER_KEY: ErrorCode = ErrorCode(125);
    /// `126`: not retriable. The voter is already in the voter set.
    pub const DUPLICATE_VOTER: ErrorCode = ErrorCode(126);
    /// `127`: not retriable. The voter is not in the voter set.
    pub const VOTER_NOT_FOUND: ErrorCode = ErrorCode(127);
    /// `128`: not retriable. The regular expression is invalid.
    pub const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode(128);
    /// `129`: not retriable. The client's metadata is stale: it must rebootstrap (rediscover the
    /// cluster from its bootstrap list).
    pub const REBOOTSTRAP_REQUIRED: ErrorCode = ErrorCode(129);
    /// `130`: not retriable. The streams topology is invalid.
    pub const STREAMS_INVALID_TOPOLOGY: ErrorCode = ErrorCode(130);
    /// `131`: not retriable. The streams topology epoch is invalid.
    pub const STREAMS_INVALID_TOPOLOGY_EPOCH: ErrorCode = ErrorCode(131);
    /// `132`: not retriable. The topology epoch is outdated.
    pub const STREAMS_TOPOLOGY_FENCED: ErrorCode = ErrorCode(132);
    /// `133`: retriable. The broker's limit of share sessions was reached.
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
