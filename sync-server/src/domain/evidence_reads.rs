//! The reads the evidence checks make, answered three ways, so that a push can run its checks
//! twice without doing its reads twice inside the single writer:
//!
//! - [`Direct`]: a transaction answers (tools, benches, and any question not asked before);
//! - [`Recorder`]: the push's read phase, on a snapshot outside the write transaction,
//!   remembering every answer in [`Answers`];
//! - [`Replayer`]: the push's write phase. Each remembered answer is corrected by [`Fresh`]:
//!   the rows of records changed since the snapshot (committed by other pushes and reviews,
//!   fetched in a few set-based statements by `Tx::evidence_since`) and of the records this
//!   batch has applied so far. When a remembered answer names a record that changed since (its
//!   row may have moved, so a row the snapshot ranked second might now be first), or when the
//!   question was never asked, the write transaction answers instead. So the checks see exactly
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
    CredentialVisit, EvidenceAnswer, EvidenceDelta, EvidenceQuestion, StoreResult, Tx, Visit,
};

/// The reads of the evidence checks (the hot ones; anything else goes to [`Lookups::tx`]).
pub trait Lookups {
    /// The user's visit with the latest time at or before `at_ms`, other than `exclude`.
    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>>;
    /// The user's visit with the earliest time at or after `at_ms`, other than `exclude`.
    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>>;
    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>>;
    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>>;
    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>>;
    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>>;
    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>>;
    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>>;
    /// The transaction, for the reads made only when a flag is raised (names, versions).
    fn tx(&mut self) -> &mut dyn Tx;
}

/// A transaction answering directly.
pub struct Direct<'a>(pub &'a mut dyn Tx);

impl Lookups for Direct<'_> {
    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        self.0.visit_before(user, at_ms, exclude)
    }
    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        self.0.visit_after(user, at_ms, exclude)
    }
    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        self.0.visits_at(position_key, limit)
    }
    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        self.0.credential_visits_overlapping(credential_no, started_ms, ended_ms)
    }
    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        Ok(self.0.records_naming_blob(sha256)?.into_iter().map(|r| r.id).collect())
    }
    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        self.0.photo_originals(original)
    }
    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        self.0.fingerprint(sha256)
    }
    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        self.0.near_fingerprints(fp, max)
    }
    fn tx(&mut self) -> &mut dyn Tx {
        self.0
    }
}

type VisitQuery = (UserId, i64, InspectionId);

/// Answers a snapshot gave, by question.
#[derive(Debug, Default)]
pub struct Answers {
    before: HashMap<VisitQuery, Option<Visit>>,
    after: HashMap<VisitQuery, Option<Visit>>,
    at: HashMap<(String, u32), Vec<Visit>>,
    credentials: HashMap<(String, i64, i64), Vec<CredentialVisit>>,
    naming: HashMap<String, Vec<InspectionId>>,
    originals: HashMap<String, Vec<(InspectionId, u32, usize)>>,
    /// Only fingerprints found: a missing one is asked again.
    fingerprints: HashMap<String, u64>,
    near: HashMap<(u64, u32), Vec<(String, u64)>>,
}

impl Answers {
    /// Keeps the answer to a question asked ahead; an answer of the wrong shape is dropped
    /// (the question is then asked again when needed).
    pub fn keep(&mut self, q: &EvidenceQuestion, a: EvidenceAnswer) {
        match (q, a) {
            (EvidenceQuestion::VisitBefore(u, at, ex), EvidenceAnswer::Visit(v)) => {
                self.before.insert((*u, *at, *ex), v);
            }
            (EvidenceQuestion::VisitAfter(u, at, ex), EvidenceAnswer::Visit(v)) => {
                self.after.insert((*u, *at, *ex), v);
            }
            (EvidenceQuestion::VisitsAt(k, limit), EvidenceAnswer::Visits(v)) => {
                self.at.insert((k.clone(), *limit), v);
            }
            (EvidenceQuestion::Credentials(c, st, en), EvidenceAnswer::Credentials(v)) => {
                self.credentials.insert((c.clone(), *st, *en), v);
            }
            (EvidenceQuestion::NamingBlob(sha), EvidenceAnswer::Records(v)) => {
                self.naming.insert(sha.clone(), v);
            }
            (EvidenceQuestion::Originals(o), EvidenceAnswer::Originals(v)) => {
                self.originals.insert(o.clone(), v);
            }
            (EvidenceQuestion::Fingerprint(sha), EvidenceAnswer::Fingerprint(Some(fp))) => {
                self.fingerprints.insert(sha.clone(), fp);
            }
            (EvidenceQuestion::Near(fp, max), EvidenceAnswer::Near(v)) => {
                self.near.insert((*fp, *max), v);
            }
            // Kept by the push itself (its record rows and blob sizes).
            _ => {}
        }
    }

    /// A fingerprint the snapshot had.
    pub fn fingerprint(&self, sha256: &str) -> Option<u64> {
        self.fingerprints.get(sha256).copied()
    }
}

/// A snapshot answering and remembering; what was asked ahead (`Answers::keep`) is answered
/// from memory.
pub struct Recorder<'a> {
    pub tx: &'a mut dyn Tx,
    pub answers: &'a mut Answers,
}

impl Lookups for Recorder<'_> {
    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        if let Some(v) = self.answers.before.get(&(*user, at_ms, *exclude)) {
            return Ok(v.clone());
        }
        let v = self.tx.visit_before(user, at_ms, exclude)?;
        self.answers.before.insert((*user, at_ms, *exclude), v.clone());
        Ok(v)
    }
    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        if let Some(v) = self.answers.after.get(&(*user, at_ms, *exclude)) {
            return Ok(v.clone());
        }
        let v = self.tx.visit_after(user, at_ms, exclude)?;
        self.answers.after.insert((*user, at_ms, *exclude), v.clone());
        Ok(v)
    }
    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        if let Some(v) = self.answers.at.get(&(position_key.to_string(), limit)) {
            return Ok(v.clone());
        }
        let v = self.tx.visits_at(position_key, limit)?;
        self.answers.at.insert((position_key.to_string(), limit), v.clone());
        Ok(v)
    }
    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        if let Some(v) = self.answers.credentials.get(&(credential_no.to_string(), started_ms, ended_ms)) {
            return Ok(v.clone());
        }
        let v = self.tx.credential_visits_overlapping(credential_no, started_ms, ended_ms)?;
        self.answers.credentials.insert((credential_no.to_string(), started_ms, ended_ms), v.clone());
        Ok(v)
    }
    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        if let Some(v) = self.answers.naming.get(sha256) {
            return Ok(v.clone());
        }
        let v: Vec<InspectionId> = self.tx.records_naming_blob(sha256)?.into_iter().map(|r| r.id).collect();
        self.answers.naming.insert(sha256.to_string(), v.clone());
        Ok(v)
    }
    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        if let Some(v) = self.answers.originals.get(original) {
            return Ok(v.clone());
        }
        let v = self.tx.photo_originals(original)?;
        self.answers.originals.insert(original.to_string(), v.clone());
        Ok(v)
    }
    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        if let Some(fp) = self.answers.fingerprint(sha256) {
            return Ok(Some(fp));
        }
        let v = self.tx.fingerprint(sha256)?;
        if let Some(fp) = v {
            self.answers.fingerprints.insert(sha256.to_string(), fp);
        }
        Ok(v)
    }
    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        if let Some(v) = self.answers.near.get(&(fp, max)) {
            return Ok(v.clone());
        }
        let v = self.tx.near_fingerprints(fp, max)?;
        self.answers.near.insert((fp, max), v.clone());
        Ok(v)
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
        let mut f = Fresh { touched: d.records.into_iter().collect(), ..Fresh::default() };
        for v in d.visits {
            f.put_visit(v);
        }
        for c in d.credential_visits {
            f.credential_visits.entry(c.record_id).or_default().push(c);
        }
        f.add_links(d.links);
        for (original, record, version, n) in d.originals {
            f.originals.entry(original).or_default().push((record, version, n));
        }
        f
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

    fn put_visit(&mut self, v: Visit) {
        let record = v.record_id;
        if let Some(old) = self.visits.remove(&record) {
            if let Some(s) = self.by_user.get_mut(&old.user_id) {
                s.remove(&(old.at_ms, record));
            }
            if let Some(k) = &old.position_key
                && let Some(s) = self.by_key.get_mut(k)
            {
                s.remove(&record);
            }
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
            self.credential_visits.insert(record, c.to_vec());
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
    fn stale(&self, v: &Option<Visit>) -> bool {
        v.as_ref().is_some_and(|v| self.fresh.touched(&v.record_id))
    }
}

impl Lookups for Replayer<'_> {
    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let Some(known) = self.answers.before.get(&(*user, at_ms, *exclude)).filter(|v| !self.stale(v))
        else {
            return self.tx.visit_before(user, at_ms, exclude);
        };
        Ok(known
            .iter()
            .chain(self.fresh.neighbour(user, at_ms, exclude, false))
            .max_by_key(|v| v.at_ms)
            .cloned())
    }
    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let Some(known) = self.answers.after.get(&(*user, at_ms, *exclude)).filter(|v| !self.stale(v)) else {
            return self.tx.visit_after(user, at_ms, exclude);
        };
        Ok(known
            .iter()
            .chain(self.fresh.neighbour(user, at_ms, exclude, true))
            .min_by_key(|v| v.at_ms)
            .cloned())
    }
    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        let known = self.answers.at.get(&(position_key.to_string(), limit));
        let Some(known) = known.filter(|k| !k.iter().any(|v| self.fresh.touched(&v.record_id))) else {
            return self.tx.visits_at(position_key, limit);
        };
        let fresh = self.fresh.by_key.get(position_key).into_iter().flatten();
        Ok(known
            .iter()
            .chain(fresh.filter_map(|r| self.fresh.visits.get(r)))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        let known = self.answers.credentials.get(&(credential_no.to_string(), started_ms, ended_ms));
        let Some(known) = known.filter(|k| !k.iter().any(|v| self.fresh.touched(&v.record_id))) else {
            return self.tx.credential_visits_overlapping(credential_no, started_ms, ended_ms);
        };
        // The same condition as the backends' query.
        let overlaps = |c: &&CredentialVisit| {
            c.credential_no == credential_no
                && c.started_ms <= ended_ms
                && c.started_ms >= ended_ms - 86_400_000
                && c.ended_ms >= started_ms
        };
        let fresh = self.fresh.credential_visits.values().flatten().filter(overlaps);
        Ok(known.iter().chain(fresh).cloned().collect())
    }
    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        let Some(known) = self.answers.naming.get(sha256) else {
            return Direct(self.tx).records_naming_blob(sha256);
        };
        let mut ids = known.clone();
        for record in self.fresh.naming.get(sha256).into_iter().flatten() {
            if !ids.contains(record) {
                ids.push(*record);
            }
        }
        Ok(ids)
    }
    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        let Some(known) = self.answers.originals.get(original) else {
            return self.tx.photo_originals(original);
        };
        let mut all = known.clone();
        for o in self.fresh.originals.get(original).into_iter().flatten() {
            if !all.contains(o) {
                all.push(*o);
            }
        }
        Ok(all)
    }
    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        match self.answers.fingerprint(sha256) {
            Some(fp) => Ok(Some(fp)),
            None => self.tx.fingerprint(sha256),
        }
    }
    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        let Some(known) = self.answers.near.get(&(fp, max)) else {
            return self.tx.near_fingerprints(fp, max);
        };
        let mut all = known.clone();
        for (sha, other) in &self.fresh.fingerprints {
            if fingerprint::distance(fp, *other) <= max && !all.iter().any(|(s, _)| s == sha) {
                all.push((sha.clone(), *other));
            }
        }
        Ok(all)
    }
    fn tx(&mut self) -> &mut dyn Tx {
        self.tx
    }
}
