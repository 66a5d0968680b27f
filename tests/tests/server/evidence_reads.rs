//! A push reads its evidence twice: on a snapshot before the write transaction (remembering the
//! answers), then inside it, where the remembered answers are corrected by what committed since
//! and by what the batch applied (`sync_server::domain::evidence_reads`). This checks, on the
//! suite's backend and over many random histories, that the corrected answers are exactly what
//! the write transaction itself answers — with the snapshot's answers made one by one, and
//! asked ahead all at once (`Tx::evidence_lookups`, pipelined on PostgreSQL).

use std::collections::BTreeSet;

use qingliu_tests::fixture::Fixture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::ids::{DeviceId, InspectionId, UserId};
use shared::inspection::InspectionKind;
use shared::review::ReviewStatus;
use sync_server::domain::evidence_reads::{Answers, Direct, Fresh, Lookups, Recorder, Replayer};
use sync_server::fingerprint::MAX_DISTANCE;
use sync_server::store::{CredentialVisit, DeviceRow, EvidenceQuestion, RecordRow, Tx, Visit};
use time::OffsetDateTime;

use crate::setup;

const KEYS: usize = 20;
const CREDENTIALS: usize = 3;
const BLOBS: usize = 12;
const DAY_MS: i64 = 86_400_000;

/// What one random history draws from.
struct World {
    users: Vec<UserId>,
    device: DeviceId,
    site: shared::site::Site,
    /// Blobs (sha256, fingerprint): several within the near-duplicate distance of each other.
    blobs: Vec<(String, u64)>,
    records: Vec<InspectionId>,
    tag: u64,
}

impl World {
    fn new(tx: &mut dyn Tx, fx: &Fixture, rng: &mut StdRng) -> World {
        let users: Vec<UserId> =
            ["inspector_a", "inspector_b", "reviewer_1"].iter().map(|u| fx.user(u).id).collect();
        let device = DeviceId::new();
        tx.insert_device(&DeviceRow {
            id: device,
            user_id: users[0],
            name: "evidence-reads".into(),
            platform: "test".into(),
            last_seq: 0,
            registered_at: OffsetDateTime::now_utc(),
            public_key: None,
        })
        .expect("device");
        let tag = rng.r#gen::<u64>();
        let base = rng.r#gen::<u64>() >> 1;
        let blobs = (0..BLOBS)
            .map(|k| {
                let sha = format!("{:064x}", u128::from(tag) << 32 | k as u128);
                // Half the blobs are a few bits from one base picture, half are unrelated.
                let fp = if k % 2 == 0 {
                    base ^ (1u64 << (k % 50)) ^ (1u64 << ((k * 7) % 60))
                } else {
                    rng.r#gen::<u64>() >> 1
                };
                tx.insert_blob(&sha, 1000 + k as u64, OffsetDateTime::now_utc()).expect("blob");
                tx.insert_fingerprint(&sha, Some(fp)).expect("fingerprint");
                (sha, fp)
            })
            .collect();
        World { users, device, site: fx.site("water1").clone(), blobs, records: Vec::new(), tag }
    }

    fn key(&self, k: usize) -> String {
        format!("{}.{k},30.{}", self.tag % 1000, self.tag % 997)
    }

    fn credential(&self, k: usize) -> String {
        format!("42{:06}{k}", self.tag % 1_000_000)
    }

    fn original(&self, k: usize) -> String {
        format!("{:064x}", u128::from(self.tag) << 40 | 0xff00 | k as u128)
    }
}

/// The evidence rows a version writes, as the push writes them.
struct Rows {
    visit: Visit,
    credentials: Option<Vec<CredentialVisit>>,
    links: Vec<(String, Option<u64>)>,
    originals: Vec<(String, usize)>,
}

fn random_rows(w: &World, id: InspectionId, rng: &mut StdRng) -> Rows {
    let position = rng.gen_bool(0.8).then(|| (114.0 + rng.r#gen::<f64>(), 30.0 + rng.r#gen::<f64>()));
    let visit = Visit {
        record_id: id,
        user_id: w.users[rng.gen_range(0..w.users.len())],
        site_id: w.site.id,
        at_ms: rng.gen_range(0..10 * DAY_MS),
        position,
        accuracy_m: rng.gen_bool(0.5).then(|| rng.gen_range(1.0..50.0)),
        position_key: rng.gen_bool(0.7).then(|| w.key(rng.gen_range(0..KEYS))),
    };
    let credentials = rng.gen_bool(0.4).then(|| {
        let started_ms = rng.gen_range(0..3 * DAY_MS);
        (0..rng.gen_range(1..=2))
            .map(|k| CredentialVisit {
                credential_no: w.credential((k + rng.gen_range(0..CREDENTIALS)) % CREDENTIALS),
                record_id: id,
                officer: format!("执法人员{k}"),
                started_ms,
                ended_ms: started_ms + rng.gen_range(600_000..6 * 3_600_000),
                position,
                place: "某地".into(),
            })
            .collect::<Vec<_>>()
    });
    let mut links: Vec<(String, Option<u64>)> = Vec::new();
    for _ in 0..rng.gen_range(0..=2) {
        let (sha, fp) = &w.blobs[rng.gen_range(0..BLOBS)];
        if !links.iter().any(|(s, _)| s == sha) {
            links.push((sha.clone(), Some(*fp)));
        }
    }
    let mut originals = Vec::new();
    for n in 0..links.len() {
        if rng.gen_bool(0.5) {
            originals.push((w.original(rng.gen_range(0..4)), n));
        }
    }
    Rows { visit, credentials, links, originals }
}

/// Writes a version of record `id` (a new record, or a later version / a review of one: its
/// change sequence moves either way) with random evidence rows; returns the rows when written.
fn write_version(
    tx: &mut dyn Tx,
    w: &mut World,
    id: Option<InspectionId>,
    rng: &mut StdRng,
) -> (InspectionId, u32, Option<Rows>) {
    let seq = tx.next_change_seq().expect("seq");
    let (id, version) = match id {
        None => {
            let id = InspectionId::new();
            tx.insert_record(&RecordRow {
                id,
                site_id: w.site.id,
                village: w.site.village,
                submitted_by: w.users[0],
                device_id: w.device,
                current_version: 1,
                status: ReviewStatus::Submitted,
                review: None,
                received_at: OffsetDateTime::now_utc(),
                change_seq: seq,
                kind: InspectionKind::WaterBody,
            })
            .expect("record");
            w.records.push(id);
            (id, 1)
        }
        Some(id) => {
            let mut row = tx.record(&id).expect("record").expect("exists");
            row.change_seq = seq;
            if rng.gen_bool(0.3) {
                // A review: the record moves, its evidence rows do not.
                row.status = ReviewStatus::Approved;
                tx.update_record(&row).expect("update");
                return (id, row.current_version, None);
            }
            row.current_version += 1;
            tx.update_record(&row).expect("update");
            (id, row.current_version)
        }
    };
    let rows = random_rows(w, id, rng);
    tx.upsert_visit(&rows.visit).expect("visit");
    if let Some(c) = &rows.credentials {
        tx.replace_credential_visits(&id, c).expect("credentials");
    }
    for (sha, _) in &rows.links {
        tx.link_blob(sha, &id, version).expect("link");
    }
    for (original, n) in &rows.originals {
        tx.insert_photo_original(original, &id, version, *n).expect("original");
    }
    (id, version, Some(rows))
}

fn write_some(
    tx: &mut dyn Tx,
    w: &mut World,
    new: usize,
    changed: usize,
    rng: &mut StdRng,
) -> Vec<(InspectionId, u32, Option<Rows>)> {
    let mut out = Vec::new();
    for _ in 0..new {
        out.push(write_version(tx, w, None, rng));
    }
    for _ in 0..changed {
        let id = w.records[rng.gen_range(0..w.records.len())];
        out.push(write_version(tx, w, Some(id), rng));
    }
    out
}

#[derive(Debug, Clone)]
enum Query {
    Before(UserId, i64, InspectionId),
    After(UserId, i64, InspectionId),
    At(String),
    Credential(String, i64, i64),
    Naming(String),
    Originals(String),
    Fingerprint(String),
    Near(u64),
}

fn random_query(w: &World, rng: &mut StdRng) -> Query {
    let user = w.users[rng.gen_range(0..w.users.len())];
    let exclude = w.records[rng.gen_range(0..w.records.len())];
    match rng.gen_range(0..8) {
        0 => Query::Before(user, rng.gen_range(0..10 * DAY_MS), exclude),
        1 => Query::After(user, rng.gen_range(0..10 * DAY_MS), exclude),
        2 => Query::At(w.key(rng.gen_range(0..KEYS))),
        3 => {
            let started = rng.gen_range(0..3 * DAY_MS);
            Query::Credential(w.credential(rng.gen_range(0..CREDENTIALS)), started, started + 3_600_000)
        }
        4 => Query::Naming(w.blobs[rng.gen_range(0..BLOBS)].0.clone()),
        5 => Query::Originals(w.original(rng.gen_range(0..4))),
        6 => Query::Fingerprint(w.blobs[rng.gen_range(0..BLOBS)].0.clone()),
        _ => Query::Near(w.blobs[rng.gen_range(0..BLOBS)].1),
    }
}

fn question(q: &Query) -> EvidenceQuestion {
    match q.clone() {
        Query::Before(u, at, ex) => EvidenceQuestion::VisitBefore(u, at, ex),
        Query::After(u, at, ex) => EvidenceQuestion::VisitAfter(u, at, ex),
        Query::At(key) => EvidenceQuestion::VisitsAt(key, 8),
        Query::Credential(c, s, e) => EvidenceQuestion::Credentials(c, s, e),
        Query::Naming(sha) => EvidenceQuestion::NamingBlob(sha),
        Query::Originals(o) => EvidenceQuestion::Originals(o),
        Query::Fingerprint(sha) => EvidenceQuestion::Fingerprint(sha),
        Query::Near(fp) => EvidenceQuestion::Near(fp, MAX_DISTANCE),
    }
}

/// An answer in a form that compares equal whatever order a backend lists rows in.
fn ask(l: &mut dyn Lookups, q: &Query) -> String {
    fn set<T: Ord + std::fmt::Debug>(v: impl IntoIterator<Item = T>) -> String {
        format!("{:?}", v.into_iter().collect::<BTreeSet<T>>())
    }
    match q {
        Query::Before(u, at, ex) => format!("{:?}", l.visit_before(u, *at, ex).expect("before")),
        Query::After(u, at, ex) => format!("{:?}", l.visit_after(u, *at, ex).expect("after")),
        Query::At(key) => {
            let found = l.visits_at(key, 8).expect("at");
            // Which 8 of more a backend lists is its choice; the check only needs one other.
            if found.len() == 8 {
                "8 visits".into()
            } else {
                set(found.into_iter().map(|v| format!("{v:?}")))
            }
        }
        Query::Credential(c, s, e) => set(l
            .credential_visits_overlapping(c, *s, *e)
            .expect("credentials")
            .into_iter()
            .map(|v| format!("{v:?}"))),
        Query::Naming(sha) => set(l.records_naming_blob(sha).expect("naming")),
        Query::Originals(o) => set(l.photo_originals(o).expect("originals")),
        Query::Fingerprint(sha) => format!("{:?}", l.fingerprint(sha).expect("fingerprint")),
        Query::Near(fp) => set(l.near_fingerprints(*fp, MAX_DISTANCE).expect("near")),
    }
}

#[tokio::test]
async fn corrected_snapshot_answers_equal_the_write_transactions() {
    let (server, fx) = setup().await;
    let store = server.state.store.as_ref();
    let (mut asked, mut corrected) = (0, 0);
    for seed in 0..96u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tx = store.write().expect("write");
        let mut w = World::new(tx.as_mut(), &fx, &mut rng);
        write_some(tx.as_mut(), &mut w, 30, 10, &mut rng);
        tx.commit().expect("commit");
        let queries: Vec<Query> = (0..80).map(|_| random_query(&w, &mut rng)).collect();

        // The read phase.
        let mut answers = Answers::default();
        let (seen, before) = {
            let mut snap = store.read().expect("snapshot");
            let seen = snap.current_change_seq().expect("seq");
            if seed % 2 == 1 {
                // Asked ahead all at once, as a push does where a network is in between.
                let asked: Vec<EvidenceQuestion> = queries.iter().map(question).collect();
                let got = snap.evidence_lookups(&asked).expect("look-ups");
                assert_eq!(got.len(), asked.len());
                for (q, a) in asked.iter().zip(got) {
                    answers.keep(q.clone(), a);
                }
            }
            let mut r = Recorder { tx: snap.as_mut(), answers: &mut answers };
            (seen, queries.iter().map(|q| ask(&mut r, q)).collect::<Vec<_>>())
        };

        // Other transactions commit meanwhile.
        let commit_some = |w: &mut World, rng: &mut StdRng| {
            for _ in 0..rng.gen_range(1..=2) {
                let mut tx = store.write().expect("write");
                write_some(tx.as_mut(), w, rng.gen_range(0..8), rng.gen_range(0..8), rng);
                tx.commit().expect("commit");
            }
        };
        commit_some(&mut w, &mut rng);
        // Most seeds catch up on a second snapshot, as a push does before it waits for the
        // writer, and more commits follow (changing records caught up, too).
        let (mut fresh, caught_up) = if seed % 3 == 0 {
            (Fresh::default(), seen)
        } else {
            let mut snap = store.read().expect("snapshot");
            let now_seen = snap.current_change_seq().expect("seq");
            let delta = snap.evidence_since(seen, true).expect("delta");
            drop(snap);
            // Records caught up change again: their rows must be replaced, not added to.
            let again: Vec<InspectionId> = delta.records.iter().take(rng.gen_range(1..=3)).copied().collect();
            let fresh = Fresh::from_delta(delta);
            let mut tx = store.write().expect("write");
            for id in again {
                write_version(tx.as_mut(), &mut w, Some(id), &mut rng);
            }
            tx.commit().expect("commit");
            commit_some(&mut w, &mut rng);
            (fresh, now_seen)
        };

        // The write phase: what committed since, then the batch's own versions one by one.
        let mut tx = store.write().expect("write");
        fresh.catch_up(tx.evidence_since(caught_up, true).expect("delta"));
        for (id, version, rows) in
            write_some(tx.as_mut(), &mut w, rng.gen_range(0..5), rng.gen_range(0..5), &mut rng)
        {
            match rows {
                Some(r) => fresh.applied(
                    id,
                    version,
                    Some(&r.visit),
                    r.credentials.as_deref(),
                    r.links,
                    &r.originals,
                ),
                None => fresh.applied(id, version, None, None, Vec::new(), &[]),
            }
        }
        for (q, then) in queries.iter().zip(&before) {
            let truth = ask(&mut Direct(tx.as_mut()), q);
            let replayed = ask(&mut Replayer { tx: tx.as_mut(), answers: &answers, fresh: &fresh }, q);
            assert_eq!(replayed, truth, "seed {seed}: {q:?}");
            asked += 1;
            if *then != truth {
                corrected += 1;
            }
        }
        drop(tx);
    }
    eprintln!("{asked} questions, {corrected} answers changed since the snapshot");
    // The histories must actually move answers, or the check above would prove nothing.
    assert!(corrected * 10 >= asked, "only {corrected} of {asked} answers changed");
}
