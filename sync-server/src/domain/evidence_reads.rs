//! The reads the evidence checks make, answered three ways, so that a push can run its checks
//! twice without doing its reads twice inside the single writer:
//!
//! - [`Direct`]: a transaction answers (tools, benches, and any question not asked before);
//! - [`Recorder`]: the push's read phase, on a snapshot outside the write transaction,
//!   remembering every answer in [`Answers`];
//! - [`Replayer`]: the push's write phase. Each remembered answer is corrected by [`Fresh`]:
//!   the rows of records changed since the snapshot (committed by other pushes and reviews,
//!   fetched in a few set-based statements by `Tx::evidence_since`: most of them on a second
//!   snapshot while other pushes hold the writer, the rest inside it, see [`Fresh::catch_up`])
//!   and of the records this batch has applied so far. When a remembered answer names a
//!   record that changed since (its row may have moved, so a row the snapshot ranked second
//!   might now be first), or when the question was never asked, the write transaction answers
//!   instead. So the checks see exactly
//!   what they would have seen had they run entirely inside the write transaction.
//!
//! Why merging is exact: every evidence row belongs to one record and is written in the
//! transaction that gives the record a new change sequence, and change sequences are handed
//! out in commit order. A row missing from the snapshot, or changed since, therefore belongs to
//! a record whose change sequence is above the snapshot's, which `evidence_since` returns. Blob
//! links and claimed originals are only ever added; a blob's fingerprint is written with the
//! blob, before any record can name it.

use std::collections::{BTreeSet, HashMap, HashSet};

use shared::ids::{InspectionId, UserId};

use crate::fingerprint;
use crate::store::{
    CredentialVisit, EvidenceAnswer as A, EvidenceDelta, EvidenceQuestion as Q, RecordRow, StoreError,
    StoreResult, Tx, Visit,
};

/// The reads of a push's checks: one question, one answer (typed helpers on `dyn Lookups`).
pub trait Lookups {
    fn ask(&mut self, q: &Q) -> StoreResult<A>;
    /// The transaction, for the reads made only when a flag is raised (names, versions).
    fn tx(&mut self) -> &mut dyn Tx;
}

fn shape(q: &Q, a: A) -> StoreError {
    StoreError::Corrupt(format!("{q:?} answered {a:?}"))
}

impl dyn Lookups + '_ {
    pub fn record(&mut self, id: &InspectionId) -> StoreResult<Option<RecordRow>> {
        let q = Q::Record(*id);
        match self.ask(&q)? {
            A::Record(r) => Ok(r.map(|r| *r)),
            a => Err(shape(&q, a)),
        }
    }
    pub fn blob_size(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        let q = Q::BlobSize(sha256.to_string());
        match self.ask(&q)? {
            A::BlobSize(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    /// The user's visit with the latest time at or before `at_ms`, other than `exclude`.
    pub fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let q = Q::VisitBefore(*user, at_ms, *exclude);
        match self.ask(&q)? {
            A::Visit(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    /// The user's visit with the earliest time at or after `at_ms`, other than `exclude`.
    pub fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let q = Q::VisitAfter(*user, at_ms, *exclude);
        match self.ask(&q)? {
            A::Visit(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        let q = Q::VisitsAt(position_key.to_string(), limit);
        match self.ask(&q)? {
            A::Visits(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        let q = Q::Credentials(credential_no.to_string(), started_ms, ended_ms);
        match self.ask(&q)? {
            A::Credentials(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        let q = Q::NamingBlob(sha256.to_string());
        match self.ask(&q)? {
            A::Records(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        let q = Q::Originals(original.to_string());
        match self.ask(&q)? {
            A::Originals(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        let q = Q::Fingerprint(sha256.to_string());
        match self.ask(&q)? {
            A::Fingerprint(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
    pub fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        let q = Q::Near(fp, max);
        match self.ask(&q)? {
            A::Near(v) => Ok(v),
            a => Err(shape(&q, a)),
        }
    }
}

/// A transaction answering directly.
pub struct Direct<'a>(pub &'a mut dyn Tx);

impl Lookups for Direct<'_> {
    fn ask(&mut self, q: &Q) -> StoreResult<A> {
        let q = std::slice::from_ref(q);
        self.0
            .evidence_lookups(q)?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a look-up went unanswered".into()))
    }
    fn tx(&mut self) -> &mut dyn Tx {
        self.0
    }
}

/// Answers a snapshot gave, by question.
#[derive(Debug, Default)]
pub struct Answers(HashMap<Q, A>);

impl Answers {
    /// Keeps the answer to a question asked ahead.
    pub fn keep(&mut self, q: Q, a: A) {
        self.0.insert(q, a);
    }

    pub fn get(&self, q: &Q) -> Option<&A> {
        self.0.get(q)
    }

    /// A fingerprint the snapshot had.
    pub fn fingerprint(&self, sha256: &str) -> Option<u64> {
        match self.0.get(&Q::Fingerprint(sha256.to_string())) {
            Some(A::Fingerprint(fp)) => *fp,
            _ => None,
        }
    }
}

/// A snapshot answering and remembering; what was asked ahead is answered from memory.
pub struct Recorder<'a> {
    pub tx: &'a mut dyn Tx,
    pub answers: &'a mut Answers,
}

impl Lookups for Recorder<'_> {
    fn ask(&mut self, q: &Q) -> StoreResult<A> {
        if let Some(a) = self.answers.get(q) {
            return Ok(a.clone());
        }
        let a = Direct(&mut *self.tx).ask(q)?;
        self.answers.keep(q.clone(), a.clone());
        Ok(a)
    }
    fn tx(&mut self) -> &mut dyn Tx {
        self.tx
    }
}

/// Evidence rows newer than a snapshot: those of records changed since it, then those of each
/// record the batch applies.
#[derive(Debug, Default)]
pub struct Fresh {
    /// Records whose rows may differ from the snapshot's.
    touched: HashSet<InspectionId>,
    visits: HashMap<InspectionId, Visit>,
    /// Each user's fresh visits in time order: one inspector's other tablets can add hundreds
    /// per batch, and each submission asks for its two neighbours in time.
    by_user: HashMap<UserId, BTreeSet<(i64, InspectionId)>>,
    by_key: HashMap<String, HashSet<InspectionId>>,
    credential_visits: HashMap<InspectionId, Vec<CredentialVisit>>,
    /// Records naming each blob, and the fingerprints of the blobs named.
    naming: HashMap<String, Vec<InspectionId>>,
    fingerprints: HashMap<String, u64>,
    originals: HashMap<String, Vec<(InspectionId, u32, usize)>>,
}

impl Fresh {
    pub fn from_delta(d: EvidenceDelta) -> Self {
        let mut f = Fresh::default();
        f.catch_up(d);
        f
    }

    /// Brings these rows up to a later delta: `d` holds every row of each record it names, so
    /// those records' visits and credentials are replaced (a later version may have none);
    /// links and claimed originals are only ever added. So a push can fetch most of what
    /// committed since its snapshot before it waits for the writer, and only the rest inside.
    pub fn catch_up(&mut self, d: EvidenceDelta) {
        for record in d.records {
            if let Some(old) = self.visits.remove(&record) {
                self.unindex_visit(&old);
            }
            self.credential_visits.remove(&record);
            self.touched.insert(record);
        }
        for v in d.visits {
            self.put_visit(v);
        }
        for c in d.credential_visits {
            self.credential_visits.entry(c.record_id).or_default().push(c);
        }
        self.add_links(d.links);
        for (original, record, version, n) in d.originals {
            let known = self.originals.entry(original).or_default();
            if !known.contains(&(record, version, n)) {
                known.push((record, version, n));
            }
        }
    }

    fn add_links(&mut self, links: impl IntoIterator<Item = (String, InspectionId, Option<u64>)>) {
        for (sha, record, fp) in links {
            if let Some(fp) = fp {
                self.fingerprints.insert(sha.clone(), fp);
            }
            let named = self.naming.entry(sha).or_default();
            if !named.contains(&record) {
                named.push(record);
            }
        }
    }

    /// Whether the record changed since the snapshot (or in this batch).
    pub fn touched(&self, record: &InspectionId) -> bool {
        self.touched.contains(record)
    }

    fn unindex_visit(&mut self, old: &Visit) {
        if let Some(s) = self.by_user.get_mut(&old.user_id) {
            s.remove(&(old.at_ms, old.record_id));
        }
        if let Some(k) = &old.position_key
            && let Some(s) = self.by_key.get_mut(k)
        {
            s.remove(&old.record_id);
        }
    }

    fn put_visit(&mut self, v: Visit) {
        let record = v.record_id;
        if let Some(old) = self.visits.remove(&record) {
            self.unindex_visit(&old);
        }
        self.by_user.entry(v.user_id).or_default().insert((v.at_ms, record));
        if let Some(k) = &v.position_key {
            self.by_key.entry(k.clone()).or_default().insert(record);
        }
        self.visits.insert(record, v);
    }

    /// What the batch just wrote for version `version` of `record`.
    pub fn applied(
        &mut self,
        record: InspectionId,
        version: u32,
        visit: Option<&Visit>,
        credentials: Option<&[CredentialVisit]>,
        links: impl IntoIterator<Item = (String, Option<u64>)>,
        originals: &[(String, usize)],
    ) {
        self.touched.insert(record);
        if let Some(v) = visit {
            self.put_visit(v.clone());
        }
        if let Some(c) = credentials {
            // One row per credential and record, the last one written winning, as the stores
            // keep them (two officers of one record may be given the same number).
            let mut rows: Vec<CredentialVisit> = Vec::with_capacity(c.len());
            for v in c {
                rows.retain(|r| r.credential_no != v.credential_no);
                rows.push(v.clone());
            }
            self.credential_visits.insert(record, rows);
        }
        self.add_links(links.into_iter().map(|(sha, fp)| (sha, record, fp)));
        for (original, n) in originals {
            self.originals.entry(original.clone()).or_default().push((record, version, *n));
        }
    }

    /// The user's latest fresh visit at or before `at_ms` (`later` false) or earliest at or
    /// after it (`later` true), other than `exclude`.
    fn neighbour(&self, user: &UserId, at_ms: i64, exclude: &InspectionId, later: bool) -> Option<&Visit> {
        let times = self.by_user.get(user)?;
        let lo = (at_ms, InspectionId(uuid::Uuid::nil()));
        let hi = (at_ms, InspectionId(uuid::Uuid::max()));
        let mut found: Box<dyn Iterator<Item = &(i64, InspectionId)>> =
            if later { Box::new(times.range(lo..)) } else { Box::new(times.range(..=hi).rev()) };
        found.find(|(_, r)| r != exclude).and_then(|(_, r)| self.visits.get(r))
    }
}

/// The write transaction answering from remembered answers corrected by what is fresh.
pub struct Replayer<'a> {
    pub tx: &'a mut dyn Tx,
    pub answers: &'a Answers,
    pub fresh: &'a Fresh,
}

impl Replayer<'_> {
    /// The snapshot's answer corrected by what is fresh, or `None` when only the write
    /// transaction can answer: never asked, or naming a record that changed since.
    fn corrected(&self, q: &Q) -> Option<A> {
        let touched = |r: &InspectionId| self.fresh.touched(r);
        let f = self.fresh;
        Some(match (q, self.answers.get(q)?) {
            (Q::Record(id), A::Record(row)) if !touched(id) => A::Record(row.clone()),
            // Blobs are never removed or changed; one missing from the snapshot may have arrived.
            (Q::BlobSize(_), A::BlobSize(Some(size))) => A::BlobSize(Some(*size)),
            (Q::VisitBefore(user, at_ms, exclude), A::Visit(known)) => {
                if known.as_ref().is_some_and(|v| touched(&v.record_id)) {
                    return None;
                }
                let fresh = f.neighbour(user, *at_ms, exclude, false);
                A::Visit(known.iter().chain(fresh).max_by_key(|v| v.at_ms).cloned())
            }
            (Q::VisitAfter(user, at_ms, exclude), A::Visit(known)) => {
                if known.as_ref().is_some_and(|v| touched(&v.record_id)) {
                    return None;
                }
                let fresh = f.neighbour(user, *at_ms, exclude, true);
                A::Visit(known.iter().chain(fresh).min_by_key(|v| v.at_ms).cloned())
            }
            (Q::VisitsAt(key, limit), A::Visits(known)) => {
                if known.iter().any(|v| touched(&v.record_id)) {
                    return None;
                }
                let fresh = f.by_key.get(key).into_iter().flatten().filter_map(|r| f.visits.get(r));
                A::Visits(known.iter().chain(fresh).take(*limit as usize).cloned().collect())
            }
            (Q::Credentials(credential_no, started_ms, ended_ms), A::Credentials(known)) => {
                if known.iter().any(|v| touched(&v.record_id)) {
                    return None;
                }
                // The same condition as the backends' query.
                let overlaps = |c: &&CredentialVisit| {
                    c.credential_no == *credential_no
                        && c.started_ms <= *ended_ms
                        && c.started_ms >= ended_ms - 86_400_000
                        && c.ended_ms >= *started_ms
                };
                let fresh = f.credential_visits.values().flatten().filter(overlaps);
                A::Credentials(known.iter().chain(fresh).cloned().collect())
            }
            // Links and claimed originals are only ever added.
            (Q::NamingBlob(sha256), A::Records(known)) => {
                let mut ids = known.clone();
                for record in f.naming.get(sha256).into_iter().flatten() {
                    if !ids.contains(record) {
                        ids.push(*record);
                    }
                }
                A::Records(ids)
            }
            (Q::Originals(original), A::Originals(known)) => {
                let mut all = known.clone();
                for o in f.originals.get(original).into_iter().flatten() {
                    if !all.contains(o) {
                        all.push(*o);
                    }
                }
                A::Originals(all)
            }
            (Q::Fingerprint(_), A::Fingerprint(Some(fp))) => A::Fingerprint(Some(*fp)),
            (Q::Near(fp, max), A::Near(known)) => {
                let mut all = known.clone();
                for (sha, other) in &f.fingerprints {
                    if fingerprint::distance(*fp, *other) <= *max && !all.iter().any(|(s, _)| s == sha) {
                        all.push((sha.clone(), *other));
                    }
                }
                A::Near(all)
            }
            _ => return None,
        })
    }
}

impl Lookups for Replayer<'_> {
    fn ask(&mut self, q: &Q) -> StoreResult<A> {
        match self.corrected(q) {
            Some(a) => Ok(a),
            None => Direct(&mut *self.tx).ask(q),
        }
    }
    fn tx(&mut self) -> &mut dyn Tx {
        self.tx
    }
}
