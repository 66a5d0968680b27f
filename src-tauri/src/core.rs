//! The app core: records, the outbox, offline sites and photos on the device. Plain Rust, no
//! webview: Tauri commands and the cross-crate tests call these.
//!
//! Invariants: a record and its outbox entry are written in one transaction; an outbox payload
//! is frozen when queued (a resend is byte-for-byte the same mutation); photos are written and
//! fsynced before the record naming them is queued.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared::app::{LocalState, RecordSummary, StateCounts};
use shared::auth::UserInfo;
use shared::ids::{DeviceId, InspectionId, MutationId, SiteId};
use shared::inspection::{Inspection, InspectionKind, PhotoRef};
use shared::review::ReviewStatus;
use shared::site::{Site, SiteKind, SiteStatus};
use shared::sync::{InspectionRecord, Mutation, MutationOp};
use shared::validate::{validate_against_site, validate_inspection};
use shared::{ApiError, ErrorCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{CoreError, CoreResult};
use crate::store::{LocalStore, meta_get, meta_set};

/// One queued mutation as stored in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub seq: u64,
    pub record_id: InspectionId,
    pub version: u32,
    pub mutation: Mutation,
    pub attempts: u32,
}

pub struct AppCore {
    pub store: LocalStore,
    pub photo_dir: PathBuf,
    /// Seconds the device clock is off from true time. Always 0 in the app (the device clock is
    /// what it is); the fault harness sets it to prove nothing depends on clocks agreeing.
    clock_skew_s: std::sync::atomic::AtomicI64,
}

pub mod keys {
    pub const DEVICE_ID: &str = "device_id";
    pub const NEXT_SEQ: &str = "next_seq";
    pub const SERVER_URL: &str = "server_url";
    pub const TOKEN: &str = "token";
    pub const USER: &str = "user";
    pub const DEVICE_REGISTERED: &str = "device_registered";
    pub const CURSOR_INSPECTOR: &str = "cursor.inspector";
    /// The review scope's cursor on a reviewer's tablet.
    pub const CURSOR_REVIEW: &str = "cursor.review";
    pub const LAST_SYNC_AT: &str = "last_sync_at";
    /// Set while the scope is being fetched from the start (first sync, or the server refused
    /// the cursor); cleared when the last page is in.
    pub const REFETCH: &str = "refetch";
}

fn state_col(s: String) -> rusqlite::Result<LocalState> {
    LocalState::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("state {s}").into())
    })
}

fn json_col<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// The local state a server review status maps to.
pub fn state_for(status: ReviewStatus) -> LocalState {
    match status {
        ReviewStatus::Submitted => LocalState::Submitted,
        ReviewStatus::Approved => LocalState::Approved,
        ReviewStatus::Returned => LocalState::Returned,
        ReviewStatus::Rejected => LocalState::Rejected,
    }
}

pub(crate) struct RecordRow {
    pub(crate) inspection: Inspection,
    pub(crate) state: LocalState,
}

pub(crate) fn load_record(conn: &Connection, id: &InspectionId) -> CoreResult<Option<RecordRow>> {
    Ok(conn
        .prepare_cached("SELECT data, state FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok(RecordRow { inspection: json_col(r.get(0)?)?, state: state_col(r.get(1)?)? })
        })
        .optional()?)
}

impl AppCore {
    /// Open (or create) the app's data directory: `app.db` and `photos/`.
    pub fn open(data_dir: &Path) -> CoreResult<AppCore> {
        std::fs::create_dir_all(data_dir.join("photos").join("originals"))?;
        let store = LocalStore::open(&data_dir.join("app.db"))?;
        let core = AppCore { store, photo_dir: data_dir.join("photos"), clock_skew_s: Default::default() };
        core.store.write(|tx| {
            if meta_get(tx, keys::DEVICE_ID)?.is_none() {
                meta_set(tx, keys::DEVICE_ID, &DeviceId::new().to_string())?;
                meta_set(tx, keys::NEXT_SEQ, "1")?;
            }
            crate::signing::ensure_key(tx)?;
            crate::signing::sign_unsigned_outbox(tx)?;
            Ok(())
        })?;
        Ok(core)
    }

    /// The device clock: what stamps drafts, photos and sync times. Nothing compares it with the
    /// server's clock; the server records its own receive time.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::seconds(self.clock_skew_s.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn now_rfc3339(&self) -> String {
        self.now().format(&Rfc3339).unwrap_or_default()
    }

    /// Put the device clock off by `skew` (tests of wrong clocks).
    pub fn set_clock_skew(&self, skew: time::Duration) {
        self.clock_skew_s.store(skew.whole_seconds(), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn device_id(&self) -> CoreResult<DeviceId> {
        let s = self
            .store
            .read(|c| meta_get(c, keys::DEVICE_ID))?
            .ok_or_else(|| CoreError::internal("no device id"))?;
        s.parse().map_err(|e| CoreError::internal(format!("device id: {e}")))
    }

    pub fn meta(&self, key: &str) -> CoreResult<Option<String>> {
        self.store.read(|c| meta_get(c, key))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> CoreResult<()> {
        self.store.write(|tx| meta_set(tx, key, value))
    }

    pub fn user(&self) -> CoreResult<Option<UserInfo>> {
        Ok(self.meta(keys::USER)?.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    // ---- sites -------------------------------------------------------------------------

    pub fn site(&self, id: &SiteId) -> CoreResult<Option<Site>> {
        self.store.read(|c| {
            Ok(c.prepare_cached("SELECT data FROM sites WHERE id = ?1")?
                .query_row([id.to_string()], |r| json_col(r.get(0)?))
                .optional()?)
        })
    }

    /// Search the offline sites by name or village code, optionally by kind and status.
    pub fn search_sites(
        &self,
        query: &str,
        kind: Option<SiteKind>,
        status: Option<SiteStatus>,
        limit: u32,
    ) -> CoreResult<Vec<Site>> {
        let q = query.trim().to_lowercase();
        let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT data FROM sites
                 WHERE (?1 = '' OR search LIKE ?2 ESCAPE '\\')
                   AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR status = ?4)
                 ORDER BY kind, village, name LIMIT ?5",
            )?;
            let rows = st.query_map(
                params![q, pattern, kind.map(|k| k.as_str()), status.map(|s| s.as_str()), limit],
                |r| json_col(r.get(0)?),
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    // ---- records -----------------------------------------------------------------------

    /// Save a draft (new, or an edit of an editable record). Drafts may be incomplete; the
    /// returned field errors tell the form what is still missing.
    pub fn save_draft(
        &self,
        inspection: &Inspection,
    ) -> CoreResult<(RecordSummary, Vec<shared::FieldError>)> {
        let mut inspection = inspection.clone();
        // Numbers spent on the record stay with it, whatever copy the form sends back.
        if inspection.document.is_none()
            && let Some(row) = self.store.read(|c| load_record(c, &inspection.id))?
        {
            inspection.document = row.inspection.document;
        }
        // The content signatures cover is frozen: an edit after signing clears them.
        let cleared = crate::documents::clear_if_stale(&mut inspection);
        let inspection = &inspection;
        let mut errors = match self.site(&inspection.site_id)? {
            Some(site) => validate_against_site(inspection, &site),
            None => validate_inspection(inspection, None),
        };
        if cleared {
            errors.insert(
                0,
                shared::FieldError::new(
                    "body.party_signature",
                    ErrorCode::SignatureStale,
                    "签名后记录内容已修改，签名已清除，请重新签名",
                ),
            );
        }
        let id = inspection.id;
        self.store.write(|tx| {
            let now = self.now_rfc3339();
            match load_record(tx, &id)? {
                None => {
                    if inspection.version != 1 {
                        return Err(CoreError::new(ErrorCode::Inconsistent, "新记录的版本号必须为 1"));
                    }
                    tx.execute(
                        "INSERT INTO records (id, site_id, kind, version, state, data, created_at, updated_at)
                         VALUES (?1, ?2, ?3, 1, 'draft', ?4, ?5, ?5)",
                        params![id.to_string(), inspection.site_id.to_string(), inspection.kind().as_str(), serde_json::to_string(inspection)?, now],
                    )?;
                }
                Some(row) => {
                    if row.state != LocalState::Draft && row.state != LocalState::Refused {
                        return Err(CoreError::new(ErrorCode::IllegalTransition, format!("记录处于“{}”状态，不能修改", row.state.label_zh())));
                    }
                    if inspection.version != row.inspection.version {
                        return Err(CoreError::new(ErrorCode::StaleVersion, "版本号与本地记录不一致"));
                    }
                    tx.execute(
                        "UPDATE records SET site_id = ?2, kind = ?3, data = ?4, state = 'draft', last_error = NULL, updated_at = ?5 WHERE id = ?1",
                        params![id.to_string(), inspection.site_id.to_string(), inspection.kind().as_str(), serde_json::to_string(inspection)?, now],
                    )?;
                }
            }
            Ok(())
        })?;
        Ok((self.summary(&id)?, errors))
    }

    /// Queue a draft for sending: validates fully, checks its photos are on the device, then
    /// writes the record state and its outbox entry in one transaction.
    pub fn submit(&self, id: &InspectionId) -> CoreResult<RecordSummary> {
        let mut row = self.store.read(|c| load_record(c, id))?.ok_or_else(|| CoreError::not_found("记录"))?;
        if !matches!(row.state, LocalState::Draft | LocalState::Refused) {
            return Err(CoreError::new(
                ErrorCode::IllegalTransition,
                format!("记录处于“{}”状态，不能提交", row.state.label_zh()),
            ));
        }
        let site = self.site(&row.inspection.site_id)?.ok_or_else(|| CoreError::not_found("点位"))?;
        let errors = validate_against_site(&row.inspection, &site);
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        let known: std::collections::HashSet<String> = self.store.read(|c| {
            let mut st = c.prepare_cached("SELECT sha256 FROM photos")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        for h in row.inspection.blob_hashes() {
            // Photos taken here must still be here; photos of a pulled record live on the server.
            if known.contains(&h) && !self.photo_path(&h)?.exists() {
                return Err(CoreError::new(ErrorCode::MissingBlobs, format!("照片 {} 不在本机", &h[..12])));
            }
        }
        self.seal_documents(&mut row.inspection)?;
        let signature = self.sign(&row.inspection)?;
        self.store.write(|tx| {
            self.store.step()?;
            if row.inspection.document.is_some() {
                // The digests just made are part of the version as queued and signed.
                tx.execute(
                    "UPDATE records SET data = ?2 WHERE id = ?1",
                    params![id.to_string(), serde_json::to_string(&row.inspection)?],
                )?;
            }
            let seq: u64 = meta_get(tx, keys::NEXT_SEQ)?.and_then(|s| s.parse().ok()).unwrap_or(1);
            let mutation = Mutation {
                seq,
                mutation_id: MutationId::new(),
                op: MutationOp::SubmitInspection {
                    inspection: Box::new(row.inspection.clone()),
                    signature: Some(signature.clone()),
                },
            };
            tx.execute(
                "INSERT INTO outbox (seq, mutation_id, record_id, version, payload, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
                params![
                    seq as i64,
                    mutation.mutation_id.to_string(),
                    id.to_string(),
                    row.inspection.version,
                    serde_json::to_string(&mutation)?,
                    self.now_rfc3339()
                ],
            )?;
            self.store.step()?;
            tx.execute(
                "UPDATE records SET state = 'queued', last_error = NULL, updated_at = ?2 WHERE id = ?1",
                params![id.to_string(), self.now_rfc3339()],
            )?;
            self.store.step()?;
            meta_set(tx, keys::NEXT_SEQ, &(seq + 1).to_string())?;
            self.store.step()?;
            Ok(())
        })?;
        self.summary(id)
    }

    /// Resolve a conflict by taking the server's side: the record becomes what the server holds
    /// (its content, version and review state), as the server answered the conflicting push.
    /// The local content that lost is kept in the outbox history.
    pub fn accept_server_version(&self, id: &InspectionId) -> CoreResult<RecordSummary> {
        self.store.write(|tx| {
            let row = load_record(tx, id)?.ok_or_else(|| CoreError::not_found("记录"))?;
            if row.state != LocalState::Conflict {
                return Err(CoreError::new(ErrorCode::IllegalTransition, "只有版本冲突的记录可以采用服务器版本"));
            }
            let result: Option<String> = tx
                .query_row(
                    "SELECT result FROM outbox WHERE record_id = ?1 AND result IS NOT NULL ORDER BY seq DESC LIMIT 1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let server = match result.map(|r| serde_json::from_str::<shared::sync::MutationOutcome>(&r)).transpose()? {
                Some(shared::sync::MutationOutcome::Conflict { server: Some(rec), .. }) => rec,
                _ => return Err(CoreError::new(ErrorCode::NotFound, "没有服务器版本可采用，请先同步")),
            };
            tx.execute(
                "UPDATE records SET version = ?2, data = ?3, state = ?4, review = ?5, server_seq = ?6, last_error = NULL,
                        updated_at = ?7 WHERE id = ?1",
                params![
                    id.to_string(),
                    server.inspection.version,
                    serde_json::to_string(&server.inspection)?,
                    state_for(server.status).as_str(),
                    server.review.as_ref().map(serde_json::to_string).transpose()?,
                    server.server_seq as i64,
                    self.now_rfc3339()
                ],
            )?;
            Ok(())
        })?;
        self.summary(id)
    }

    /// Start correcting a returned record: its next version becomes an editable draft that
    /// names the returned one. The reviewer's comment stays attached.
    pub fn start_correction(&self, id: &InspectionId) -> CoreResult<Inspection> {
        self.store.write(|tx| {
            let row = load_record(tx, id)?.ok_or_else(|| CoreError::not_found("记录"))?;
            if row.state != LocalState::Returned {
                return Err(CoreError::new(
                    ErrorCode::IllegalTransition,
                    "只有被退回的记录可以修改后重新提交",
                ));
            }
            let mut next = row.inspection.clone();
            next.replaces_version = Some(row.inspection.version);
            next.version = row.inspection.version + 1;
            tx.execute(
                "UPDATE records SET version = ?2, data = ?3, state = 'draft', updated_at = ?4 WHERE id = ?1",
                params![id.to_string(), next.version, serde_json::to_string(&next)?, self.now_rfc3339()],
            )?;
            Ok(next)
        })
    }

    /// Delete a draft that was never sent.
    pub fn discard_draft(&self, id: &InspectionId) -> CoreResult<()> {
        self.store.write(|tx| {
            let row = load_record(tx, id)?.ok_or_else(|| CoreError::not_found("记录"))?;
            let sent: i64 =
                tx.query_row("SELECT COUNT(*) FROM outbox WHERE record_id = ?1", [id.to_string()], |r| {
                    r.get(0)
                })?;
            if row.state != LocalState::Draft || row.inspection.version != 1 || sent > 0 {
                return Err(CoreError::new(ErrorCode::IllegalTransition, "只能删除未提交过的草稿"));
            }
            tx.execute("DELETE FROM records WHERE id = ?1", [id.to_string()])?;
            Ok(())
        })
    }

    pub fn inspection(&self, id: &InspectionId) -> CoreResult<Inspection> {
        Ok(self.store.read(|c| load_record(c, id))?.ok_or_else(|| CoreError::not_found("记录"))?.inspection)
    }

    pub fn summary(&self, id: &InspectionId) -> CoreResult<RecordSummary> {
        self.list(Some(id), None, 1)?.pop().ok_or_else(|| CoreError::not_found("记录"))
    }

    pub fn records(&self, state: Option<LocalState>, limit: u32) -> CoreResult<Vec<RecordSummary>> {
        self.list(None, state, limit)
    }

    fn list(
        &self,
        id: Option<&InspectionId>,
        state: Option<LocalState>,
        limit: u32,
    ) -> CoreResult<Vec<RecordSummary>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT r.id, r.site_id, COALESCE(s.name, ''), r.kind, r.version, r.state, r.updated_at, r.data, r.review, r.last_error
                 FROM records r LEFT JOIN sites s ON s.id = r.site_id
                 WHERE (?1 IS NULL OR r.id = ?1) AND (?2 IS NULL OR r.state = ?2)
                 ORDER BY r.updated_at DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![id.map(|i| i.to_string()), state.map(|s| s.as_str()), limit], |r| {
                let kind: String = r.get(3)?;
                let data: Inspection = json_col(r.get(7)?)?;
                let review: Option<String> = r.get(8)?;
                let err: Option<String> = r.get(9)?;
                Ok(RecordSummary {
                    id: data.id,
                    site_id: data.site_id,
                    site_name: r.get(2)?,
                    kind: InspectionKind::parse(&kind).unwrap_or(data.kind()),
                    version: r.get(4)?,
                    state: state_col(r.get(5)?)?,
                    updated_at: r.get(6)?,
                    photos: data.photos.len() as u32,
                    review: review.map(json_col).transpose()?,
                    last_error: err.map(json_col).transpose()?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn counts(&self) -> CoreResult<StateCounts> {
        self.store.read(|c| {
            let mut st = c.prepare_cached("SELECT state, COUNT(*) FROM records GROUP BY state")?;
            let rows = st.query_map([], |r| Ok((state_col(r.get(0)?)?, r.get::<_, u32>(1)?)))?;
            Ok(StateCounts(rows.collect::<Result<_, _>>()?))
        })
    }

    // ---- photos ------------------------------------------------------------------------

    /// Where a photo's bytes live: built only from a validated hex hash.
    pub fn photo_path(&self, sha256: &str) -> CoreResult<PathBuf> {
        if !shared::sync::is_sha256_hex(sha256) {
            return Err(CoreError::new(ErrorCode::InvalidFormat, "照片标识无效"));
        }
        Ok(self.photo_dir.join(format!("{sha256}.jpg")))
    }

    /// Keep a processed photo: write and fsync the file (and the original), then record it.
    /// Idempotent by content.
    pub fn keep_photo(&self, bytes: &[u8], r: &PhotoRef, original: Option<(&[u8], &str)>) -> CoreResult<()> {
        let path = self.photo_path(&r.sha256)?;
        write_synced(&path, bytes)?;
        let mut original_file = None;
        if let (Some((obytes, ext)), Some(oh)) = (original, r.original_sha256.as_deref()) {
            if !shared::sync::is_sha256_hex(oh) || !matches!(ext, "jpg" | "png") {
                return Err(CoreError::new(ErrorCode::InvalidFormat, "原图标识无效"));
            }
            let name = format!("{oh}.{ext}");
            write_synced(&self.photo_dir.join("originals").join(&name), obytes)?;
            original_file = Some(name);
        }
        self.store.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO photos (sha256, bytes, width, height, original_sha256, original_file, meta, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.sha256,
                    r.bytes as i64,
                    r.width,
                    r.height,
                    r.original_sha256.clone().unwrap_or_default(),
                    original_file,
                    serde_json::to_string(r)?,
                    self.now_rfc3339()
                ],
            )?;
            Ok(())
        })
    }

    /// Take a photo into the device store: run the pipeline (stamped with the site, the
    /// inspector and the position), keep the derivative, the original and a thumbnail.
    pub fn add_photo(
        &self,
        original: &[u8],
        site_id: &SiteId,
        position: Option<&shared::inspection::Position>,
        cfg: &crate::photos::PipelineConfig,
    ) -> CoreResult<PhotoRef> {
        let site = self.site(site_id)?.ok_or_else(|| CoreError::not_found("点位"))?;
        // The original, the derivative and a thumbnail: at most about twice the original.
        self.ensure_storage(original.len() as u64 * 2)?;
        let inspector = self.user()?.map(|u| u.display_name).unwrap_or_default();
        let stamp = crate::photos::Stamp {
            time: self.now(),
            position: position.map(|p| p.point),
            accuracy_m: position.and_then(|p| p.accuracy_m),
            site_name: site.name.clone(),
            inspector,
        };
        let out = crate::photos::process(original, &stamp, cfg)?;
        let thumb = crate::photos::thumbnail(&out.jpeg, 320)?;
        write_synced(&self.thumb_path(&out.photo.sha256)?, &thumb)?;
        self.keep_photo(&out.jpeg, &out.photo, Some((original, out.original_ext)))?;
        Ok(out.photo)
    }

    fn thumb_path(&self, sha256: &str) -> CoreResult<PathBuf> {
        let p = self.photo_path(sha256)?;
        Ok(p.with_extension("thumb.jpg"))
    }

    /// A small JPEG of a kept photo, for lists and forms.
    pub fn thumbnail(&self, sha256: &str) -> CoreResult<Vec<u8>> {
        let path = self.thumb_path(sha256)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(b),
            Err(_) => {
                let full =
                    std::fs::read(self.photo_path(sha256)?).map_err(|_| CoreError::not_found("照片"))?;
                let t = crate::photos::thumbnail(&full, 320)?;
                write_synced(&path, &t)?;
                Ok(t)
            }
        }
    }

    pub fn photo_uploaded(&self, sha256: &str) -> CoreResult<bool> {
        self.store.read(|c| {
            Ok(c.prepare_cached("SELECT uploaded FROM photos WHERE sha256 = ?1")?
                .query_row([sha256], |r| r.get::<_, bool>(0))
                .optional()?
                .unwrap_or(false))
        })
    }

    pub fn set_photo_uploaded(&self, sha256: &str, uploaded: bool) -> CoreResult<()> {
        self.store.write(|tx| {
            tx.execute("UPDATE photos SET uploaded = ?2 WHERE sha256 = ?1", params![sha256, uploaded])?;
            Ok(())
        })
    }

    // ---- outbox and sync results ---------------------------------------------------------

    pub fn pending(&self, limit: u32) -> CoreResult<Vec<OutboxEntry>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, record_id, version, payload, attempts FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                let mutation: Mutation = json_col(r.get(3)?)?;
                Ok(OutboxEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    record_id: InspectionId(uuid_col(r.get(1)?)?),
                    version: r.get(2)?,
                    mutation,
                    attempts: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn pending_count(&self) -> CoreResult<u32> {
        self.store.read(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?)
        })
    }

    pub fn set_record_state(
        &self,
        id: &InspectionId,
        version: u32,
        from: &[LocalState],
        to: LocalState,
    ) -> CoreResult<()> {
        self.store.write(|tx| {
            if let Some(row) = load_record(tx, id)?
                && row.inspection.version == version
                && from.contains(&row.state)
            {
                tx.execute(
                    "UPDATE records SET state = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id.to_string(), to.as_str(), self.now_rfc3339()],
                )?;
            }
            Ok(())
        })
    }

    /// Record the server's answer to one outbox entry; the entry leaves the queue and the
    /// record moves, in one transaction.
    pub fn finish_entry(&self, e: &OutboxEntry, outcome: &shared::sync::MutationOutcome) -> CoreResult<()> {
        use shared::sync::MutationOutcome as O;
        if matches!(e.mutation.op, MutationOp::Review { .. }) {
            return self.finish_decision(e, outcome);
        }
        let (state, error, server_seq): (LocalState, Option<&ApiError>, Option<u64>) = match outcome {
            O::Applied { server_seq } => (LocalState::Submitted, None, Some(*server_seq)),
            O::Rejected { error } => (LocalState::Refused, Some(error), None),
            O::Conflict { error, .. } => (LocalState::Conflict, Some(error), None),
            O::MissingBlobs { .. } | O::Gap { .. } => return Ok(()),
        };
        self.store.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'done', result = ?2, done_at = ?3 WHERE seq = ?1",
                params![e.seq as i64, serde_json::to_string(outcome)?, self.now_rfc3339()],
            )?;
            if let Some(row) = load_record(tx, &e.record_id)? {
                // Only the version this entry carried moves; a newer local version is untouched.
                if row.inspection.version == e.version && matches!(row.state, LocalState::Queued | LocalState::Uploading) {
                    tx.execute(
                        "UPDATE records SET state = ?2, last_error = ?3, server_seq = COALESCE(?4, server_seq), updated_at = ?5 WHERE id = ?1",
                        params![
                            e.record_id.to_string(),
                            state.as_str(),
                            error.map(serde_json::to_string).transpose()?,
                            server_seq.map(|s| s as i64),
                            self.now_rfc3339()
                        ],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The server expects `expected` next but holds less than we sent: put every entry from
    /// there back in the queue (their payloads are frozen, so resending is safe).
    pub fn requeue_from(&self, expected: u64) -> CoreResult<u64> {
        self.store.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET state = 'pending', result = NULL, done_at = NULL WHERE seq >= ?1 AND state = 'done'",
                [expected as i64],
            )?;
            // Decisions among them wait for the server's answer again (one the reviewer dropped
            // stays dropped; its entry goes again all the same, the sequence has no holes).
            tx.execute(
                "UPDATE review_decisions SET state = 'queued', error = NULL, server = NULL
                 WHERE seq >= ?1 AND state IN ('synced', 'refused', 'conflict')",
                [expected as i64],
            )?;
            Ok(n as u64)
        })
    }

    pub fn bump_attempts(&self, seqs: &[u64]) -> CoreResult<()> {
        self.store.write(|tx| {
            for s in seqs {
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2 WHERE seq = ?1",
                    params![*s as i64, self.now_rfc3339()],
                )?;
            }
            Ok(())
        })
    }

    /// The pull scope of this tablet and the meta key of its cursor.
    pub fn pull_scope(&self) -> CoreResult<(shared::sync::PullScope, &'static str)> {
        Ok(if self.review_mode()? {
            (shared::sync::PullScope::Review, keys::CURSOR_REVIEW)
        } else {
            (shared::sync::PullScope::Inspector, keys::CURSOR_INSPECTOR)
        })
    }

    /// A fetch of the whole scope starts: every local site becomes unconfirmed until a page
    /// brings it again (`server_seq = -1`; any real sequence replaces it), and so does every
    /// record of a reviewer's scope (`unconfirmed`, keeping its sequence so that what is on the
    /// tablet stays ready for offline review meanwhile).
    pub fn begin_refetch(&self) -> CoreResult<()> {
        let (_, cursor) = self.pull_scope()?;
        self.store.write(|tx| {
            tx.execute("UPDATE sites SET server_seq = -1", [])?;
            tx.execute("UPDATE review_records SET unconfirmed = 1", [])?;
            meta_set(tx, keys::REFETCH, "1")?;
            meta_set(tx, cursor, "")?;
            Ok(())
        })
    }

    /// The whole scope is in: sites and review records it no longer holds (villages
    /// reassigned, a reviewer moved) go, unless a record or a decision on the device names
    /// them. Answers how many sites went.
    pub fn finish_refetch(&self) -> CoreResult<usize> {
        self.store.write(|tx| {
            if meta_get(tx, keys::REFETCH)?.as_deref() != Some("1") {
                return Ok(0);
            }
            // A decision still waiting to go keeps its record (the server will answer it);
            // everything else the scope no longer holds leaves.
            tx.execute(
                "DELETE FROM review_records WHERE unconfirmed = 1
                   AND id NOT IN (SELECT record_id FROM review_decisions WHERE state = 'queued')",
                [],
            )?;
            let n = tx.execute(
                "DELETE FROM sites WHERE server_seq = -1 AND id NOT IN (SELECT site_id FROM records)
                   AND id NOT IN (SELECT site_id FROM review_records)",
                [],
            )?;
            meta_set(tx, keys::REFETCH, "")?;
            Ok(n)
        })
    }

    /// Apply one pulled page and its cursor in one transaction.
    pub fn apply_page(&self, changes: &[shared::sync::Change], cursor: &str) -> CoreResult<()> {
        use shared::sync::Change;
        let now = self.now_rfc3339();
        let (scope, cursor_key) = self.pull_scope()?;
        let review = scope == shared::sync::PullScope::Review;
        self.store.write(|tx| {
            for ch in changes {
                match ch {
                    Change::Site { site } => upsert_site(tx, site)?,
                    Change::Inspection { record } if review => {
                        crate::review::upsert_review_record(tx, record)?
                    }
                    Change::Inspection { record } => merge_record(tx, record, &now)?,
                }
            }
            meta_set(tx, cursor_key, cursor)?;
            Ok(())
        })
    }
}

fn uuid_col(s: String) -> rusqlite::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> CoreResult<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn upsert_site(tx: &Transaction<'_>, site: &Site) -> CoreResult<()> {
    let search = format!("{} {} {}", site.name, site.village, site.kind().as_str()).to_lowercase();
    tx.prepare_cached(
        "INSERT INTO sites (id, village, kind, status, name, search, data, server_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET village = excluded.village, kind = excluded.kind, status = excluded.status,
             name = excluded.name, search = excluded.search, data = excluded.data, server_seq = excluded.server_seq
         WHERE excluded.server_seq >= sites.server_seq",
    )?
    .execute(params![
        site.id.to_string(),
        site.village.as_str(),
        site.kind().as_str(),
        site.status.map(|s| s.as_str()),
        site.name,
        search,
        serde_json::to_string(site)?,
        site.version as i64
    ])?;
    Ok(())
}

/// Merge the server's view of a record into the local one. The server owns review state; the
/// device owns a newer local version (a correction being written or queued).
fn merge_record(tx: &Transaction<'_>, rec: &InspectionRecord, now: &str) -> CoreResult<()> {
    let id = rec.inspection.id;
    let state = state_for(rec.status);
    let review = rec.review.as_ref().map(serde_json::to_string).transpose()?;
    match load_record(tx, &id)? {
        None => {
            tx.execute(
                "INSERT INTO records (id, site_id, kind, version, state, data, review, server_seq, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    id.to_string(),
                    rec.inspection.site_id.to_string(),
                    rec.inspection.kind().as_str(),
                    rec.inspection.version,
                    state.as_str(),
                    serde_json::to_string(&rec.inspection)?,
                    review,
                    rec.server_seq as i64,
                    now
                ],
            )?;
        }
        Some(local) if local.inspection.version > rec.inspection.version => {
            // A correction is in progress here: keep it, but keep the reviewer's note current.
            tx.execute("UPDATE records SET review = ?2 WHERE id = ?1", params![id.to_string(), review])?;
        }
        Some(local)
            if matches!(local.state, LocalState::Draft | LocalState::Refused | LocalState::Conflict)
                || (matches!(local.state, LocalState::Queued | LocalState::Uploading)
                    && local.inspection != rec.inspection) =>
        {
            // Local content the server does not hold (being edited, refused, conflicting, or
            // queued with other content) is never replaced silently; only the note is current.
            tx.execute("UPDATE records SET review = ?2 WHERE id = ?1", params![id.to_string(), review])?;
        }
        Some(_) => {
            tx.execute(
                "UPDATE records SET version = ?2, data = ?3, state = ?4, review = ?5, server_seq = ?6, last_error = NULL,
                        updated_at = ?7 WHERE id = ?1 AND (server_seq IS NULL OR server_seq <= ?6)",
                params![
                    id.to_string(),
                    rec.inspection.version,
                    serde_json::to_string(&rec.inspection)?,
                    state.as_str(),
                    review,
                    rec.server_seq as i64,
                    now
                ],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::geo::LngLat;
    use shared::inspection::*;
    use shared::site::*;

    fn water_site() -> Site {
        Site {
            id: SiteId::new(),
            village: "421102101201".parse().unwrap(),
            name: "测试塘".into(),
            position: Some(LngLat::new(114.87, 30.45)),
            status: Some(SiteStatus::Remediating),
            details: SiteDetails::WaterBody(WaterBodyDetails {
                water_type: WaterType::Pond,
                area_m2: Some(900.0),
                length_m: None,
                width_m: None,
                start_name: String::new(),
                start: None,
                end_name: String::new(),
                end: None,
                pollution_causes: vec![],
                planned_completion: String::new(),
                holds_water_all_year: true,
                judged_by: JudgementMethod::Sensory,
                listed: true,
            }),
            version: 1,
            generated: false,
            done_month: None,
        }
    }

    fn inspection(site: SiteId) -> Inspection {
        Inspection {
            schema_version: 1,
            id: InspectionId::new(),
            version: 1,
            replaces_version: None,
            site_id: site,
            body: InspectionBody::WaterBody(WaterBodyBody {
                colour: ColourGrade::Dark,
                odour: OdourGrade::Slight,
                water_depth_cm: None,
                transparency_cm: None,
                dissolved_oxygen_mg_l: None,
                orp_mv: None,
                ammonia_n_mg_l: None,
                public_survey_pct: None,
            }),
            position: None,
            device_time: OffsetDateTime::now_utc(),
            photos: vec![],
            proposed_status: None,
            notes: String::new(),
            document: None,
        }
    }

    fn core_with_site() -> (tempfile::TempDir, AppCore, Site) {
        let dir = tempfile::tempdir().unwrap();
        let core = AppCore::open(dir.path()).unwrap();
        let site = water_site();
        core.apply_page(&[shared::sync::Change::Site { site: Box::new(site.clone()) }], "c1.1").unwrap();
        (dir, core, site)
    }

    #[test]
    fn photos_are_refused_below_the_storage_floor_and_nothing_is_written() {
        let (_dir, core, site) = core_with_site();
        let photo = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/photos/coolpix-gps-small.jpg"),
        )
        .unwrap();
        let cfg = crate::photos::PipelineConfig::default();
        let files = |core: &AppCore| std::fs::read_dir(&core.photo_dir).unwrap().count();
        let photos = |core: &AppCore| {
            core.store
                .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM photos", [], |r| r.get::<_, i64>(0))?))
                .unwrap()
        };
        let (files_before, photos_before) = (files(&core), photos(&core));
        // A floor 50 MiB above what is free now.
        let free = core.storage().unwrap().expect("the platform reports free space").free_bytes;
        let mut s = core.settings().unwrap();
        s.storage_floor_mib = (free / (1024 * 1024)) as u32 + 50;
        core.set_settings(&s).unwrap();
        let status = core.storage().unwrap().unwrap();
        assert!(status.is_low());
        let err = core.add_photo(&photo, &site.id, None, &cfg).unwrap_err();
        assert_eq!(err.code(), ErrorCode::StorageLow);
        assert_eq!((files(&core), photos(&core)), (files_before, photos_before), "nothing written");
        // With the floor back at its default the same photo is kept.
        s.storage_floor_mib = shared::app::DeviceSettings::default().storage_floor_mib;
        core.set_settings(&s).unwrap();
        core.add_photo(&photo, &site.id, None, &cfg).unwrap();
        assert_eq!(photos(&core), photos_before + 1);
        // Settings out of range are refused and leave the stored ones alone.
        s.storage_floor_mib = 1;
        assert_eq!(core.set_settings(&s).unwrap_err().code(), ErrorCode::ValidationFailed);
        assert_eq!(core.settings().unwrap().storage_floor_mib, 200);
    }

    fn table_counts(core: &AppCore) -> (i64, i64, String, String) {
        core.store
            .read(|c| {
                let outbox: i64 = c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
                let queued: i64 =
                    c.query_row("SELECT COUNT(*) FROM records WHERE state = 'queued'", [], |r| r.get(0))?;
                let next = meta_get(c, keys::NEXT_SEQ)?.unwrap_or_default();
                let states: Vec<String> = c
                    .prepare("SELECT state FROM records ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok((outbox, queued, next, states.join(",")))
            })
            .unwrap()
    }

    /// A reviewer's tablet holding one submitted record of another user's.
    fn reviewer_core_with_record() -> (tempfile::TempDir, AppCore, InspectionRecord) {
        let dir = tempfile::tempdir().unwrap();
        let core = AppCore::open(dir.path()).unwrap();
        let user = shared::auth::UserInfo {
            id: shared::UserId::new(),
            username: "reviewer".into(),
            display_name: "审核员".into(),
            role: shared::auth::Role::TownshipReviewer,
            region: "421102101000".parse().unwrap(),
        };
        core.set_meta(keys::USER, &serde_json::to_string(&user).unwrap()).unwrap();
        let site = water_site();
        let rec = InspectionRecord {
            inspection: inspection(site.id),
            status: ReviewStatus::Submitted,
            review: None,
            submitted_by: shared::UserId::new(),
            device_id: DeviceId::new(),
            received_at: OffsetDateTime::now_utc(),
            server_seq: 5,
        };
        core.apply_page(
            &[
                shared::sync::Change::Site { site: Box::new(site) },
                shared::sync::Change::Inspection { record: Box::new(rec.clone()) },
            ],
            "c1.5",
        )
        .unwrap();
        (dir, core, rec)
    }

    #[test]
    fn photos_for_offline_review_come_smallest_first_and_only_as_named() {
        let (_dir, core, mut rec) = reviewer_core_with_record();
        let bodies: Vec<Vec<u8>> = [300usize, 100, 200].iter().map(|n| vec![*n as u8; *n]).collect();
        rec.inspection.photos = bodies
            .iter()
            .map(|b| shared::inspection::PhotoRef {
                sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)),
                bytes: b.len() as u64,
                ..serde_json::from_value(serde_json::json!({
                    "sha256": "", "bytes": 0, "width": 1, "height": 1, "original_sha256": ""
                }))
                .unwrap()
            })
            .collect();
        rec.server_seq = 6;
        core.apply_page(&[shared::sync::Change::Inspection { record: Box::new(rec.clone()) }], "c1.6")
            .unwrap();
        let want: Vec<u64> = core.photos_wanted().unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(want, vec![100, 200, 300]);
        let item = core.review_item(&rec.inspection.id).unwrap();
        assert_eq!((item.photos, item.photos_local, item.ready_offline()), (3, 0, false));
        // A photo that is not the one named is not kept.
        let (smallest, _) = core.photos_wanted().unwrap()[0].clone();
        assert_eq!(
            core.keep_fetched_photo(&smallest, &bodies[0]).unwrap_err().code(),
            ErrorCode::HashMismatch
        );
        core.keep_fetched_photo(&smallest, &bodies[1]).unwrap();
        let want: Vec<u64> = core.photos_wanted().unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(want, vec![200, 300]);
        assert_eq!(core.review_item(&rec.inspection.id).unwrap().photos_local, 1);
    }

    #[test]
    fn a_decision_interrupted_at_every_step_leaves_nothing_half_written() {
        use shared::offline_review::{DecisionRequest, DecisionState};
        let (_dir, core, rec) = reviewer_core_with_record();
        assert!(core.review_mode().unwrap());
        assert!(core.records(None, 10).unwrap().is_empty(), "another's record is not an own record");
        let snapshot = |core: &AppCore| {
            core.store
                .read(|c| {
                    let outbox: i64 = c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
                    let decisions: i64 =
                        c.query_row("SELECT COUNT(*) FROM review_decisions", [], |r| r.get(0))?;
                    Ok((outbox, decisions, meta_get(c, keys::NEXT_SEQ)?.unwrap_or_default()))
                })
                .unwrap()
        };
        let before = snapshot(&core);
        let req = DecisionRequest {
            record_id: rec.inspection.id,
            version: 1,
            decision: shared::review::ReviewDecision::Return,
            comment: "请补充".into(),
        };
        let mut step = 0;
        let made = loop {
            core.store.fail_at_step(step);
            match core.decide(std::slice::from_ref(&req)) {
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::Unavailable, "step {step}: {e}");
                    assert_eq!(snapshot(&core), before, "step {step} left a partial write");
                    step += 1;
                }
                Ok(made) => break made,
            }
        };
        assert!(step >= 3, "every write step was exercised ({step})");
        assert_eq!(made[0].state, DecisionState::Queued);
        assert_eq!(snapshot(&core), (1, 1, "2".into()));
        let pending = core.pending(10).unwrap();
        assert!(matches!(pending[0].mutation.op, MutationOp::Review { version: 1, .. }));
        // The same record again is refused while the first decision stands.
        assert_eq!(core.decide(&[req]).unwrap_err().code(), ErrorCode::IllegalTransition);
    }

    #[test]
    fn submit_interrupted_at_every_step_leaves_no_half_record() {
        let (_dir, core, site) = core_with_site();
        let i = inspection(site.id);
        core.save_draft(&i).unwrap();
        let before = table_counts(&core);
        let mut step = 0;
        loop {
            core.store.fail_at_step(step);
            match core.submit(&i.id) {
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::Unavailable, "step {step}: {e}");
                    assert_eq!(table_counts(&core), before, "step {step} left a partial write");
                    step += 1;
                }
                Ok(s) => {
                    assert_eq!(s.state, LocalState::Queued);
                    break;
                }
            }
        }
        assert!(step >= 4, "every write step was exercised ({step})");
        let (outbox, queued, next, _) = table_counts(&core);
        assert_eq!((outbox, queued, next.as_str()), (1, 1, "2"));
        // The queued payload is exactly the record.
        let pending = core.pending(10).unwrap();
        let MutationOp::SubmitInspection { inspection: sent, signature } = &pending[0].mutation.op else {
            panic!("a submission")
        };
        assert!(
            crate::signing::tests::signed_by(&core, sent, signature.as_deref()),
            "queued signed by this device"
        );
        assert_eq!(sent.as_ref(), &i);
        assert_eq!(pending[0].mutation.seq, 1);
    }

    #[test]
    fn queued_records_are_frozen_and_drafts_validated_on_submit() {
        let (_dir, core, site) = core_with_site();
        let mut i = inspection(site.id);
        i.notes = "x".repeat(3000);
        let (_, errors) = core.save_draft(&i).unwrap();
        assert!(errors.iter().any(|e| e.field == "notes"));
        let err = core.submit(&i.id).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        i.notes = "ok".into();
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
        assert_eq!(core.save_draft(&i).unwrap_err().code(), ErrorCode::IllegalTransition);
        assert_eq!(core.submit(&i.id).unwrap_err().code(), ErrorCode::IllegalTransition);
    }

    #[test]
    fn reopening_keeps_pending_outbox_and_device_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (device, id) = {
            let core = AppCore::open(dir.path()).unwrap();
            let site = water_site();
            core.apply_page(&[shared::sync::Change::Site { site: Box::new(site.clone()) }], "c1.1").unwrap();
            let i = inspection(site.id);
            core.save_draft(&i).unwrap();
            core.submit(&i.id).unwrap();
            (core.device_id().unwrap(), i.id)
        };
        let core = AppCore::open(dir.path()).unwrap();
        assert_eq!(core.device_id().unwrap(), device);
        let pending = core.pending(10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].record_id, id);
        assert_eq!(core.summary(&id).unwrap().state, LocalState::Queued);
    }

    #[test]
    fn migration_keeps_pending_outbox_entries() {
        let dir = tempfile::tempdir().unwrap();
        // An app of schema 1 queued a record and was then upgraded.
        {
            let conn = Connection::open(dir.path().join("app.db")).unwrap();
            crate::store::migrate_to(&conn, 1).unwrap();
            let has_col: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'last_attempt_at'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(has_col, 0, "schema 1 predates the column");
        }
        let site = water_site();
        let i = inspection(site.id);
        {
            let conn = Connection::open(dir.path().join("app.db")).unwrap();
            let m = Mutation {
                seq: 1,
                mutation_id: MutationId::new(),
                op: MutationOp::SubmitInspection { inspection: Box::new(i.clone()), signature: None },
            };
            conn.execute(
                "INSERT INTO records (id, site_id, kind, version, state, data, created_at, updated_at) VALUES (?1, ?2, 'water_body', 1, 'queued', ?3, 'x', 'x')",
                params![i.id.to_string(), site.id.to_string(), serde_json::to_string(&i).unwrap()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO outbox (seq, mutation_id, record_id, version, payload, state, created_at) VALUES (1, ?1, ?2, 1, ?3, 'pending', 'x')",
                params![m.mutation_id.to_string(), i.id.to_string(), serde_json::to_string(&m).unwrap()],
            )
            .unwrap();
        }
        let core = AppCore::open(dir.path()).unwrap();
        let pending = core.pending(10).unwrap();
        assert_eq!(pending.len(), 1, "the queued entry survives the upgrade");
        let MutationOp::SubmitInspection { inspection: sent, signature } = &pending[0].mutation.op else {
            panic!("a submission")
        };
        assert!(
            crate::signing::tests::signed_by(&core, sent, signature.as_deref()),
            "queued signed by this device"
        );
        assert_eq!(sent.as_ref(), &i);
        core.bump_attempts(&[1]).unwrap();
        let at: Option<String> = core
            .store
            .read(|c| Ok(c.query_row("SELECT last_attempt_at FROM outbox WHERE seq = 1", [], |r| r.get(0))?))
            .unwrap();
        assert!(at.is_some(), "the new column is in use");
        assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Queued);
    }

    #[test]
    fn search_sites_offline() {
        let (_dir, core, site) = core_with_site();
        assert_eq!(core.search_sites("测试", None, None, 10).unwrap(), vec![site.clone()]);
        assert_eq!(core.search_sites("421102101201", Some(SiteKind::WaterBody), None, 10).unwrap().len(), 1);
        assert!(core.search_sites("", Some(SiteKind::Village), None, 10).unwrap().is_empty());
        assert!(core.search_sites("%", None, None, 10).unwrap().is_empty(), "LIKE wildcards are literal");
        assert_eq!(core.search_sites("", None, Some(SiteStatus::Remediating), 10).unwrap().len(), 1);
    }
}
