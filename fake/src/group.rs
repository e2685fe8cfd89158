//! A classic consumer group (JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup) as Apache Kafka's group coordinator runs it. Sans-io: every
//! call takes the time in milliseconds; answers that wait for other members
//! (JoinGroup, SyncGroup) go to the `oneshot` sender that came with the
//! request, now or when the rebalance gets there.
//!
//! ```text
//!            first join                all joined / rebalance timeout
//!  Empty ----------------> Preparing ----------------------------------> Completing
//!    ^                     Rebalance  <--------------------------------- Rebalance
//!    |                      ^    ^      join with new metadata, leave,       |
//!    | last member gone     |    |      session expiry, sync timeout         | leader's
//!    +----------------------+    |                                           | SyncGroup
//!                                +------------ Stable <----------------------+
//!                                  leader rejoin, new metadata, leave, expiry
//! ```
//!
//! A member's session expires when it has not heartbeated for its session
//! timeout, unless it is waiting in a JoinGroup or SyncGroup. A rebalance
//! ends when every member rejoined (and no member id handed out with
//! MEMBER_ID_REQUIRED is still pending) or when the largest rebalance
//! timeout of the members passed; those that did not rejoin are removed.

use bytes::Bytes;
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::Message;
use kafkacc_protocol::StrBytes;
use kafkacc_protocol::generated::join_group_response::JoinGroupResponseMember;
use kafkacc_protocol::messages::{
    ConsumerProtocolSubscription, JoinGroupResponse, SyncGroupResponse,
};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::oneshot;

/// Timer settings of the coordinator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: u64,
}

/// The group states Kafka names in DescribeGroups / ListGroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// Kafka's name for the state.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A JoinGroup request, decoded.
#[derive(Debug, Clone)]
pub(crate) struct JoinRequest {
    pub version: i16,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
}

/// A SyncGroup request, decoded.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// Where a JoinGroup answer goes.
#[derive(Debug)]
pub(crate) struct JoinWaiter {
    pub version: i16,
    pub tx: oneshot::Sender<JoinGroupResponse>,
}

/// Where a SyncGroup answer goes.
#[derive(Debug)]
pub(crate) struct SyncWaiter {
    pub tx: oneshot::Sender<SyncGroupResponse>,
}

/// A member of the group.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: u64,
    join_order: u64,
    join_waiter: Option<JoinWaiter>,
    sync_waiter: Option<SyncWaiter>,
}

impl Member {
    /// This member's metadata for `protocol`.
    pub(crate) fn metadata(&self, protocol: Option<&str>) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| Some(name.as_str()) == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// One classic group and its committed offsets.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED → expiry time.
    pending: HashMap<String, u64>,
    rebalance_deadline: Option<u64>,
    sync_deadline: Option<u64>,
    /// Waiting out the initial rebalance delay of a group that was empty.
    initial_delay: bool,
    join_counter: u64,
    member_counter: u64,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), Committed>,
    /// TxnOffsetCommit offsets waiting for their transaction's end, by producer id.
    pub pending_txn_offsets: HashMap<i64, BTreeMap<(String, i32), Committed>>,
}

/// An error answer; the protocol name is null from v7 (Kafka sends null
/// there) and an empty string before (not nullable).
fn join_error(version: i16, code: ErrorCode, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code.0,
        member_id: member_id.into(),
        protocol_name: if version >= 7 {
            None
        } else {
            Some(StrBytes::default())
        },
        ..Default::default()
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    }
}

impl Group {
    /// A new, empty group.
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            rebalance_deadline: None,
            sync_deadline: None,
            initial_delay: false,
            join_counter: 0,
            member_counter: 0,
            offsets: BTreeMap::new(),
            pending_txn_offsets: HashMap::new(),
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> GroupState {
        self.state
    }

    /// The current generation.
    pub(crate) fn generation(&self) -> i32 {
        self.generation
    }

    /// The protocol type of the members ("consumer"), if any joined.
    pub(crate) fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// The protocol chosen in the last rebalance.
    pub(crate) fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The members, in member-id order.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The leader's member id.
    #[cfg(test)]
    pub(crate) fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// Whether `member_id` is a member.
    pub(crate) fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        self.member_counter += 1;
        let salt = crate::state::mixed_id(&self.id, self.member_counter);
        format!("{client_id}-{}-{salt:016x}", self.member_counter)
    }

    /// Fencing of static members: FENCED_INSTANCE_ID when the request's
    /// instance id belongs to another member id, UNKNOWN_MEMBER_ID when it
    /// belongs to none; `None` without an instance id.
    fn fenced(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        let instance = instance_id?;
        match self.static_members.get(instance) {
            Some(owner) if owner != member_id => Some(ErrorCode::FENCED_INSTANCE_ID),
            None => Some(ErrorCode::UNKNOWN_MEMBER_ID),
            _ => None,
        }
    }

    /// JoinGroup. The answer goes to `waiter`, now or when the rebalance ends.
    pub(crate) fn join(
        &mut self,
        req: JoinRequest,
        waiter: JoinWaiter,
        now: u64,
        cfg: &GroupConfig,
    ) {
        let reply_now = |waiter: JoinWaiter, code: ErrorCode, member: &str| {
            let _ = waiter.tx.send(join_error(waiter.version, code, member));
        };
        if req.session_timeout_ms < cfg.min_session_timeout_ms
            || req.session_timeout_ms > cfg.max_session_timeout_ms
        {
            return reply_now(waiter, ErrorCode::INVALID_SESSION_TIMEOUT, &req.member_id);
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return reply_now(
                waiter,
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            );
        }
        if !self.members.is_empty() && !self.supports(&req) {
            return reply_now(
                waiter,
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            );
        }
        if req.member_id.is_empty() {
            self.join_unknown(req, waiter, now, cfg);
        } else {
            self.join_known(req, waiter, now, cfg);
        }
    }

    /// Whether the request's protocols fit the group's members.
    fn supports(&self, req: &JoinRequest) -> bool {
        if self.protocol_type.as_deref() != Some(req.protocol_type.as_str()) {
            return false;
        }
        req.protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .filter(|m| m.id != req.member_id)
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    fn join_unknown(&mut self, req: JoinRequest, waiter: JoinWaiter, now: u64, cfg: &GroupConfig) {
        if let Some(instance) = req.instance_id.clone() {
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                return self.replace_static(old_id, req, waiter, now, cfg);
            }
            let id = self.new_member_id(&req.client_id);
            self.static_members.insert(instance, id.clone());
            return self.add_member(id, req, waiter, now, cfg);
        }
        let id = self.new_member_id(&req.client_id);
        if req.version >= 4 {
            // KIP-394: the member must come back with this id.
            let expiry = now + u64::try_from(req.session_timeout_ms).unwrap_or(0);
            self.pending.insert(id.clone(), expiry);
            let _ = waiter.tx.send(join_error(
                waiter.version,
                ErrorCode::MEMBER_ID_REQUIRED,
                &id,
            ));
            return;
        }
        self.add_member(id, req, waiter, now, cfg);
    }

    /// A static member came back without its member id: it takes a new id
    /// and the old one is fenced. With unchanged metadata in a stable group
    /// no rebalance happens (KIP-345); the old assignment carries over.
    fn replace_static(
        &mut self,
        old_id: String,
        req: JoinRequest,
        waiter: JoinWaiter,
        now: u64,
        cfg: &GroupConfig,
    ) {
        let Some(mut member) = self.members.remove(&old_id) else {
            // Mapping without a member (cannot happen): join as new.
            let id = self.new_member_id(&req.client_id);
            if let Some(instance) = &req.instance_id {
                self.static_members.insert(instance.clone(), id.clone());
            }
            return self.add_member(id, req, waiter, now, cfg);
        };
        if let Some(w) = member.join_waiter.take() {
            let _ = w.tx.send(join_error(
                w.version,
                ErrorCode::FENCED_INSTANCE_ID,
                &old_id,
            ));
        }
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.tx.send(sync_error(ErrorCode::FENCED_INSTANCE_ID));
        }
        let new_id = self.new_member_id(&req.client_id);
        let same_metadata = member.protocols == req.protocols;
        member.id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout_ms = u64::try_from(req.session_timeout_ms).unwrap_or(0);
        member.rebalance_timeout_ms = u64::try_from(req.rebalance_timeout_ms).unwrap_or(0);
        member.last_heartbeat = now;
        let was_leader = self.leader.as_deref() == Some(old_id.as_str());
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        if let Some(instance) = &req.instance_id {
            self.static_members.insert(instance.clone(), new_id.clone());
        }
        let quiet =
            same_metadata && self.state == GroupState::Stable && (!was_leader || req.version >= 9);
        if quiet {
            self.members.insert(new_id.clone(), member);
            let mut resp = self.join_response(&new_id, waiter.version);
            if was_leader {
                // KIP-814: the leader need not assign again.
                resp.skip_assignment = true;
            }
            let _ = waiter.tx.send(resp);
            return;
        }
        member.protocols = req.protocols.clone();
        member.join_waiter = Some(waiter);
        self.members.insert(new_id, member);
        match self.state {
            GroupState::PreparingRebalance => self.try_complete_join(now, false),
            _ => self.prepare_rebalance(now, cfg),
        }
    }

    fn add_member(
        &mut self,
        id: String,
        req: JoinRequest,
        waiter: JoinWaiter,
        now: u64,
        cfg: &GroupConfig,
    ) {
        self.pending.remove(&id);
        self.join_counter += 1;
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        let member = Member {
            id: id.clone(),
            instance_id: req.instance_id.clone(),
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout_ms: u64::try_from(req.session_timeout_ms).unwrap_or(0),
            rebalance_timeout_ms: u64::try_from(req.rebalance_timeout_ms).unwrap_or(0),
            protocols: req.protocols,
            assignment: Bytes::new(),
            last_heartbeat: now,
            join_order: self.join_counter,
            join_waiter: Some(waiter),
            sync_waiter: None,
        };
        self.members.insert(id, member);
        match self.state {
            GroupState::PreparingRebalance => self.try_complete_join(now, false),
            _ => self.prepare_rebalance(now, cfg),
        }
    }

    fn join_known(&mut self, req: JoinRequest, waiter: JoinWaiter, now: u64, cfg: &GroupConfig) {
        if self.pending.contains_key(&req.member_id) {
            let id = req.member_id.clone();
            return self.add_member(id, req, waiter, now, cfg);
        }
        if let Some(code) = self.fenced(&req.member_id, req.instance_id.as_deref()) {
            let _ = waiter
                .tx
                .send(join_error(waiter.version, code, &req.member_id));
            return;
        }
        if !self.members.contains_key(&req.member_id) {
            let _ = waiter.tx.send(join_error(
                waiter.version,
                ErrorCode::UNKNOWN_MEMBER_ID,
                &req.member_id,
            ));
            return;
        }
        let is_leader = self.leader.as_deref() == Some(req.member_id.as_str());
        let Some(member) = self.members.get_mut(&req.member_id) else {
            return;
        };
        member.last_heartbeat = now;
        let same = member.protocols == req.protocols;
        match self.state {
            GroupState::PreparingRebalance => {
                member.protocols = req.protocols;
                member.session_timeout_ms = u64::try_from(req.session_timeout_ms).unwrap_or(0);
                member.rebalance_timeout_ms = u64::try_from(req.rebalance_timeout_ms).unwrap_or(0);
                if let Some(old) = member.join_waiter.replace(waiter) {
                    let _ = old.tx.send(join_error(
                        old.version,
                        ErrorCode::REBALANCE_IN_PROGRESS,
                        &req.member_id,
                    ));
                }
                self.try_complete_join(now, false);
            }
            GroupState::CompletingRebalance | GroupState::Stable
                if same && !(is_leader && self.state == GroupState::Stable) =>
            {
                // The member missed the answer: send the current one again.
                let resp = self.join_response(&req.member_id, waiter.version);
                let _ = waiter.tx.send(resp);
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.protocols = req.protocols;
                member.join_waiter = Some(waiter);
                self.prepare_rebalance(now, cfg);
            }
            GroupState::Empty => {
                let _ = waiter.tx.send(join_error(
                    waiter.version,
                    ErrorCode::UNKNOWN_MEMBER_ID,
                    &req.member_id,
                ));
            }
        }
    }

    /// Starts a rebalance: members must rejoin within the largest rebalance
    /// timeout; members waiting in SyncGroup are told to rejoin.
    fn prepare_rebalance(&mut self, now: u64, cfg: &GroupConfig) {
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.tx.send(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
            }
        }
        let was_empty = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        self.sync_deadline = None;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        self.initial_delay = was_empty && cfg.initial_rebalance_delay_ms > 0;
        let delay = if self.initial_delay {
            cfg.initial_rebalance_delay_ms.min(timeout)
        } else {
            timeout
        };
        self.rebalance_deadline = Some(now + delay);
        self.try_complete_join(now, false);
    }

    /// Ends the join phase when everyone is in (or the deadline passed).
    /// A group that was empty waits out `group.initial.rebalance.delay.ms`
    /// first, so members starting together land in one generation.
    fn try_complete_join(&mut self, now: u64, deadline_passed: bool) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let all_in =
            self.pending.is_empty() && self.members.values().all(|m| m.join_waiter.is_some());
        if !deadline_passed && (!all_in || self.initial_delay) {
            return;
        }
        self.initial_delay = false;
        // Drop the members that did not rejoin.
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.pending.clear();
        self.generation += 1;
        self.rebalance_deadline = None;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.leader = None;
            return;
        }
        self.protocol_name = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.join_order)
                .map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let max_rebalance = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        self.sync_deadline = Some(now + max_rebalance);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let waiter = self.members.get_mut(&id).and_then(|m| {
                m.assignment = Bytes::new();
                m.last_heartbeat = now;
                m.join_waiter.take()
            });
            if let Some(w) = waiter {
                let resp = self.join_response(&id, w.version);
                let _ = w.tx.send(resp);
            }
        }
    }

    /// The protocol every member supports that most members prefer.
    fn choose_protocol(&self) -> Option<String> {
        let first = self.members.values().min_by_key(|m| m.join_order)?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
            })
            .collect();
        let mut votes: Vec<(usize, &String)> = candidates.iter().map(|c| (0, *c)).collect();
        for m in self.members.values() {
            if let Some((_, vote)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                if let Some(slot) = votes.iter_mut().find(|(_, c)| *c == vote) {
                    slot.0 += 1;
                }
            }
        }
        // Most votes; ties go to the earliest in the first member's order.
        let mut best: Option<(usize, &String)> = None;
        for (count, name) in votes {
            if best.is_none_or(|(b, _)| count > b) {
                best = Some((count, name));
            }
        }
        best.map(|(_, n)| n.clone())
    }

    /// The JoinGroup answer of the current generation for `member_id`.
    fn join_response(&self, member_id: &str, version: i16) -> JoinGroupResponse {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol_name.as_deref();
        let members = if leader == member_id {
            let mut all: Vec<&Member> = self.members.values().collect();
            all.sort_by_key(|m| m.join_order);
            all.into_iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.id.as_str().into(),
                    group_instance_id: if version >= 5 {
                        m.instance_id.as_deref().map(StrBytes::from)
                    } else {
                        None
                    },
                    metadata: m.metadata(protocol),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            error_code: 0,
            generation_id: self.generation,
            protocol_type: self.protocol_type.as_deref().map(StrBytes::from),
            protocol_name: Some(protocol.unwrap_or_default().into()),
            leader: leader.as_str().into(),
            member_id: member_id.into(),
            members,
            ..Default::default()
        }
    }

    /// SyncGroup. The answer goes to `waiter` now, or once the leader sent
    /// the assignments.
    pub(crate) fn sync(&mut self, req: SyncRequest, waiter: SyncWaiter, now: u64) {
        let reply = |w: SyncWaiter, code: ErrorCode| {
            let _ = w.tx.send(sync_error(code));
        };
        if let Some(code) = self.fenced(&req.member_id, req.instance_id.as_deref()) {
            return reply(waiter, code);
        }
        if !self.members.contains_key(&req.member_id) {
            return reply(waiter, ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if req.generation != self.generation {
            return reply(waiter, ErrorCode::ILLEGAL_GENERATION);
        }
        let mismatch =
            |given: &Option<String>, ours: &Option<String>| given.is_some() && given != ours;
        if mismatch(&req.protocol_type, &self.protocol_type)
            || mismatch(&req.protocol_name, &self.protocol_name)
        {
            return reply(waiter, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        match self.state {
            GroupState::Empty => reply(waiter, ErrorCode::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => reply(waiter, ErrorCode::REBALANCE_IN_PROGRESS),
            GroupState::Stable => {
                let resp = self.sync_response(&req.member_id);
                if let Some(m) = self.members.get_mut(&req.member_id) {
                    m.last_heartbeat = now;
                }
                let _ = waiter.tx.send(resp);
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = self.members.get_mut(&req.member_id) {
                    m.last_heartbeat = now;
                    m.sync_waiter = Some(waiter);
                }
                if self.leader.as_deref() == Some(req.member_id.as_str()) {
                    let mut given: HashMap<String, Bytes> = req.assignments.into_iter().collect();
                    for m in self.members.values_mut() {
                        m.assignment = given.remove(&m.id).unwrap_or_default();
                    }
                    self.state = GroupState::Stable;
                    self.sync_deadline = None;
                    let ids: Vec<String> = self.members.keys().cloned().collect();
                    for id in ids {
                        let resp = self.sync_response(&id);
                        if let Some(w) =
                            self.members.get_mut(&id).and_then(|m| m.sync_waiter.take())
                        {
                            let _ = w.tx.send(resp);
                        }
                    }
                }
            }
        }
    }

    fn sync_response(&self, member_id: &str) -> SyncGroupResponse {
        SyncGroupResponse {
            error_code: 0,
            protocol_type: self.protocol_type.as_deref().map(StrBytes::from),
            protocol_name: self.protocol_name.as_deref().map(StrBytes::from),
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    /// Heartbeat: the error code to answer.
    pub(crate) fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: u64,
    ) -> ErrorCode {
        if let Some(code) = self.fenced(member_id, instance_id) {
            return code;
        }
        if !self.members.contains_key(member_id) {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        }
        if generation != self.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat = now;
        }
        match self.state {
            GroupState::Empty => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::NONE,
        }
    }

    /// LeaveGroup of one member (by member id, or by instance id for
    /// static members): the error code for that member.
    pub(crate) fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: u64,
        cfg: &GroupConfig,
    ) -> ErrorCode {
        let id = match instance_id {
            Some(instance) => match self.static_members.get(instance) {
                Some(owner) if member_id.is_empty() || owner == member_id => owner.clone(),
                Some(_) => return ErrorCode::FENCED_INSTANCE_ID,
                None => return ErrorCode::UNKNOWN_MEMBER_ID,
            },
            None => {
                if self.pending.remove(member_id).is_some() {
                    self.try_complete_join(now, false);
                    return ErrorCode::NONE;
                }
                if !self.members.contains_key(member_id) {
                    return ErrorCode::UNKNOWN_MEMBER_ID;
                }
                member_id.to_owned()
            }
        };
        self.remove_member(&id);
        self.after_departure(now, cfg);
        ErrorCode::NONE
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            if let Some(w) = m.join_waiter.take() {
                let _ =
                    w.tx.send(join_error(w.version, ErrorCode::UNKNOWN_MEMBER_ID, id));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.tx.send(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
            }
            if let Some(instance) = &m.instance_id {
                if self.static_members.get(instance).map(String::as_str) == Some(id) {
                    self.static_members.remove(instance);
                }
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    fn after_departure(&mut self, now: u64, cfg: &GroupConfig) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, cfg)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now, false),
            GroupState::Empty => {}
        }
    }

    /// Timers: session expiry, pending member ids, rebalance and sync
    /// deadlines. Call regularly with the current time.
    pub(crate) fn tick(&mut self, now: u64, cfg: &GroupConfig) {
        self.pending.retain(|_, expiry| *expiry > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now.saturating_sub(m.last_heartbeat) >= m.session_timeout_ms
            })
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            for id in &expired {
                self.remove_member(id);
            }
            self.after_departure(now, cfg);
        }
        if self.state == GroupState::PreparingRebalance {
            let passed = self.rebalance_deadline.is_some_and(|d| now >= d);
            self.try_complete_join(now, passed);
        }
        if self.state == GroupState::CompletingRebalance
            && self.sync_deadline.is_some_and(|d| now >= d)
        {
            let gone: Vec<String> = self
                .members
                .values()
                .filter(|m| m.sync_waiter.is_none())
                .map(|m| m.id.clone())
                .collect();
            for id in &gone {
                self.remove_member(id);
            }
            self.prepare_rebalance(now, cfg);
        }
    }

    /// Whether a member subscribes to `topic` (OffsetDelete), read from the
    /// members' metadata for the chosen protocol. As Kafka's
    /// `isSubscribedToTopic`: true when that cannot be told (no protocol
    /// chosen yet, metadata that does not parse), to be safe.
    pub(crate) fn is_subscribed_to(&self, topic: &str) -> bool {
        let Some(protocol) = self.protocol_name.as_deref() else {
            return true;
        };
        self.members
            .values()
            .any(|m| match subscribed_topics(m.metadata(Some(protocol))) {
                Some(topics) => topics.iter().any(|t| t.as_str() == topic),
                None => true,
            })
    }

    /// Whether the group may be deleted (no members).
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty()
    }

    /// The member-facing validation of OffsetCommit: `None` to accept.
    pub(crate) fn check_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: u64,
    ) -> Option<ErrorCode> {
        if generation < 0 && member_id.is_empty() {
            // A commit from outside the group (admin, manual assignment).
            return if self.members.is_empty() {
                None
            } else {
                Some(ErrorCode::UNKNOWN_MEMBER_ID)
            };
        }
        if let Some(code) = self.fenced(member_id, instance_id) {
            return Some(code);
        }
        if !self.members.contains_key(member_id) {
            return Some(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if generation != self.generation {
            return Some(ErrorCode::ILLEGAL_GENERATION);
        }
        if self.state == GroupState::CompletingRebalance {
            return Some(ErrorCode::REBALANCE_IN_PROGRESS);
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat = now;
        }
        None
    }
}

/// The topics of consumer-protocol JoinGroup metadata, or None when it
/// does not parse.
fn subscribed_topics(mut metadata: Bytes) -> Option<Vec<StrBytes>> {
    ConsumerProtocolSubscription::decode_versioned(&mut metadata)
        .ok()
        .map(|s| s.topics)
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
