//! Review mode: a township reviewer's tablet holds the township's records (pulled with the
//! review scope), their details and photos fetched while a link exists, and queues decisions in
//! the outbox like an inspector's submissions: frozen payload, `(device, seq)`, applied once.
//!
//! Invariants: a decision and its outbox entry are written in one transaction; a decision is
//! queued only against the version the tablet shows and only when the rules the server applies
//! already hold here (`shared::offline_review::check_decision`); the server's answer moves the
//! decision (synced, refused, conflict) in the transaction that closes the outbox entry.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use shared::console::RecordDetail;
use shared::flags::Flag;
use shared::ids::{InspectionId, MutationId};
use shared::offline_review::{
    DecisionRequest, DecisionState, LocalDecision, QueueCounts, QueueFilter, ReviewItem, check_decision,
};
use shared::review::{ReviewDecision, ReviewStatus};
use shared::sync::{InspectionRecord, Mutation, MutationOp, MutationOutcome};
use shared::{ApiError, ErrorCode};

use crate::core::{AppCore, OutboxEntry, keys};
use crate::error::{CoreError, CoreResult};
use crate::store::{meta_get, meta_set};

fn json_col<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn bad_col(what: &str, s: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("{what} {s}").into())
}

/// Keep the server's view of a record of the review scope, unless the tablet holds a newer one.
pub(crate) fn upsert_review_record(tx: &Transaction<'_>, rec: &InspectionRecord) -> CoreResult<()> {
    let received = rec.received_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO review_records (id, site_id, kind, status, version, received_at, data, server_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, kind = excluded.kind, status = excluded.status,
             version = excluded.version, received_at = excluded.received_at, data = excluded.data,
             server_seq = excluded.server_seq, unconfirmed = 0
         WHERE excluded.server_seq >= review_records.server_seq",
    )?
    .execute(params![
        rec.inspection.id.to_string(),
        rec.inspection.site_id.to_string(),
        rec.inspection.kind().as_str(),
        rec.status.as_str(),
        rec.inspection.version,
        received,
        serde_json::to_string(rec)?,
        rec.server_seq as i64
    ])?;
    Ok(())
}

/// The other record's photo of every reuse flag (the reviewer compares them side by side).
fn evidence_photos(d: &RecordDetail) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &d.flags {
        if let Flag::PhotoReuse { other_sha256, .. } = f
            && !out.contains(other_sha256)
        {
            out.push(other_sha256.clone());
        }
    }
    out
}

/// Photos that make a record reviewable offline: its current version's and the evidence
/// photos of its flags (size 0: unknown until fetched).
fn photos_of(record: &InspectionRecord, evidence: &[String]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> =
        record.inspection.photos.iter().map(|p| (p.sha256.clone(), p.bytes)).collect();
    for h in evidence {
        if !out.iter().any(|(x, _)| x == h) {
            out.push((h.clone(), 0));
        }
    }
    out
}

fn load_decision(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalDecision> {
    let decision: String = r.get(3)?;
    let state: String = r.get(5)?;
    Ok(LocalDecision {
        seq: r.get::<_, i64>(0)? as u64,
        record_id: InspectionId(
            uuid::Uuid::parse_str(&r.get::<_, String>(1)?)
                .map_err(|e| bad_col("record id", &e.to_string()))?,
        ),
        version: r.get(2)?,
        decision: ReviewDecision::parse(&decision).ok_or_else(|| bad_col("decision", &decision))?,
        comment: r.get(4)?,
        state: DecisionState::parse(&state).ok_or_else(|| bad_col("decision state", &state))?,
        error: r.get::<_, Option<String>>(6)?.map(json_col).transpose()?,
        server: r.get::<_, Option<String>>(7)?.map(json_col).transpose()?,
        decided_at: r.get(8)?,
    })
}

const DECISION_COLS: &str = "seq, record_id, version, decision, comment, state, error, server, decided_at";

/// The newest decision of this tablet on each record.
fn latest_decisions(c: &Connection) -> CoreResult<HashMap<InspectionId, LocalDecision>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {DECISION_COLS} FROM review_decisions d
         WHERE seq = (SELECT MAX(seq) FROM review_decisions e WHERE e.record_id = d.record_id)"
    ))?;
    let rows = st.query_map([], load_decision)?;
    let mut out = HashMap::new();
    for d in rows {
        let d = d?;
        out.insert(d.record_id, d);
    }
    Ok(out)
}

struct Row {
    record: InspectionRecord,
    evidence: Vec<String>,
    detail_ready: bool,
    flags: u32,
    site_name: String,
    village: String,
}

/// Rows of the local queue: one record (`id`), the submitted ones (`submitted_only`), or all.
fn load_rows(c: &Connection, id: Option<&InspectionId>, submitted_only: bool) -> CoreResult<Vec<Row>> {
    let sql = "SELECT r.data, r.evidence, r.detail_seq = r.server_seq, r.flags, COALESCE(s.name, ''), COALESCE(s.village, '')
               FROM review_records r LEFT JOIN sites s ON s.id = r.site_id
               WHERE (?1 IS NULL OR r.id = ?1) AND (?2 = 0 OR r.status = 'submitted')
               ORDER BY r.received_at, r.id";
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params![id.map(|i| i.to_string()), submitted_only], |r| {
        Ok(Row {
            record: json_col(r.get(0)?)?,
            evidence: json_col(r.get(1)?)?,
            detail_ready: r.get::<_, Option<bool>>(2)?.unwrap_or(false),
            flags: r.get(3)?,
            site_name: r.get(4)?,
            village: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl AppCore {
    /// This tablet is a reviewer's: the logged-in user reviews rather than inspects.
    pub fn review_mode(&self) -> CoreResult<bool> {
        use shared::auth::Role;
        Ok(self.user()?.is_some_and(|u| matches!(u.role, Role::TownshipReviewer | Role::ProvinceAdmin)))
    }

    fn item_of(&self, row: Row, decisions: &HashMap<InspectionId, LocalDecision>) -> CoreResult<ReviewItem> {
        let photos = photos_of(&row.record, &row.evidence);
        // A hash the server sent malformed is simply not on the tablet.
        let local =
            photos.iter().filter(|(h, _)| self.photo_path(h).is_ok_and(|p| p.exists())).count() as u32;
        Ok(ReviewItem {
            decision: decisions.get(&row.record.inspection.id).cloned(),
            record: row.record,
            site_name: row.site_name,
            village: row.village,
            photos: photos.len() as u32,
            photos_local: local,
            detail_ready: row.detail_ready,
            flags: row.flags,
        })
    }

    /// The local queue under a filter, oldest submission first.
    pub fn review_items(&self, filter: &QueueFilter, limit: u32) -> CoreResult<Vec<ReviewItem>> {
        let submitted_only = filter.view == shared::offline_review::QueueView::Pending;
        let (rows, decisions) =
            self.store.read(|c| Ok((load_rows(c, None, submitted_only)?, latest_decisions(c)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let item = self.item_of(row, &decisions)?;
            if filter.matches(&item) {
                out.push(item);
                if out.len() >= limit as usize {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The home screen's counts, cheap enough for every status refresh: only submitted records
    /// are read (and their photos looked for); the rest is the decisions table.
    pub fn review_counts(&self) -> CoreResult<QueueCounts> {
        let (rows, decisions) = self.store.read(|c| Ok((load_rows(c, None, true)?, latest_decisions(c)?)))?;
        let mut counts = QueueCounts::default();
        for row in rows {
            let item = self.item_of(row, &decisions)?;
            if item.awaits_decision() {
                counts.pending += 1;
                counts.ready += u32::from(item.ready_offline());
            }
        }
        for d in decisions.values() {
            match d.state {
                DecisionState::Queued => counts.queued += 1,
                DecisionState::Conflict => counts.conflicts += 1,
                DecisionState::Refused => counts.refused += 1,
                DecisionState::Synced | DecisionState::Dropped => {}
            }
        }
        Ok(counts)
    }

    pub fn review_item(&self, id: &InspectionId) -> CoreResult<ReviewItem> {
        let (rows, decisions) =
            self.store.read(|c| Ok((load_rows(c, Some(id), false)?, latest_decisions(c)?)))?;
        let row = rows.into_iter().next().ok_or_else(|| CoreError::not_found("记录"))?;
        self.item_of(row, &decisions)
    }

    /// The record's detail as last fetched (every version, history, flags), if it was.
    pub fn review_detail(&self, id: &InspectionId) -> CoreResult<Option<RecordDetail>> {
        self.store.read(|c| {
            let detail: Option<Option<String>> = c
                .prepare_cached("SELECT detail FROM review_records WHERE id = ?1")?
                .query_row([id.to_string()], |r| r.get(0))
                .optional()?;
            Ok(detail.flatten().map(|d| serde_json::from_str(&d)).transpose()?)
        })
    }

    /// One record for the review screen: the item, its detail if fetched, this tablet's decisions.
    pub fn review_record(&self, id: &InspectionId) -> CoreResult<shared::offline_review::ReviewRecordView> {
        let item = self.review_item(id)?;
        Ok(shared::offline_review::ReviewRecordView {
            site: self.site(&item.record.inspection.site_id)?,
            item,
            detail: self.review_detail(id)?,
            decisions: self.decisions_on(id)?,
        })
    }

    /// Every decision this tablet made, oldest first.
    pub fn all_decisions(&self) -> CoreResult<Vec<LocalDecision>> {
        self.store.read(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {DECISION_COLS} FROM review_decisions ORDER BY seq"))?;
            let rows = st.query_map([], load_decision)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Every decision this tablet made on a record, oldest first.
    pub fn decisions_on(&self, id: &InspectionId) -> CoreResult<Vec<LocalDecision>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {DECISION_COLS} FROM review_decisions WHERE record_id = ?1 ORDER BY seq"
            ))?;
            let rows = st.query_map([id.to_string()], load_decision)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Queue one or many decisions, all or none: each is checked against the record as the
    /// tablet holds it, then each gets its outbox entry and its decision row in one transaction.
    pub fn decide(&self, reqs: &[DecisionRequest]) -> CoreResult<Vec<LocalDecision>> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        if !self.review_mode()? {
            return Err(CoreError::new(ErrorCode::Forbidden, "只有审核人员可以审核记录"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = reqs.iter().find(|r| !seen.insert(r.record_id)) {
            return Err(CoreError::new(
                ErrorCode::Inconsistent,
                format!("记录 {} 出现了两次", dup.record_id),
            ));
        }
        let now = self.now_rfc3339();
        let key = self.key_for_signing()?;
        let seqs = self.store.write(|tx| {
            let decisions = latest_decisions(tx)?;
            let mut seq: u64 = meta_get(tx, keys::NEXT_SEQ)?.and_then(|s| s.parse().ok()).unwrap_or(1);
            let mut seqs = Vec::with_capacity(reqs.len());
            for req in reqs {
                let row = load_rows(tx, Some(&req.record_id), false)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| CoreError::not_found("记录"))?;
                let item = self.item_of(row, &decisions)?;
                check_decision(&item, req).map_err(|e| {
                    let mut e = e;
                    e.message = format!("{}：{}", item.site_name, e.message);
                    CoreError(e)
                })?;
                let comment = req.comment.trim().to_string();
                let signature =
                    crate::signing::sign_review_with(&key, &req.record_id, req.version, req.decision, &comment);
                let mutation = Mutation {
                    seq,
                    mutation_id: MutationId::new(),
                    op: MutationOp::Review {
                        record_id: req.record_id,
                        version: req.version,
                        decision: req.decision,
                        comment: comment.clone(),
                        signature: Some(signature),
                    },
                };
                tx.execute(
                    "INSERT INTO outbox (seq, mutation_id, kind, record_id, version, payload, state, created_at)
                     VALUES (?1, ?2, 'review', ?3, ?4, ?5, 'pending', ?6)",
                    params![
                        seq as i64,
                        mutation.mutation_id.to_string(),
                        req.record_id.to_string(),
                        req.version,
                        serde_json::to_string(&mutation)?,
                        now
                    ],
                )?;
                self.store.step()?;
                tx.execute(
                    "INSERT INTO review_decisions (seq, record_id, version, decision, comment, state, decided_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6)",
                    params![seq as i64, req.record_id.to_string(), req.version, req.decision.as_str(), comment, now],
                )?;
                self.store.step()?;
                seqs.push(seq);
                seq += 1;
            }
            meta_set(tx, keys::NEXT_SEQ, &seq.to_string())?;
            self.store.step()?;
            Ok(seqs)
        })?;
        self.store.read(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {DECISION_COLS} FROM review_decisions WHERE seq = ?1"))?;
            let mut out = Vec::with_capacity(seqs.len());
            for s in seqs {
                out.push(st.query_row([s as i64], load_decision)?);
            }
            Ok(out)
        })
    }

    /// Let a conflicting or refused decision go: the record is shown as the server holds it.
    pub fn drop_decision(&self, seq: u64) -> CoreResult<LocalDecision> {
        let now = self.now_rfc3339();
        self.store.write(|tx| {
            let d = tx
                .prepare_cached(&format!("SELECT {DECISION_COLS} FROM review_decisions WHERE seq = ?1"))?
                .query_row([seq as i64], load_decision)
                .optional()?
                .ok_or_else(|| CoreError::not_found("审核决定"))?;
            if !matches!(d.state, DecisionState::Conflict | DecisionState::Refused) {
                return Err(CoreError::new(
                    ErrorCode::IllegalTransition,
                    format!("决定处于“{}”状态，不能放弃", d.state.label_zh()),
                ));
            }
            tx.execute(
                "UPDATE review_decisions SET state = 'dropped', updated_at = ?2 WHERE seq = ?1",
                params![seq as i64, now],
            )?;
            Ok(LocalDecision { state: DecisionState::Dropped, ..d })
        })
    }

    /// The server answered a queued decision: it leaves the outbox and the decision moves, in
    /// one transaction. A conflict brings the record as the server holds it.
    pub(crate) fn finish_decision(&self, e: &OutboxEntry, outcome: &MutationOutcome) -> CoreResult<()> {
        let (state, error, server): (DecisionState, Option<&ApiError>, Option<&InspectionRecord>) =
            match outcome {
                MutationOutcome::Applied { .. } => (DecisionState::Synced, None, None),
                MutationOutcome::Rejected { error } => (DecisionState::Refused, Some(error), None),
                MutationOutcome::Conflict { error, server } => {
                    (DecisionState::Conflict, Some(error), server.as_deref())
                }
                MutationOutcome::MissingBlobs { .. } | MutationOutcome::Gap { .. } => return Ok(()),
            };
        let now = self.now_rfc3339();
        self.store.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'done', result = ?2, done_at = ?3 WHERE seq = ?1",
                params![e.seq as i64, serde_json::to_string(outcome)?, now],
            )?;
            // A dropped decision is answered only when a server restored from an older backup
            // got its entry again and applied it: the tablet then shows what the server did.
            tx.execute(
                "UPDATE review_decisions SET state = ?2, error = ?3, server = ?4, updated_at = ?5
                 WHERE seq = ?1 AND (state = 'queued' OR (state = 'dropped' AND ?2 = 'synced'))",
                params![
                    e.seq as i64,
                    state.as_str(),
                    error.map(serde_json::to_string).transpose()?,
                    server.map(serde_json::to_string).transpose()?,
                    now
                ],
            )?;
            if let Some(rec) = server {
                upsert_review_record(tx, rec)?;
            }
            Ok(())
        })
    }

    // ---- what a link is used for -------------------------------------------------------

    /// Records whose detail should be fetched: submitted ones whose detail is missing or older
    /// than the change the tablet holds.
    pub fn details_wanted(&self, limit: u32) -> CoreResult<Vec<InspectionId>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id FROM review_records WHERE status = 'submitted' AND (detail_seq IS NULL OR detail_seq <> server_seq)
                 ORDER BY received_at, id LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for s in rows {
                let s = s?;
                out.push(InspectionId(uuid::Uuid::parse_str(&s).map_err(|e| bad_col("record id", &e.to_string()))?));
            }
            Ok(out)
        })
    }

    /// Keep a fetched detail; the record row follows it when it is newer.
    pub fn store_detail(&self, d: &RecordDetail) -> CoreResult<()> {
        self.store.write(|tx| {
            upsert_review_record(tx, &d.record)?;
            tx.execute(
                "UPDATE review_records SET detail = ?2, detail_seq = ?3, flags = ?4, evidence = ?5
                 WHERE id = ?1 AND server_seq = ?3",
                params![
                    d.record.inspection.id.to_string(),
                    serde_json::to_string(d)?,
                    d.record.server_seq as i64,
                    d.flags.len() as i64,
                    serde_json::to_string(&evidence_photos(d))?
                ],
            )?;
            Ok(())
        })
    }

    /// Photos the queue needs that are not on the tablet, smallest first (size 0 when unknown,
    /// such as another record's photo named by a flag).
    pub fn photos_wanted(&self) -> CoreResult<Vec<(String, u64)>> {
        let rows = self.store.read(|c| load_rows(c, None, true))?;
        let mut want: Vec<(String, u64)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in rows.iter().filter(|r| r.record.status == ReviewStatus::Submitted) {
            for (h, bytes) in photos_of(&row.record, &row.evidence) {
                if seen.insert(h.clone()) && self.photo_path(&h).is_ok_and(|p| !p.exists()) {
                    want.push((h, bytes));
                }
            }
        }
        want.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(want)
    }

    /// Keep a photo fetched for review, after checking it is the one named.
    pub fn keep_fetched_photo(&self, sha256: &str, bytes: &[u8]) -> CoreResult<()> {
        let path = self.photo_path(sha256)?;
        if hex::encode(Sha256::digest(bytes)) != sha256 {
            return Err(CoreError::new(ErrorCode::HashMismatch, "下载的照片与其标识不符"));
        }
        crate::core::write_synced(&path, bytes)
    }
}
