//! Exactly-once ingest of a device's mutation queue.
//!
//! Each mutation carries `(device_id, seq, mutation_id)`. In one transaction per batch the server
//! applies mutations whose `seq` is exactly `last_seq + 1`, stores each consumed result, and
//! advances `last_seq`; a repeat is answered from the stored result, a gap is refused, and a
//! record naming blobs the server lacks is answered with the missing hashes and not applied.

use std::collections::HashMap;

use shared::auth::Role;
use shared::flags::FlagThresholds;
use shared::inspection::Inspection;
use shared::review::{self, ReviewStatus};
use shared::site::Site;
use shared::sync::{
    Mutation, MutationOp, MutationOutcome, MutationResult, ProtocolVersion, PushRequest, PushResponse,
    ReviewRequest,
};
use shared::validate::validate_against_site;
use shared::{ApiError, ErrorCode, FieldError};
use shared::{InspectionId, SiteId};
use time::OffsetDateTime;

use crate::domain::evidence_reads::{Answers, Fresh, Lookups, Recorder, Replayer};
use crate::domain::{Actor, evidence};
use crate::error::{AppError, AppResult};
use crate::store::{
    AuditEntry, DeviceRow, EvidenceAnswer, EvidenceQuestion, RecordRow, Store, StoreResult, Tx,
};

/// Most mutations accepted in one push.
pub const MAX_BATCH: usize = 500;

pub fn check_protocol(v: &ProtocolVersion) -> AppResult<()> {
    if v.is_supported() {
        Ok(())
    } else {
        Err(AppError::Api(
            ApiError::new(
                ErrorCode::UnsupportedProtocol,
                format!("不支持的同步协议版本 {}.{}", v.major, v.minor),
            )
            .with_detail(serde_json::json!({ "supported_major": shared::sync::PROTOCOL_MAJOR })),
        ))
    }
}

pub fn push(
    store: &dyn Store,
    actor: &Actor,
    req: &PushRequest,
    thresholds: &FlagThresholds,
    now: OffsetDateTime,
) -> AppResult<PushResponse> {
    check_protocol(&req.protocol)?;
    if !matches!(actor.user.role, Role::Inspector | Role::TownshipReviewer | Role::ProvinceAdmin) {
        return Err(AppError::api(ErrorCode::Forbidden, "当前角色不能同步变更"));
    }
    if req.mutations.len() > MAX_BATCH {
        return Err(AppError::field(ErrorCode::TooMany, "mutations", "一次最多提交 500 条"));
    }
    if let Some(n) = req.mutations.iter().position(|m| m.seq == 0) {
        return Err(AppError::field(ErrorCode::OutOfRange, &format!("mutations[{n}].seq"), "序号从 1 开始"));
    }
    // The read phase, before the write transaction: signatures (the costliest step of a
    // submission) and every look-up the submissions need, on a snapshot, so they run on every
    // core at once instead of inside the single writer's critical section.
    let prep = prepare(store, actor, req, thresholds, now)?;
    // What committed since that snapshot, caught up on a second snapshot while other pushes
    // hold the writer; inside it, only what committed after that is left to fetch.
    let (mut fresh, caught_up) = catch_up(store, prep.seen, thresholds)?;
    let mut tx = store.write()?;
    let device = tx
        .device(&req.device_id)?
        .ok_or_else(|| AppError::api(ErrorCode::DeviceNotRegistered, "设备未登记，请先登记设备"))?;
    if device.user_id != actor.user.id {
        return Err(AppError::api(ErrorCode::DeviceOwnedByOtherUser, "该设备已登记给其他用户"));
    }
    let (clock, reading) = evidence::read_clock(tx.as_mut(), &device.id, req.device_clock, now, thresholds)?;
    // What committed since the catch-up, in a few statements for the whole batch.
    if tx.current_change_seq()? != caught_up {
        fresh.catch_up(tx.evidence_since(caught_up, thresholds.cross_record_checks)?);
    }
    let mut checks = Checks { thresholds, clock, prep: &prep, fresh };
    let mut last = device.last_seq;
    let mut sites = SiteCache::default();
    let mut results = Vec::with_capacity(req.mutations.len());
    for (n, m) in req.mutations.iter().enumerate() {
        if m.seq <= last {
            let outcome = match tx.mutation_result(&device.id, m.seq)? {
                Some((mid, original)) if mid == m.mutation_id => {
                    results.push(MutationResult {
                        seq: m.seq,
                        mutation_id: m.mutation_id,
                        outcome: original,
                        duplicate: true,
                    });
                    continue;
                }
                _ => MutationOutcome::Rejected {
                    error: ApiError::new(ErrorCode::SequenceReused, "该序号已用于另一条变更"),
                },
            };
            results.push(MutationResult {
                seq: m.seq,
                mutation_id: m.mutation_id,
                outcome,
                duplicate: false,
            });
            continue;
        }
        if m.seq != last + 1 {
            results.push(MutationResult {
                seq: m.seq,
                mutation_id: m.mutation_id,
                outcome: MutationOutcome::Gap { expected_seq: last + 1 },
                duplicate: false,
            });
            break;
        }
        // A key set between the check and the write (a device registering its first key)
        // is checked again here.
        let signed = if device.public_key == prep.key {
            prep.signed[n]
        } else {
            signature_holds(device.public_key.as_deref(), m)
        };
        let outcome = apply(tx.as_mut(), &mut sites, &mut checks, actor, &device, m, signed, now)?;
        let stop = !outcome.consumes_seq();
        if !stop {
            tx.insert_mutation_result(&device.id, m.seq, &m.mutation_id, &outcome, now)?;
            last = m.seq;
            if let MutationOutcome::Rejected { error } | MutationOutcome::Conflict { error, .. } = &outcome {
                // Applied mutations are audited by their effect; refused ones by their answer.
                tx.append_audit(&AuditEntry {
                    at: now,
                    user_id: Some(actor.user.id),
                    device_id: Some(device.id),
                    action: "push_refused".into(),
                    entity: "mutation".into(),
                    entity_id: m.mutation_id.to_string(),
                    detail: serde_json::json!({ "seq": m.seq, "code": error.code, "fields": error.fields }),
                })?;
            }
        }
        results.push(MutationResult { seq: m.seq, mutation_id: m.mutation_id, outcome, duplicate: false });
        if stop {
            break;
        }
    }
    if last != device.last_seq {
        tx.set_device_seq(&device.id, last)?;
        if let Some(r) = reading {
            tx.set_device_clock(&device.id, &r)?;
        }
    }
    tx.commit()?;
    Ok(PushResponse { protocol: ProtocolVersion::CURRENT, results, last_applied_seq: last })
}

fn rejected(error: ApiError) -> MutationOutcome {
    MutationOutcome::Rejected { error }
}

/// Sites a batch names, looked up once per batch: submissions never change sites, and a device's
/// queue usually names a handful of sites many times.
#[derive(Default)]
struct SiteCache(HashMap<SiteId, Option<Site>>);

impl SiteCache {
    /// The site if it exists and lies in one of the actor's assigned villages.
    fn get(&mut self, tx: &mut dyn Tx, actor: &Actor, id: &SiteId) -> StoreResult<Option<Site>> {
        if let Some(s) = self.0.get(id) {
            return Ok(s.clone());
        }
        let site = match tx.site(id)? {
            Some(s) if tx.is_assigned(&actor.user.id, &s.village)? => Some(s),
            _ => None,
        };
        self.0.insert(*id, site.clone());
        Ok(site)
    }
}

/// Whether the mutation carries `key`'s valid signature over its version.
fn signature_holds(key: Option<&str>, m: &Mutation) -> bool {
    match (&m.op, key) {
        (MutationOp::SubmitInspection { inspection, signature: Some(sig) }, Some(key)) => {
            crate::signatures::verifies(key, inspection, sig)
        }
        (MutationOp::Review { record_id, version, decision, comment, signature: Some(sig) }, Some(key)) => {
            crate::signatures::verifies_bytes(
                key,
                &shared::signing::review_bytes(record_id, *version, *decision, comment),
                sig,
            )
        }
        _ => false,
    }
}

/// What the read phase of a push found on its snapshot.
#[derive(Default)]
struct Prepared {
    /// The change sequence the snapshot had seen.
    seen: u64,
    /// The device's key in the snapshot, and whether each mutation verified against it.
    key: Option<String>,
    signed: Vec<bool>,
    /// Every look-up's answer on the snapshot, record rows and blob sizes included.
    answers: Answers,
}

/// The read phase: every look-up the batch's submissions will make, on one snapshot.
fn prepare(
    store: &dyn Store,
    actor: &Actor,
    req: &PushRequest,
    thresholds: &FlagThresholds,
    now: OffsetDateTime,
) -> AppResult<Prepared> {
    let mut snap = store.read()?;
    let mut p = Prepared { seen: snap.current_change_seq()?, ..Prepared::default() };
    let device = snap.device(&req.device_id)?;
    p.key = device.as_ref().and_then(|d| d.public_key.clone());
    p.signed = req.mutations.iter().map(|m| signature_holds(p.key.as_deref(), m)).collect();
    let Some(device) = device.filter(|d| d.user_id == actor.user.id) else { return Ok(p) };
    let (clock, _) = evidence::read_clock(snap.as_mut(), &device.id, req.device_clock, now, thresholds)?;
    if snap.batches_lookups() {
        // Across a network, the batch's look-ups go together: first those that depend only on
        // the request (with the checks off, only its record rows and blob sizes), then the
        // near-duplicate probes of the fingerprints they found.
        let mut first = Vec::new();
        for m in req.mutations.iter().filter(|m| m.seq > device.last_seq) {
            let MutationOp::SubmitInspection { inspection: i, .. } = &m.op else { continue };
            first.push(EvidenceQuestion::Record(i.id));
            first.extend(i.blob_hashes().into_iter().map(EvidenceQuestion::BlobSize));
            first.extend(evidence::first_questions(thresholds, &clock, &actor.user.id, i));
        }
        let answers = snap.evidence_lookups(&first)?;
        let mut near = Vec::new();
        for (q, a) in first.into_iter().zip(answers) {
            if let EvidenceAnswer::Fingerprint(Some(fp)) = a {
                near.push(EvidenceQuestion::Near(fp, crate::fingerprint::MAX_DISTANCE));
            }
            p.answers.keep(q, a);
        }
        let answers = snap.evidence_lookups(&near)?;
        for (q, a) in near.into_iter().zip(answers) {
            p.answers.keep(q, a);
        }
    }
    let mut sites = SiteCache::default();
    for m in req.mutations.iter().filter(|m| m.seq > device.last_seq) {
        let MutationOp::SubmitInspection { inspection: i, .. } = &m.op else { continue };
        let l: &mut dyn Lookups = &mut Recorder { tx: snap.as_mut(), answers: &mut p.answers };
        l.record(&i.id)?;
        for h in i.blob_hashes() {
            l.blob_size(&h)?;
        }
        if let Some(site) = sites.get(snap.as_mut(), actor, &i.site_id)? {
            let mut l = Recorder { tx: snap.as_mut(), answers: &mut p.answers };
            evidence::check(&mut l, thresholds, &clock, &actor.user.id, i, &site, now)?;
        }
    }
    Ok(p)
}

/// The rows of records changed since change sequence `seen`, read on a new snapshot, and the
/// sequence that snapshot had reached.
fn catch_up(store: &dyn Store, seen: u64, thresholds: &FlagThresholds) -> AppResult<(Fresh, u64)> {
    let mut snap = store.read()?;
    let now_seen = snap.current_change_seq()?;
    if now_seen == seen {
        return Ok((Fresh::default(), seen));
    }
    Ok((Fresh::from_delta(snap.evidence_since(seen, thresholds.cross_record_checks)?), now_seen))
}

/// What the evidence checks of one push share.
struct Checks<'a> {
    thresholds: &'a FlagThresholds,
    clock: evidence::ClockFacts,
    prep: &'a Prepared,
    fresh: Fresh,
}

impl Checks<'_> {
    /// The write transaction's reads, answered from the snapshot where nothing changed since.
    fn reads<'t>(&'t self, tx: &'t mut dyn Tx) -> Replayer<'t> {
        Replayer { tx, answers: &self.prep.answers, fresh: &self.fresh }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply(
    tx: &mut dyn Tx,
    sites: &mut SiteCache,
    checks: &mut Checks<'_>,
    actor: &Actor,
    device: &DeviceRow,
    m: &Mutation,
    signed: bool,
    now: OffsetDateTime,
) -> AppResult<MutationOutcome> {
    match &m.op {
        MutationOp::SubmitInspection { inspection, signature } => {
            if actor.user.role != Role::Inspector {
                return Ok(rejected(ApiError::new(ErrorCode::Forbidden, "只有检查员可以提交检查记录")));
            }
            let site = sites.get(tx, actor, &inspection.site_id)?;
            let signature = signature.as_deref().filter(|_| signed);
            Ok(submit(tx, site, checks, actor, device, inspection, signature, now)?)
        }
        MutationOp::Review { record_id, version, decision, comment, signature } => {
            // Like a version, a decision counts only as its device signed it.
            let Some(signature) = signature.as_deref().filter(|_| signed) else {
                return Ok(rejected(ApiError::new(
                    ErrorCode::SignatureInvalid,
                    "审核决定的签名缺失或无法验证",
                )));
            };
            let req = ReviewRequest { version: *version, decision: *decision, comment: comment.clone() };
            review_decision(tx, actor, device, record_id, &req, signature, now)
        }
    }
}

/// A tablet's review decision through the console's own [`review::decide`]: refusals that mean
/// the record moved on are conflicts carrying the record as it stands now.
fn review_decision(
    tx: &mut dyn Tx,
    actor: &Actor,
    device: &DeviceRow,
    id: &InspectionId,
    req: &ReviewRequest,
    signature: &str,
    now: OffsetDateTime,
) -> AppResult<MutationOutcome> {
    if !matches!(actor.user.role, Role::TownshipReviewer | Role::ProvinceAdmin) {
        return Ok(rejected(ApiError::new(ErrorCode::Forbidden, "只有审核人员可以审核记录")));
    }
    match crate::domain::review::decide(tx, actor, Some((&device.id, signature)), id, req, now) {
        Ok(record) => Ok(MutationOutcome::Applied { server_seq: record.server_seq }),
        // A conflict when the record moved on (a newer version, or no longer awaiting review),
        // told from its state, not from the error; any other refusal (a missing comment, an
        // approval the site's status cannot take) is final for this decision, and the reviewer
        // may decide otherwise on the same version.
        Err(AppError::Api(e)) => {
            match tx.record(id)?.filter(|r| crate::domain::scope::can_read_record(actor, r)) {
                Some(row) if row.status != ReviewStatus::Submitted || row.current_version != req.version => {
                    Ok(conflict(tx, &row, e)?)
                }
                _ => Ok(rejected(e)),
            }
        }
        Err(other) => Err(other),
    }
}

fn conflict(tx: &mut dyn Tx, row: &RecordRow, error: ApiError) -> StoreResult<MutationOutcome> {
    let server = tx.version(&row.id, row.current_version)?.map(|i| Box::new(row.to_record(i)));
    Ok(MutationOutcome::Conflict { error, server })
}

#[allow(clippy::too_many_arguments)]
fn submit(
    tx: &mut dyn Tx,
    site: Option<Site>,
    checks: &mut Checks<'_>,
    actor: &Actor,
    device: &DeviceRow,
    i: &Inspection,
    signature: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<MutationOutcome> {
    // Out-of-scope sites answer exactly like missing ones.
    let site = match site {
        Some(s) => s,
        None => {
            return Ok(rejected(ApiError::new(ErrorCode::NotFound, "点位不存在").with_fields(vec![
                FieldError::new("site_id", ErrorCode::NotFound, "点位不存在或不在负责范围内"),
            ])));
        }
    };
    let errors = validate_against_site(i, &site);
    if !errors.is_empty() {
        return Ok(rejected(ApiError::validation(errors)));
    }
    // The version must be the one its device signed: nothing in between (a proxy, a bug, a
    // stolen token on another machine) can make a record the device did not. `signature` is
    // only passed on when it was verified against the device's key.
    if signature.is_none() {
        let why = if device.public_key.is_none() {
            "设备未登记签名公钥，请升级应用后重新同步"
        } else {
            "记录签名缺失或无法验证"
        };
        return Ok(rejected(ApiError::new(ErrorCode::SignatureInvalid, why)));
    }
    let existing = (&mut checks.reads(tx) as &mut dyn Lookups).record(&i.id)?;
    let mut row = match existing {
        None => {
            if i.version != 1 {
                return Ok(rejected(ApiError::new(ErrorCode::NotFound, "要替代的记录不存在").with_fields(
                    vec![FieldError::new("replaces_version", ErrorCode::NotFound, "服务器上没有该记录")],
                )));
            }
            None
        }
        Some(row) => {
            if row.submitted_by != actor.user.id {
                return Ok(rejected(ApiError::new(ErrorCode::NotFound, "记录不存在")));
            }
            if i.site_id != row.site_id {
                // A record stays about one site across its versions: approval, scope and
                // counters all follow the site it was first submitted for.
                return Ok(rejected(
                    ApiError::new(ErrorCode::Inconsistent, "新版本不能更换检查点位").with_fields(vec![
                        FieldError::new("site_id", ErrorCode::Inconsistent, "与之前版本的点位不同"),
                    ]),
                ));
            }
            if i.version == row.current_version {
                // The same content arriving under a new sequence number (a device that lost its
                // acknowledgement and re-queued) is already here: answer as applied.
                return match tx.version(&i.id, i.version)? {
                    Some(stored) if &stored == i => {
                        Ok(MutationOutcome::Applied { server_seq: row.change_seq })
                    }
                    _ => conflict(tx, &row, ApiError::new(ErrorCode::StaleVersion, "服务器上该版本内容不同")),
                };
            }
            if i.version != row.current_version + 1 {
                return conflict(tx, &row, ApiError::new(ErrorCode::StaleVersion, "版本号与服务器不一致"));
            }
            if let Err(e) = review::resubmit(row.status) {
                return conflict(tx, &row, ApiError::new(ErrorCode::IllegalTransition, e.to_string()));
            }
            Some(row)
        }
    };
    let hashes = i.blob_hashes();
    let mut missing = Vec::new();
    let mut wrong_size = Vec::new();
    for h in &hashes {
        match (&mut checks.reads(tx) as &mut dyn Lookups).blob_size(h)? {
            None => missing.push(h.clone()),
            Some(size) => {
                for (n, p) in i.photos.iter().enumerate() {
                    if &p.sha256 == h && p.bytes != size {
                        wrong_size.push(FieldError::new(
                            format!("photos[{n}].bytes"),
                            ErrorCode::Inconsistent,
                            format!("服务器上该照片为 {size} 字节"),
                        ));
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        return Ok(MutationOutcome::MissingBlobs { hashes: missing });
    }
    if !wrong_size.is_empty() {
        return Ok(rejected(ApiError::validation(wrong_size)));
    }
    if let Some(e) = crate::domain::documents::check_numbers(tx, i, &device.id)? {
        return Ok(rejected(e));
    }
    let seq = tx.next_change_seq()?;
    let action = match row.as_mut() {
        None => {
            tx.insert_record(&RecordRow {
                id: i.id,
                site_id: i.site_id,
                village: site.village,
                submitted_by: actor.user.id,
                device_id: device.id,
                current_version: i.version,
                status: ReviewStatus::Submitted,
                review: None,
                received_at: now,
                change_seq: seq,
                kind: i.kind(),
            })?;
            "submit"
        }
        Some(r) => {
            r.current_version = i.version;
            r.status = ReviewStatus::Submitted;
            r.received_at = now;
            r.change_seq = seq;
            r.device_id = device.id;
            // The reviewer's note stays on the record until the next review replaces it, so the
            // device keeps showing why the record was returned.
            tx.update_record(r)?;
            "resubmit"
        }
    };
    // Checked before the version is written, so it is written once, marked checked.
    let found = {
        evidence::check(
            &mut checks.reads(tx),
            checks.thresholds,
            &checks.clock,
            &actor.user.id,
            i,
            &site,
            now,
        )?
    };
    tx.insert_version(i, now, &device.id, signature)?;
    tx.append_feed(&crate::store::FeedRow {
        seq,
        village: site.village,
        kind: crate::store::FeedKind::Version,
        entity_id: i.id.to_string(),
        version: Some(i.version),
        at: now,
        data: None,
    })?;
    for h in &hashes {
        tx.link_blob(h, &i.id, i.version)?;
    }
    crate::domain::documents::record_numbers(tx, i, &device.id, &actor.user.id, now)?;
    evidence::store(tx, &found, &actor.user.id, i, &site, now)?;
    // Later submissions of this batch must see this one, as if it had been committed (its
    // record row always; its evidence rows when the checks look at other records).
    let mut links = Vec::new();
    if checks.thresholds.cross_record_checks {
        for h in &hashes {
            let fp = match checks.prep.answers.fingerprint(h) {
                Some(fp) => Some(fp),
                None => tx.fingerprint(h)?,
            };
            links.push((h.clone(), fp));
        }
    }
    checks.fresh.applied(
        i.id,
        i.version,
        found.visit.as_ref(),
        found.credentials.as_deref(),
        links,
        &found.originals,
    );
    let flags = found.flags;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: Some(device.id),
        action: action.into(),
        entity: "inspection".into(),
        entity_id: i.id.to_string(),
        detail: serde_json::json!({
            "version": i.version,
            "site_id": i.site_id,
            "kind": i.kind(),
            "photos": hashes.len(),
            "device_time": i.device_time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "flags": flags.iter().map(|f| f.kind()).collect::<Vec<_>>(),
        }),
    })?;
    Ok(MutationOutcome::Applied { server_seq: seq })
}
