//! Seeded randomized runs of the whole sync system under faults: a real sync-server (restarted on
//! its data now and then), several tablets (the real app core and sync client, each with its own
//! store on disk, its own wrong clock and its own fault-injecting proxy), inspectors recording
//! inspections of every kind with 0–6 photos, editing and discarding drafts, correcting returned
//! records, reviewers approving, returning and rejecting (online in the console, and offline on
//! reviewer tablets whose decisions queue and sync like submissions, and may conflict with the
//! console's), and faults between them: links cut in
//! either direction, answers lost after the server committed, syncs abandoned half-way, apps
//! killed and reopened. Then the faults stop, every tablet syncs until quiet, and the invariants
//! are checked: every submitted version is on the server exactly once with byte-identical
//! photos, every review outcome reached the tablet that owns the record, no outbox entry is
//! stuck, no upload is half-done, counters equal a full recount, every decision a reviewer
//! tablet saw applied was applied exactly once, and each reviewer tablet holds its township's
//! records as the server does.
//!
//! With [`RunConfig::cluster`] the same run goes against the scale-out deployment: two
//! `sync-server` processes on PostgreSQL with photos in S3 behind a real HAProxy, and instead of
//! restarts one instance at a time is killed (SIGKILL) and, some steps later, started again,
//! while the tablets and reviewers keep going through the balancer.
//!
//! Everything random comes from the seed, so a failing seed replays the same sequence of
//! actions (timings of aborted syncs aside). `cargo test` runs a few fixed seeds; the `soak`
//! binary runs as many as asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use qingliu_app::AppCore;
use qingliu_app::sync;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::app::LocalState;
use shared::console::QueuePage;
use shared::inspection::{FacilityRunningState, Inspection};
use shared::review::{ReviewDecision, ReviewStatus};
use shared::site::{SiteKind, SiteStatus};
use shared::{InspectionId, SiteId};

use crate::cluster::Cluster;
use crate::faultproxy::FaultProxy;
use crate::fixture::{self, PASSWORD};
use crate::{ApiClient, TestServer, records};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    /// Random actions before the faults stop.
    pub steps: usize,
    pub max_photos: usize,
    pub max_photo_bytes: usize,
    /// Run against two server processes (this `test-server` binary) behind HAProxy, on the
    /// harness's PostgreSQL and S3 (both must be configured), killing one at a time.
    pub cluster: Option<PathBuf>,
}

impl RunConfig {
    pub fn new(seed: u64) -> Self {
        RunConfig { seed, steps: 60, max_photos: 6, max_photo_bytes: 5 * 1024 * 1024, cluster: None }
    }
}

#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub submitted_versions: usize,
    pub records: usize,
    pub photos: usize,
    pub photo_bytes: u64,
    pub discarded_drafts: usize,
    pub reviews: usize,
    pub corrections: usize,
    pub cuts: u64,
    pub lost_answers: u64,
    pub abandoned_syncs: usize,
    pub reopened_apps: usize,
    pub server_restarts: usize,
    /// Cluster runs: instances killed (each is started again later).
    pub server_kills: usize,
    pub failed_syncs: usize,
    pub refusals_fixed: usize,
    /// Decisions queued on reviewer tablets, and how many of them met a conflict.
    pub tablet_decisions: usize,
    pub decision_conflicts: usize,
}

struct Tablet {
    user: &'static str,
    /// A township reviewer's tablet (review mode) rather than an inspector's.
    reviews: bool,
    dir: tempfile::TempDir,
    core: Option<AppCore>,
    proxy: FaultProxy,
    skew: time::Duration,
}

impl Tablet {
    fn core(&self) -> &AppCore {
        self.core.as_ref().expect("app open")
    }

    /// Kill the app (drop everything in memory) and start it again on its data.
    fn reopen(&mut self) -> Result<(), String> {
        self.core = None;
        let core = AppCore::open(self.dir.path()).map_err(|e| format!("reopen {}: {e}", self.user))?;
        core.set_clock_skew(self.skew);
        self.core = Some(core);
        Ok(())
    }

    async fn sync(&self) -> Result<sync::SyncReport, String> {
        let client = sync::client_for(self.core()).map_err(|e| e.to_string())?;
        sync::sync_once(self.core(), &client, &mut |_| {}).await.map_err(|e| e.to_string())
    }
}

/// What the harness knows was submitted: per record, the owning tablet and every version.
struct Submitted {
    tablet: usize,
    versions: Vec<Inspection>,
}

fn only_transition_errors(errors: &[shared::FieldError]) -> bool {
    !errors.is_empty()
        && errors
            .iter()
            .all(|e| e.field == "proposed_status" && e.code == shared::ErrorCode::IllegalTransition)
}

fn random_bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v[..]);
    v
}

/// Sizes spread evenly on a log scale from 1 KiB to the maximum: mostly small, some large.
fn photo_size(rng: &mut StdRng, max: usize) -> usize {
    let (lo, hi) = (1024f64.ln(), (max.max(2048) as f64).ln());
    rng.gen_range(lo..hi).exp() as usize
}

fn inspection_for(rng: &mut StdRng, kind: SiteKind, site: SiteId) -> Inspection {
    match kind {
        SiteKind::WaterBody => {
            let proposed = [None, None, Some(SiteStatus::Remediating), Some(SiteStatus::Eliminated)];
            records::water_body(site, vec![], proposed[rng.gen_range(0..proposed.len())])
        }
        SiteKind::Village => {
            let proposed = [None, Some(SiteStatus::InProgress), Some(SiteStatus::Completed)];
            records::village(site, proposed[rng.gen_range(0..proposed.len())], Some(rng.gen_bool(0.5)))
        }
        SiteKind::Facility => {
            let states = [FacilityRunningState::Running, FacilityRunningState::Faulty];
            records::facility(site, states[rng.gen_range(0..states.len())])
        }
        SiteKind::Enterprise => records::enforcement(site),
    }
}

struct World {
    cfg: RunConfig,
    rng: StdRng,
    // Dropped before the owning server, whose database the instances are on.
    cluster: Option<Cluster>,
    server: Option<TestServer>,
    tablets: Vec<Tablet>,
    reviewers: Vec<ApiClient>,
    submitted: BTreeMap<InspectionId, Submitted>,
    report: RunReport,
}

impl World {
    fn server(&self) -> &TestServer {
        self.server.as_ref().expect("server running")
    }

    async fn new_record(&mut self, t: usize) -> Result<(), String> {
        let core = self.tablets[t].core();
        let sites = core.search_sites("", None, None, 500).map_err(|e| e.to_string())?;
        if sites.is_empty() {
            return Ok(());
        }
        let site = &sites[self.rng.gen_range(0..sites.len())];
        let mut i = inspection_for(&mut self.rng, site.kind(), site.id);
        i.device_time = core.now();
        i.notes = format!("随机记录 {}", self.rng.r#gen::<u32>());
        for _ in 0..self.rng.gen_range(0..=self.cfg.max_photos) {
            let n = photo_size(&mut self.rng, self.cfg.max_photo_bytes);
            let bytes = random_bytes(&mut self.rng, n);
            let r = records::photo_ref(&bytes);
            core.keep_photo(&bytes, &r, None).map_err(|e| e.to_string())?;
            i.photos.push(r);
        }
        let (_, errors) = core.save_draft(&i).map_err(|e| e.to_string())?;
        if !errors.is_empty() {
            // The app says the site cannot move to the proposed status from where it is: the
            // inspector drops the proposal, as they would on the form.
            if !only_transition_errors(&errors) {
                return Err(format!("generated an invalid record: {errors:?}"));
            }
            i.proposed_status = None;
            core.save_draft(&i).map_err(|e| e.to_string())?;
        }
        // Drafts change before they go: notes rewritten, a photo taken away.
        if self.rng.gen_bool(0.3) {
            i.notes.push_str("（现场补充）");
            if !i.photos.is_empty() && self.rng.gen_bool(0.5) {
                i.photos.pop();
            }
            core.save_draft(&i).map_err(|e| e.to_string())?;
        }
        if self.rng.gen_bool(0.1) {
            core.discard_draft(&i.id).map_err(|e| e.to_string())?;
            self.report.discarded_drafts += 1;
            return Ok(());
        }
        core.submit(&i.id).map_err(|e| e.to_string())?;
        self.report.photos += i.photos.len();
        self.report.photo_bytes += i.photos.iter().map(|p| p.bytes).sum::<u64>();
        self.submitted.insert(i.id, Submitted { tablet: t, versions: vec![i] });
        Ok(())
    }

    /// The server refused a record because the site moved on meanwhile (another record's
    /// approval): the inspector drops the proposed status and sends it again, as the app lets
    /// them. Any other refusal is a bug in the harness or the system.
    fn fix_refused(&mut self, t: usize) -> Result<(), String> {
        let core = self.tablets[t].core();
        for r in core.records(Some(LocalState::Refused), 1000).map_err(|e| e.to_string())? {
            let error = r
                .last_error
                .clone()
                .unwrap_or_else(|| shared::ApiError::new(shared::ErrorCode::Internal, "?"));
            if !only_transition_errors(&error.fields) {
                return Err(format!("record {} refused: {error:?}", r.id));
            }
            let mut i = core.inspection(&r.id).map_err(|e| e.to_string())?;
            i.proposed_status = None;
            core.save_draft(&i).map_err(|e| e.to_string())?;
            core.submit(&r.id).map_err(|e| e.to_string())?;
            let s = self.submitted.get_mut(&r.id).ok_or("refused an unknown record")?;
            *s.versions.last_mut().ok_or("no versions")? = i;
            self.report.refusals_fixed += 1;
        }
        Ok(())
    }

    async fn correct(&mut self, t: usize) -> Result<(), String> {
        let core = self.tablets[t].core();
        let returned = core.records(Some(LocalState::Returned), 1000).map_err(|e| e.to_string())?;
        let mine: Vec<_> =
            returned.iter().filter(|r| self.submitted.get(&r.id).is_some_and(|s| s.tablet == t)).collect();
        if mine.is_empty() {
            return Ok(());
        }
        let id = mine[self.rng.gen_range(0..mine.len())].id;
        let mut next = core.start_correction(&id).map_err(|e| e.to_string())?;
        next.notes = format!("{}（按意见修改）", next.notes);
        next.device_time = core.now();
        if self.rng.gen_bool(0.5) {
            let n = photo_size(&mut self.rng, self.cfg.max_photo_bytes);
            let bytes = random_bytes(&mut self.rng, n);
            let r = records::photo_ref(&bytes);
            core.keep_photo(&bytes, &r, None).map_err(|e| e.to_string())?;
            next.photos.push(r);
        }
        core.save_draft(&next).map_err(|e| e.to_string())?;
        core.submit(&id).map_err(|e| e.to_string())?;
        self.report.corrections += 1;
        self.submitted.get_mut(&id).ok_or("corrected an unknown record")?.versions.push(next);
        Ok(())
    }

    async fn review(&mut self) -> Result<(), String> {
        let r = self.rng.gen_range(0..self.reviewers.len());
        // The reviewer's own link may break when the server restarts: no review this time.
        let Ok(page) =
            self.reviewers[r].get::<QueuePage>("/api/v1/review/queue?status=submitted&limit=200").await
        else {
            return Ok(());
        };
        if page.items.is_empty() {
            return Ok(());
        }
        // Half the time the console reviewer takes a record a reviewer tablet has decided
        // offline and not yet sent: two reviewers who disagree (or agree) on one record.
        let mut queued_on_tablets = Vec::new();
        for t in self.tablets.iter().filter(|t| t.reviews) {
            for d in t.core().all_decisions().map_err(|e| e.to_string())? {
                if d.state == shared::offline_review::DecisionState::Queued {
                    queued_on_tablets.push(d.record_id);
                }
            }
        }
        let contested: Vec<_> =
            page.items.iter().filter(|i| queued_on_tablets.contains(&i.record.inspection.id)).collect();
        let item = if !contested.is_empty() && self.rng.gen_bool(0.5) {
            contested[self.rng.gen_range(0..contested.len())]
        } else {
            &page.items[self.rng.gen_range(0..page.items.len())]
        };
        let decision = [ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject]
            [self.rng.gen_range(0..3)];
        let comment = if decision == ReviewDecision::Approve { "" } else { "请补充现场照片" };
        // A decision the record's proposed status cannot take (an illegal transition) is refused
        // and changes nothing; that is part of the game.
        if self.reviewers[r]
            .review(item.record.inspection.id, item.record.inspection.version, decision, comment)
            .await
            .is_ok()
        {
            self.report.reviews += 1;
        }
        Ok(())
    }

    /// A reviewer on their tablet, link or not: one to three records of the local queue decided
    /// at once, each approved, returned or rejected.
    async fn tablet_review(&mut self, t: usize) -> Result<(), String> {
        use shared::offline_review::{DecisionRequest, QueueFilter};
        let core = self.tablets[t].core();
        let items = core.review_items(&QueueFilter::default(), 500).map_err(|e| e.to_string())?;
        if items.is_empty() {
            return Ok(());
        }
        let n = self.rng.gen_range(1..=3.min(items.len()));
        let first = self.rng.gen_range(0..=items.len() - n);
        let reqs: Vec<DecisionRequest> = items[first..first + n]
            .iter()
            .map(|it| {
                let decision = [ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject]
                    [self.rng.gen_range(0..3)];
                DecisionRequest {
                    record_id: it.record.inspection.id,
                    version: it.record.inspection.version,
                    decision,
                    comment: if decision == ReviewDecision::Approve {
                        String::new()
                    } else {
                        "平板审核：请补充".into()
                    },
                }
            })
            .collect();
        let made = core.decide(&reqs).map_err(|e| format!("tablet {t} decide: {e}"))?;
        self.report.tablet_decisions += made.len();
        // Often the same reviewer, at the desk, decides one of them in the console before the
        // tablet has a link: the tablet's decision must then come back as a conflict.
        if self.rng.gen_bool(0.4) {
            let r = if self.tablets[t].user == "reviewer_1" { 0 } else { 1 };
            let req = &reqs[self.rng.gen_range(0..reqs.len())];
            let decision = [ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject]
                [self.rng.gen_range(0..3)];
            let comment = if decision == ReviewDecision::Approve { "" } else { "桌面审核：请补充" };
            if self.reviewers[r].review(req.record_id, req.version, decision, comment).await.is_ok() {
                self.report.reviews += 1;
            }
        }
        Ok(())
    }

    /// The reviewer looks at what the server answered: a conflict or a refusal is dropped, or
    /// (when the record waits for a decision again) decided anew.
    fn settle_decisions(&mut self, t: usize) -> Result<(), String> {
        use shared::offline_review::{DecisionRequest, DecisionState, QueueFilter, QueueView};
        let core = self.tablets[t].core();
        let all = QueueFilter { view: QueueView::All, ..Default::default() };
        for it in core.review_items(&all, 100_000).map_err(|e| e.to_string())? {
            let Some(d) = it
                .decision
                .as_ref()
                .filter(|d| matches!(d.state, DecisionState::Conflict | DecisionState::Refused))
            else {
                continue;
            };
            if d.state == DecisionState::Conflict {
                self.report.decision_conflicts += 1;
            }
            if it.awaits_decision() && self.rng.gen_bool(0.5) {
                core.decide(&[DecisionRequest {
                    record_id: it.record.inspection.id,
                    version: it.record.inspection.version,
                    decision: ReviewDecision::Return,
                    comment: "平板重新审核：请补充".into(),
                }])
                .map_err(|e| format!("tablet {t} decide again: {e}"))?;
                self.report.tablet_decisions += 1;
            } else {
                core.drop_decision(d.seq).map_err(|e| format!("tablet {t} drop: {e}"))?;
            }
        }
        Ok(())
    }

    /// One sync through a randomly armed fault.
    async fn faulty_sync(&mut self, t: usize) {
        let proxy = &self.tablets[t].proxy;
        match self.rng.gen_range(0..10) {
            0 => proxy.cut_after_upstream_bytes(self.rng.gen_range(0..400_000)),
            1 => proxy.cut_after_downstream_bytes(self.rng.gen_range(0..20_000)),
            2 => proxy.drop_answer_to("POST /api/v1/sync/push"),
            3 => proxy.drop_answer_to("PATCH /api/v1/blobs/"),
            4 => proxy.drop_answer_to("GET /api/v1/sync/pull"),
            5 => proxy.drop_answer_to("POST /api/v1/devices"),
            _ => {}
        }
        if self.tablets[t].sync().await.is_err() {
            self.report.failed_syncs += 1;
        }
        self.tablets[t].proxy.heal();
    }

    /// Start a sync and abandon it after a few milliseconds (the app killed mid-sync), then
    /// reopen the app on its store.
    async fn abandoned_sync(&mut self, t: usize) -> Result<(), String> {
        let ms = self.rng.gen_range(1..40);
        {
            let tablet = &self.tablets[t];
            let _ = tokio::time::timeout(Duration::from_millis(ms), tablet.sync()).await;
        }
        self.report.abandoned_syncs += 1;
        self.tablets[t].reopen()
    }

    /// Restart the server; on a cluster, kill one instance, or start again the one that is down.
    async fn restart_server(&mut self) -> Result<(), String> {
        if let Some(cluster) = self.cluster.as_mut() {
            match (0..cluster.len()).find(|k| !cluster.is_up(*k)) {
                Some(k) => {
                    cluster.start_instance(k).await?;
                    self.report.server_restarts += 1;
                }
                None => {
                    // Killed while a tablet syncs through the balancer, a few ms in: requests
                    // in flight on that instance die with it.
                    let k = self.rng.gen_range(0..cluster.len());
                    let t = self.rng.gen_range(0..self.tablets.len());
                    let ms = self.rng.gen_range(0..40);
                    let (synced, ()) = tokio::join!(self.tablets[t].sync(), async {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        cluster.kill(k);
                    });
                    if synced.is_err() {
                        self.report.failed_syncs += 1;
                    }
                    self.report.server_kills += 1;
                }
            }
            return Ok(());
        }
        let (dir, addr) = self.server.take().expect("server").stop();
        self.server = Some(TestServer::start_in(dir, addr, |_| {}).await);
        self.report.server_restarts += 1;
        Ok(())
    }

    async fn step(&mut self) -> Result<(), String> {
        let t = self.rng.gen_range(0..self.tablets.len());
        let reviews = self.tablets[t].reviews;
        match self.rng.gen_range(0..100) {
            0..=29 | 63..=69 if reviews => self.tablet_review(t).await?,
            0..=29 => self.new_record(t).await?,
            30..=54 => self.faulty_sync(t).await,
            55..=69 => self.review().await?,
            70..=79 if reviews => self.settle_decisions(t)?,
            70..=79 => {
                self.fix_refused(t)?;
                self.correct(t).await?
            }
            80..=87 => self.abandoned_sync(t).await?,
            88..=92 => self.restart_server().await?,
            _ => {
                self.tablets[t].reopen()?;
                self.report.reopened_apps += 1;
            }
        }
        Ok(())
    }

    /// Faults off: sync every tablet until each has an empty outbox and a clean sync, then once
    /// more so that the last review outcomes come down.
    async fn converge(&mut self) -> Result<(), String> {
        if let Some(cluster) = self.cluster.as_mut() {
            for k in 0..cluster.len() {
                if !cluster.is_up(k) {
                    cluster.start_instance(k).await?;
                    self.report.server_restarts += 1;
                }
            }
        }
        for t in &self.tablets {
            t.proxy.heal();
        }
        let mut last_err = String::new();
        for _round in 0..20 {
            let mut quiet = true;
            for n in 0..self.tablets.len() {
                self.fix_refused(n)?;
            }
            for t in &self.tablets {
                match t.sync().await {
                    Ok(_) => {}
                    Err(e) => {
                        last_err = e;
                        quiet = false;
                    }
                }
                if t.core().pending_count().map_err(|e| e.to_string())? > 0 {
                    quiet = false;
                }
            }
            if quiet {
                for t in &self.tablets {
                    t.sync().await.map_err(|e| format!("final sync: {e}"))?;
                }
                return Ok(());
            }
        }
        Err(format!("did not converge in 20 rounds; last error: {last_err}"))
    }

    /// The server's evidence checks on honest tablets: every version checked at push; no reused
    /// photo, impossible trip, credential in two places, copied position or clock going back;
    /// a clock flag exactly on the versions of tablets whose clock is off by more than the
    /// tolerance, with the tablet's skew.
    fn check_flags(
        &self,
        tx: &mut dyn sync_server::store::Tx,
        id: &InspectionId,
        s: &Submitted,
    ) -> Result<(), String> {
        use shared::flags::Flag;
        let t = shared::flags::FlagThresholds::default();
        let skew_min = self.tablets[s.tablet].skew.whole_minutes();
        for v in &s.versions {
            let flags = tx
                .flags_of(id, v.version)
                .map_err(|e| e.to_string())?
                .ok_or(format!("record {id} v{}: not checked at push", v.version))?;
            let false_flag = flags.iter().find(|f| {
                matches!(
                    f,
                    Flag::PhotoReuse { .. }
                        | Flag::ImpossibleTravel { .. }
                        | Flag::CredentialOverlap { .. }
                        | Flag::CopiedPosition { .. }
                        | Flag::ClockBackwards { .. }
                ) || matches!(f, Flag::DeviceTimeAfterReceipt { .. } if skew_min <= 0)
            });
            if let Some(f) = false_flag {
                return Err(format!("record {id} v{}: false flag {f:?} on an honest tablet", v.version));
            }
            let skew_flag = flags.iter().find_map(|f| match f {
                Flag::ClockSkew { minutes } => Some(*minutes),
                _ => None,
            });
            match skew_flag {
                Some(m) if (m - skew_min).abs() > 1 => {
                    return Err(format!("record {id}: clock flagged {m} min off, the tablet is {skew_min}"));
                }
                None if skew_min.abs() > t.max_clock_skew_minutes => {
                    return Err(format!("record {id}: a clock {skew_min} min off went unflagged"));
                }
                Some(_) if skew_min.abs() <= t.max_clock_skew_minutes => {
                    return Err(format!("record {id}: a clock {skew_min} min off was flagged"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Each reviewer tablet holds its township's records as the server does, and the decisions
    /// it saw applied were applied exactly once each, by it (the audit log names the device).
    fn check_reviewer_tablets(&self, tx: &mut dyn sync_server::store::Tx) -> Result<(), String> {
        use shared::offline_review::{DecisionState, QueueFilter, QueueView};
        let mut applied_by_device: BTreeMap<shared::DeviceId, usize> = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = tx.audit_page(after, 1000).map_err(|e| e.to_string())?;
            let Some((last, _, _)) = page.last() else { break };
            after = *last;
            for (_, e, _) in &page {
                if let Some(d) = e.device_id
                    && e.entity == "inspection"
                    && matches!(e.action.as_str(), "approve" | "return" | "reject")
                {
                    *applied_by_device.entry(d).or_default() += 1;
                }
            }
        }
        for (n, t) in self.tablets.iter().enumerate().filter(|(_, t)| t.reviews) {
            let core = t.core();
            let device = core.device_id().map_err(|e| e.to_string())?;
            let decisions = core.all_decisions().map_err(|e| e.to_string())?;
            let synced = decisions.iter().filter(|d| d.state == DecisionState::Synced).count();
            let applied = applied_by_device.get(&device).copied().unwrap_or(0);
            if synced != applied {
                return Err(format!(
                    "tablet {n}: {synced} decisions synced, the server applied {applied} from it"
                ));
            }
            let all = QueueFilter { view: QueueView::All, ..Default::default() };
            let items = core.review_items(&all, 100_000).map_err(|e| e.to_string())?;
            let user = tx
                .user_by_username(t.user)
                .map_err(|e| e.to_string())?
                .ok_or(format!("no user {}", t.user))?;
            let (lo, hi) = user.info.region.descendant_range();
            let on_server = tx
                .records_changed(&sync_server::store::RecordFilter::VillageRange(lo, hi), 0, 100_000)
                .map_err(|e| e.to_string())?;
            if on_server.len() != items.len() {
                return Err(format!(
                    "tablet {n}: holds {} records of its township, the server {}",
                    items.len(),
                    on_server.len()
                ));
            }
            for r in on_server {
                let id = r.inspection.id;
                let local = items
                    .iter()
                    .find(|it| it.record.inspection.id == id)
                    .ok_or(format!("tablet {n}: lacks record {id}"))?;
                if (local.record.status, local.record.inspection.version) != (r.status, r.inspection.version)
                {
                    return Err(format!(
                        "tablet {n}: record {id} {:?} v{}, the server {:?} v{}",
                        local.record.status, local.record.inspection.version, r.status, r.inspection.version
                    ));
                }
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let state = &self.server().state;
        let mut tx = state.store.read().map_err(|e| e.to_string())?;
        // No outbox entry stuck, nothing left half-way on any tablet.
        for (n, t) in self.tablets.iter().enumerate() {
            let core = t.core();
            let pending = core.pending_count().map_err(|e| e.to_string())?;
            if pending > 0 {
                return Err(format!("tablet {n}: {pending} outbox entries stuck"));
            }
            if t.reviews {
                let open = core
                    .all_decisions()
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .filter(|d| d.state == shared::offline_review::DecisionState::Queued)
                    .count();
                if open > 0 {
                    return Err(format!("tablet {n}: {open} decisions never answered"));
                }
                continue;
            }
            for s in core.records(None, 100_000).map_err(|e| e.to_string())? {
                if matches!(
                    s.state,
                    LocalState::Queued | LocalState::Uploading | LocalState::Refused | LocalState::Conflict
                ) {
                    return Err(format!(
                        "tablet {n}: record {} left {:?}: {:?}",
                        s.id, s.state, s.last_error
                    ));
                }
            }
        }
        // Every submitted version on the server exactly once, as submitted, photos identical;
        // every review outcome on the owning tablet.
        let total: u64 = tx.count_records().map_err(|e| e.to_string())?.iter().map(|(_, n)| n).sum();
        if total as usize != self.submitted.len() {
            return Err(format!("server holds {total} records, tablets submitted {}", self.submitted.len()));
        }
        for (id, s) in &self.submitted {
            self.check_flags(tx.as_mut(), id, s)?;
            let row = tx.record(id).map_err(|e| e.to_string())?.ok_or(format!("record {id} missing"))?;
            let versions = tx.versions(id).map_err(|e| e.to_string())?;
            if versions != s.versions {
                return Err(format!(
                    "record {id}: server holds versions {:?}, the tablet submitted {:?}",
                    versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                    s.versions.iter().map(|v| v.version).collect::<Vec<_>>()
                ));
            }
            if row.current_version as usize != s.versions.len() {
                return Err(format!(
                    "record {id}: current version {} of {}",
                    row.current_version,
                    s.versions.len()
                ));
            }
            let core = self.tablets[s.tablet].core();
            for p in versions.iter().flat_map(|v| &v.photos) {
                let ours = std::fs::read(core.photo_path(&p.sha256).map_err(|e| e.to_string())?)
                    .map_err(|e| format!("tablet photo {}: {e}", p.sha256))?;
                let hash = sync_server::blobs::BlobHash::parse(&p.sha256).map_err(|e| e.to_string())?;
                let (mut f, size) = state
                    .blobs
                    .open(&hash)
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("server lacks photo {}", p.sha256))?;
                let mut theirs = Vec::with_capacity(size as usize);
                std::io::Read::read_to_end(&mut f, &mut theirs).map_err(|e| e.to_string())?;
                if theirs != ours {
                    return Err(format!("photo {} differs between tablet and server", p.sha256));
                }
            }
            let local = core.summary(id).map_err(|e| format!("tablet lacks {id}: {e}"))?;
            let expected = qingliu_app::core::state_for(row.status);
            if local.state != expected || local.version != row.current_version {
                return Err(format!(
                    "record {id}: server {:?} v{}, owning tablet {:?} v{}",
                    row.status, row.current_version, local.state, local.version
                ));
            }
            if row.status != ReviewStatus::Submitted
                && local.review.as_ref().map(|r| &r.comment) != row.review.as_ref().map(|r| &r.comment)
            {
                return Err(format!("record {id}: the reviewer's comment did not reach the tablet"));
            }
        }
        self.check_reviewer_tablets(tx.as_mut())?;
        let half = state.blobs.pending_uploads().map_err(|e| e.to_string())?;
        if !half.is_empty() {
            return Err(format!("uploads left half-done on the server: {half:?}"));
        }
        drop(tx);
        crate::invariants::counters_match_recount(state.store.as_ref())
    }
}

/// One randomized run; `Err` carries what broke (the caller adds the seed).
pub async fn run(cfg: RunConfig) -> Result<RunReport, String> {
    let server = TestServer::start().await;
    fixture::install(server.state.store.as_ref());
    let cluster = match &cfg.cluster {
        Some(bin) => Some(Cluster::start(bin, &server, 2).await?),
        None => None,
    };
    // Tablets and reviewers go through the balancer on a cluster; the owning test server is
    // then only the harness's view of the shared database and bucket.
    let addr = cluster.as_ref().map_or(server.addr(), |c| c.balancer.addr);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    // Two tablets of one inspector, one of another, each with its own wrong clock.
    let mut tablets = Vec::new();
    // And a tablet of each township's reviewer, who also reviews in the console.
    for user in ["inspector_a", "inspector_a", "inspector_b", "reviewer_1", "reviewer_2"] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let proxy = FaultProxy::start(addr).await;
        let skew = time::Duration::hours(rng.gen_range(-96..=96));
        let core = AppCore::open(dir.path()).map_err(|e| e.to_string())?;
        core.set_clock_skew(skew);
        sync::login(&core, &proxy.base(), user, PASSWORD).await.map_err(|e| format!("login {user}: {e}"))?;
        tablets.push(Tablet {
            user,
            reviews: user.starts_with("reviewer"),
            dir,
            core: Some(core),
            proxy,
            skew,
        });
    }
    for t in &tablets {
        t.sync().await.map_err(|e| format!("first sync: {e}"))?;
    }
    let mut reviewers = Vec::new();
    for name in ["reviewer_1", "reviewer_2"] {
        let mut c = ApiClient::new(&format!("http://{addr}"));
        c.login(name, PASSWORD).await.map_err(|e| format!("login {name}: {e:?}"))?;
        reviewers.push(c);
    }
    let mut w = World {
        cfg: cfg.clone(),
        rng,
        cluster,
        server: Some(server),
        tablets,
        reviewers,
        submitted: BTreeMap::new(),
        report: RunReport::default(),
    };
    for n in 0..cfg.steps {
        w.step().await.map_err(|e| format!("step {n}: {e}"))?;
    }
    w.converge().await?;
    w.check()?;
    w.report.records = w.submitted.len();
    w.report.submitted_versions = w.submitted.values().map(|s| s.versions.len()).sum();
    w.report.cuts = w.tablets.iter().map(|t| t.proxy.cuts()).sum();
    w.report.lost_answers = w.tablets.iter().map(|t| t.proxy.dropped_answers()).sum();
    Ok(w.report)
}
