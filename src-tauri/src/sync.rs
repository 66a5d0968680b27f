//! The sync client: resumable photo upload, push of the outbox, pull of the inspector's scope,
//! with jittered exponential backoff. It speaks exactly the server's protocol (`shared::sync`).

use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use shared::app::UploadProgress;
use shared::auth::{DeviceInfo, LoginRequest, LoginResponse, RegisterDeviceRequest};
use shared::console::RecordDetail;
use shared::offline_review::PrefetchProgress;
use shared::sync::*;
use shared::{ApiError, ErrorCode, InspectionId};

use crate::core::{AppCore, keys};
use crate::error::{CoreError, CoreResult};

/// Default upload chunk: small enough that a broken 2G link re-sends little.
pub const DEFAULT_CHUNK: usize = 256 * 1024;
const PUSH_BATCH: u32 = 100;

/// Why a request failed, and whether trying again can help.
#[derive(Debug, Clone)]
pub enum SyncError {
    /// No connection, timeout, broken transfer or 5xx: retry with backoff.
    Transient(String),
    /// The token is missing, expired or revoked: log in again.
    Unauthenticated(ApiError),
    /// The server refused the request itself (4xx).
    Refused(StatusCode, ApiError),
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Transient(_))
    }
}

impl From<SyncError> for CoreError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Transient(m) => CoreError::new(ErrorCode::Unavailable, format!("无法连接服务器: {m}")),
            SyncError::Unauthenticated(a) | SyncError::Refused(_, a) => CoreError(a),
        }
    }
}

impl From<reqwest::Error> for SyncError {
    fn from(e: reqwest::Error) -> Self {
        SyncError::Transient(e.to_string())
    }
}

#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    pub chunk: usize,
    /// Whether the server reads zstd request bodies, as its answers say (`Accept-Encoding`):
    /// unknown until the first answer, shared by the clones of one client.
    zstd: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// Set by [`SyncClient::uncompressed`].
    plain: bool,
}

/// States of [`SyncClient::zstd`].
const ZSTD_UNKNOWN: u8 = 0;
const ZSTD_NO: u8 = 1;
const ZSTD_YES: u8 = 2;

/// Push bodies at least this large go compressed (smaller ones gain less than a frame costs).
const COMPRESS_FROM: usize = 1024;

impl SyncClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        SyncClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: None,
            chunk: DEFAULT_CHUNK,
            zstd: Default::default(),
            plain: false,
        }
    }

    /// Neither ask for compressed answers nor compress pushes: the wire as it was before
    /// compression (benchmarks' baseline; a proxy that mangles encodings).
    pub fn uncompressed(mut self) -> Self {
        self.http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .no_gzip()
            .no_zstd()
            .build()
            .unwrap_or_default();
        self.plain = true;
        self
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Note what the answer says of request encodings (RFC 7694): the server's own answers carry
    /// `Accept-Encoding`; one without it (an older server, a proxy's error page) says no.
    fn learn_encodings(&self, resp: &reqwest::Response) {
        let zstd =
            resp.headers().get_all(reqwest::header::ACCEPT_ENCODING).iter().any(|v| {
                v.to_str().is_ok_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("zstd")))
            });
        if zstd || resp.status().is_success() {
            self.zstd.store(if zstd { ZSTD_YES } else { ZSTD_NO }, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether to compress a request body to this server, asking it first (a tiny request,
    /// once per client) when no answer has said yet.
    async fn server_reads_zstd(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.plain {
            return false;
        }
        if self.zstd.load(Relaxed) == ZSTD_UNKNOWN
            && let Ok(resp) = self.http.get(format!("{}/healthz", self.base)).send().await
        {
            self.learn_encodings(&resp);
        }
        self.zstd.load(Relaxed) == ZSTD_YES
    }

    async fn decode<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, SyncError> {
        self.learn_encodings(&resp);
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| SyncError::Transient(format!("bad answer: {e}")));
        }
        let err: ApiError = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| ApiError::new(ErrorCode::Internal, format!("HTTP {status}")));
        Err(if status == StatusCode::UNAUTHORIZED {
            SyncError::Unauthenticated(err)
        } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            SyncError::Transient(format!("HTTP {status}: {}", err.message))
        } else {
            SyncError::Refused(status, err)
        })
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, SyncError> {
        let resp = self
            .req(reqwest::Method::POST, "/api/v1/auth/login")
            .json(&LoginRequest { username: username.into(), password: password.into() })
            .send()
            .await?;
        self.decode(resp).await
    }

    /// Revoke this client's token on the server.
    pub async fn logout(&self) -> Result<(), SyncError> {
        let resp = self.req(reqwest::Method::POST, "/api/v1/auth/logout").send().await?;
        if resp.status().is_success() {
            return Ok(());
        }
        self.decode::<serde_json::Value>(resp).await.map(|_| ())
    }

    pub async fn register_device(&self, req: &RegisterDeviceRequest) -> Result<DeviceInfo, SyncError> {
        let resp = self.req(reqwest::Method::POST, "/api/v1/devices").json(req).send().await?;
        self.decode(resp).await
    }

    /// Push a batch, zstd-compressed when the server reads it (JSON of records compresses to a
    /// fifth or less; what a 2G link is slow at is bytes).
    pub async fn push(&self, req: &PushRequest) -> Result<PushResponse, SyncError> {
        let body = serde_json::to_vec(req).map_err(|e| SyncError::Transient(format!("encode push: {e}")))?;
        let compressed = if body.len() >= COMPRESS_FROM && self.server_reads_zstd().await {
            zstd::bulk::compress(&body, 3).ok()
        } else {
            None
        };
        let post = || {
            self.req(reqwest::Method::POST, "/api/v1/sync/push")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
        };
        let resp = match compressed {
            Some(z) => {
                let resp = post().header(reqwest::header::CONTENT_ENCODING, "zstd").body(z).send().await?;
                if resp.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    return self.decode(resp).await;
                }
                // Refused after all (a proxy in between that does not pass it): plain from now on.
                self.zstd.store(ZSTD_NO, std::sync::atomic::Ordering::Relaxed);
                post().body(body).send().await?
            }
            None => post().body(body).send().await?,
        };
        self.decode(resp).await
    }

    /// Whether the last answer said the server reads zstd request bodies (tests, diagnostics).
    pub fn compresses_pushes(&self) -> bool {
        self.zstd.load(std::sync::atomic::Ordering::Relaxed) == ZSTD_YES
    }

    pub async fn pull(&self, cursor: Option<&str>, limit: u32) -> Result<PullPage, SyncError> {
        self.pull_scope(shared::sync::PullScope::Inspector, cursor, limit).await
    }

    pub async fn pull_scope(
        &self,
        scope: shared::sync::PullScope,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<PullPage, SyncError> {
        let scope = match scope {
            shared::sync::PullScope::Inspector => "inspector",
            shared::sync::PullScope::Review => "review",
        };
        let mut path = format!("/api/v1/sync/pull?scope={scope}&limit={limit}");
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.push_str(c);
        }
        let resp = self.req(reqwest::Method::GET, &path).send().await?;
        self.decode(resp).await
    }

    pub async fn number_blocks(
        &self,
        req: &shared::documents::NumberBlockRequest,
    ) -> Result<shared::documents::NumberBlockResponse, SyncError> {
        let resp =
            self.req(reqwest::Method::POST, "/api/v1/documents/number-blocks").json(req).send().await?;
        self.decode(resp).await
    }

    /// A record as a reviewer sees it: every version, history, flags.
    pub async fn record_detail(&self, id: &InspectionId) -> Result<RecordDetail, SyncError> {
        let resp = self.req(reqwest::Method::GET, &format!("/api/v1/inspections/{id}")).send().await?;
        self.decode(resp).await
    }

    /// A stored photo's bytes.
    pub async fn download(&self, sha256: &str) -> Result<Vec<u8>, SyncError> {
        let resp = self.req(reqwest::Method::GET, &format!("/api/v1/blobs/{sha256}")).send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.bytes().await?.to_vec());
        }
        self.decode::<serde_json::Value>(resp).await.map(|_| Vec::new())
    }

    pub async fn blob_start(&self, sha256: &str, size: u64) -> Result<BlobStatus, SyncError> {
        let resp = self
            .req(reqwest::Method::POST, &format!("/api/v1/blobs/{sha256}"))
            .json(&BlobUploadStart { size })
            .send()
            .await?;
        self.decode(resp).await
    }

    pub async fn blob_append(
        &self,
        sha256: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<BlobStatus, SyncError> {
        let resp = self
            .req(reqwest::Method::PATCH, &format!("/api/v1/blobs/{sha256}?offset={offset}"))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        self.decode(resp).await
    }

    /// Upload one blob, resuming at the server's offset; a 409 re-reads the offset.
    pub async fn upload(
        &self,
        sha256: &str,
        bytes: &[u8],
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), SyncError> {
        let mut st = self.blob_start(sha256, bytes.len() as u64).await?;
        progress(st.offset);
        let mut conflicts = 0;
        // Nothing left to send but not complete: one empty append lets the server finish what
        // it holds; answered incomplete again, this sync gives up (and retries with backoff)
        // rather than asking in a loop.
        let mut asked_to_finish = false;
        while !st.complete {
            let at_end = st.offset == bytes.len() as u64;
            if st.offset > bytes.len() as u64 || (at_end && (conflicts >= 5 || asked_to_finish)) {
                return Err(SyncError::Transient(format!(
                    "server offset {} does not fit {} bytes",
                    st.offset,
                    bytes.len()
                )));
            }
            asked_to_finish |= at_end;
            let from = st.offset as usize;
            let to = (from + self.chunk).min(bytes.len());
            match self.blob_append(sha256, st.offset, bytes[from..to].to_vec()).await {
                Ok(s) => st = s,
                Err(SyncError::Refused(StatusCode::CONFLICT, e))
                    if e.code == ErrorCode::OffsetMismatch && conflicts < 5 =>
                {
                    conflicts += 1;
                    st = self.blob_start(sha256, bytes.len() as u64).await?;
                }
                Err(e) => return Err(e),
            }
            progress(st.offset);
        }
        Ok(())
    }
}

/// Full-jitter exponential backoff.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, attempt: 0 }
    }

    /// The next delay: uniform in [0, min(max, base · 2^attempt)].
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.base.saturating_mul(1u32 << self.attempt.min(20)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { rand::thread_rng().gen_range(0..=ms) })
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub pushed: u32,
    pub refused: u32,
    pub conflicts: u32,
    pub photos_uploaded: u32,
    pub pulled: u32,
    /// Review mode: details and photos fetched for offline review.
    pub prefetched: PrefetchProgress,
}

/// Log in, remember the server, token and user, and register this device.
pub async fn login(
    core: &AppCore,
    server_url: &str,
    username: &str,
    password: &str,
) -> CoreResult<shared::auth::UserInfo> {
    let client = SyncClient::new(server_url);
    let r = client.login(username, password).await?;
    use shared::auth::Role;
    if matches!(r.user.role, Role::CountyViewer | Role::PrefectureViewer | Role::ProvinceViewer) {
        // Viewers read progress in the console; the app records and reviews.
        let client = client.with_token(Some(r.token.clone()));
        let _ = client.logout().await;
        return Err(CoreError::new(ErrorCode::Forbidden, "该账号为查看角色，请使用网页控制台"));
    }
    let client = client.with_token(Some(r.token.clone()));
    let device = client.register_device(&core.register_request()?).await?;
    core.store.write(|tx| {
        use crate::store::{meta_get, meta_set};
        meta_set(tx, keys::SERVER_URL, client.base())?;
        meta_set(tx, keys::TOKEN, &r.token)?;
        meta_set(tx, keys::USER, &serde_json::to_string(&r.user)?)?;
        meta_set(tx, keys::DEVICE_REGISTERED, "1")?;
        // Never reuse a sequence number the server already consumed.
        let next: u64 = meta_get(tx, keys::NEXT_SEQ)?.and_then(|s| s.parse().ok()).unwrap_or(1);
        if next <= device.last_seq {
            meta_set(tx, keys::NEXT_SEQ, &(device.last_seq + 1).to_string())?;
        }
        Ok(())
    })?;
    Ok(r.user)
}

/// A client for the stored server and token.
pub fn client_for(core: &AppCore) -> CoreResult<SyncClient> {
    let url = core
        .meta(keys::SERVER_URL)?
        .ok_or_else(|| CoreError::new(ErrorCode::Unauthenticated, "尚未设置服务器地址并登录"))?;
    Ok(SyncClient::new(&url).with_token(core.meta(keys::TOKEN)?))
}

/// One full sync: upload photos, push the outbox, pull the scope. Transient failures surface as
/// `unavailable` for the caller's backoff; nothing local is lost either way.
pub async fn sync_once(
    core: &AppCore,
    client: &SyncClient,
    progress: &mut (dyn FnMut(Option<UploadProgress>) + Send),
) -> CoreResult<SyncReport> {
    sync_once_reporting(core, client, progress, &mut |_| {}).await
}

/// [`sync_once`], reporting the review mode's background fetch as well.
pub async fn sync_once_reporting(
    core: &AppCore,
    client: &SyncClient,
    progress: &mut (dyn FnMut(Option<UploadProgress>) + Send),
    prefetch: &mut (dyn FnMut(PrefetchProgress) + Send),
) -> CoreResult<SyncReport> {
    let mut report = SyncReport::default();
    reconcile_sequence(core, client).await?;
    let pushed = push_all(core, client, &mut report, progress).await;
    // A push that cannot finish must not keep review outcomes from reaching the device.
    pull_all(core, client, &mut report).await?;
    pushed?;
    refill_numbers(core, client).await?;
    core.set_meta(keys::LAST_SYNC_AT, &core.now_rfc3339())?;
    progress(None);
    // Last: the queue is already current and decisions are out; photos may take a while, and
    // a link lost meanwhile fails nothing (what arrived is kept; the next sync goes on).
    report.prefetched = prefetch_for_review(core, client, prefetch).await?;
    Ok(report)
}

/// Compare this device's sequence with what the server applied (registration is idempotent
/// and answers it): a server restored from an older backup gets the lost mutations again; a
/// device restored from an older backup never reuses a consumed number.
async fn reconcile_sequence(core: &AppCore, client: &SyncClient) -> CoreResult<()> {
    let info = client.register_device(&core.register_request()?).await?;
    let next: u64 = core.meta(keys::NEXT_SEQ)?.and_then(|s| s.parse().ok()).unwrap_or(1);
    if info.last_seq + 1 < next {
        core.requeue_from(info.last_seq + 1)?;
    } else if info.last_seq >= next {
        core.set_meta(keys::NEXT_SEQ, &(info.last_seq + 1).to_string())?;
    }
    Ok(())
}

/// While online, top up the document numbers (文书编号) of kinds that run low, so that the
/// inspector can make documents for days without signal. Only inspectors' devices hold numbers.
async fn refill_numbers(core: &AppCore, client: &SyncClient) -> CoreResult<()> {
    if core.user()?.is_none_or(|u| u.role != shared::auth::Role::Inspector) {
        return Ok(());
    }
    let kinds = core.number_kinds_wanted()?;
    if kinds.is_empty() {
        return Ok(());
    }
    let req = shared::documents::NumberBlockRequest {
        device_id: core.device_id()?,
        year: core.now().to_offset(shared::clock::BEIJING).year(),
        kinds,
        size: crate::documents::BLOCK_SIZE,
    };
    let resp = client.number_blocks(&req).await?;
    core.store_number_blocks(&resp.blocks)
}

async fn upload_photos(
    core: &AppCore,
    client: &SyncClient,
    entry: &crate::core::OutboxEntry,
    report: &mut SyncReport,
    progress: &mut (dyn FnMut(Option<UploadProgress>) + Send),
) -> CoreResult<()> {
    let MutationOp::SubmitInspection { inspection, .. } = &entry.mutation.op else { return Ok(()) };
    let hashes = inspection.blob_hashes();
    let total: u64 = inspection.photos.iter().map(|p| p.bytes).sum();
    let mut done_before = 0u64;
    for (n, h) in hashes.iter().enumerate() {
        if core.photo_uploaded(h)? {
            done_before += inspection.photos.iter().find(|p| &p.sha256 == h).map(|p| p.bytes).unwrap_or(0);
            continue;
        }
        let path = core.photo_path(h)?;
        if !path.exists() {
            // A photo of a record pulled from the server (another device, a reinstall): the
            // server already holds it, or will answer `missing_blobs`.
            continue;
        }
        let bytes = std::fs::read(path)?;
        let record_id = entry.record_id;
        let count = hashes.len() as u32;
        client
            .upload(h, &bytes, &mut |sent| {
                progress(Some(UploadProgress {
                    record_id,
                    photo: n as u32 + 1,
                    photos: count,
                    bytes_sent: done_before + sent,
                    bytes_total: total.max(done_before + sent),
                }))
            })
            .await?;
        done_before += bytes.len() as u64;
        core.set_photo_uploaded(h, true)?;
        report.photos_uploaded += 1;
    }
    Ok(())
}

async fn push_all(
    core: &AppCore,
    client: &SyncClient,
    report: &mut SyncReport,
    progress: &mut (dyn FnMut(Option<UploadProgress>) + Send),
) -> CoreResult<()> {
    use shared::app::LocalState;
    let device_id = core.device_id()?;
    // Bounded: each round either finishes entries or re-uploads what the server lacks.
    let mut batch = PUSH_BATCH;
    for _round in 0..50 {
        let entries = core.pending(batch)?;
        if entries.is_empty() {
            return Ok(());
        }
        for e in &entries {
            core.set_record_state(&e.record_id, e.version, &[LocalState::Queued], LocalState::Uploading)?;
            upload_photos(core, client, e, report, progress).await?;
        }
        core.bump_attempts(&entries.iter().map(|e| e.seq).collect::<Vec<_>>())?;
        let req = PushRequest {
            protocol: ProtocolVersion::CURRENT,
            device_id,
            mutations: entries.iter().map(|e| e.mutation.clone()).collect(),
            device_clock: Some(core.now()),
        };
        let resp = match client.push(&req).await {
            // Too large for the server's body limit: send fewer at a time.
            Err(SyncError::Refused(StatusCode::PAYLOAD_TOO_LARGE, _)) if batch > 1 => {
                batch = (batch / 2).max(1);
                continue;
            }
            other => other?,
        };
        for r in &resp.results {
            let Some(e) = entries.iter().find(|e| e.seq == r.seq) else { continue };
            match &r.outcome {
                MutationOutcome::Applied { .. } => report.pushed += 1,
                MutationOutcome::Rejected { .. } => report.refused += 1,
                MutationOutcome::Conflict { .. } => report.conflicts += 1,
                MutationOutcome::MissingBlobs { hashes } => {
                    // The server lacks photos we thought were there: send them again.
                    for h in hashes {
                        core.set_photo_uploaded(h, false)?;
                    }
                }
                MutationOutcome::Gap { expected_seq } => {
                    core.requeue_from(*expected_seq)?;
                }
            }
            core.finish_entry(e, &r.outcome)?;
        }
    }
    Err(CoreError::new(ErrorCode::Unavailable, "同步未能在限定轮次内完成，稍后重试"))
}

async fn pull_all(core: &AppCore, client: &SyncClient, report: &mut SyncReport) -> CoreResult<()> {
    let (scope, cursor_key) = core.pull_scope()?;
    let mut cursor = core.meta(cursor_key)?.filter(|c| !c.is_empty());
    if cursor.is_none() {
        core.begin_refetch()?;
    }
    for _page in 0..10_000 {
        let page = match client.pull_scope(scope, cursor.as_deref(), 200).await {
            Err(SyncError::Refused(_, e)) if e.code == ErrorCode::CursorInvalid => {
                // The server does not know our cursor (restored backup, new server) or our scope
                // changed (villages reassigned): fetch the scope again from the start, and drop
                // the sites it no longer holds at the end. The outbox is untouched.
                cursor = None;
                core.begin_refetch()?;
                continue;
            }
            other => other?,
        };
        report.pulled += page.changes.len() as u32;
        core.apply_page(&page.changes, &page.next_cursor)?;
        cursor = Some(page.next_cursor);
        if !page.has_more {
            core.finish_refetch()?;
            return Ok(());
        }
    }
    Err(CoreError::new(ErrorCode::Unavailable, "拉取页数超出上限"))
}

/// While a link exists, bring what the review queue needs offline: each submitted record's
/// detail (versions, history, flags), then the photos, smallest first so that the most records
/// become reviewable soonest. Stops at the first failure; what is here stays.
pub async fn prefetch_for_review(
    core: &AppCore,
    client: &SyncClient,
    progress: &mut (dyn FnMut(PrefetchProgress) + Send),
) -> CoreResult<PrefetchProgress> {
    let mut p = PrefetchProgress::default();
    if !core.review_mode()? {
        return Ok(p);
    }
    for id in core.details_wanted(u32::MAX)? {
        // Decisions made meanwhile go first: the next sync round sends them.
        if core.pending_count()? > 0 {
            return Ok(p);
        }
        match client.record_detail(&id).await {
            Ok(d) => {
                core.store_detail(&d)?;
                p.details += 1;
            }
            // Gone from the scope meanwhile: the next pull says where it stands.
            Err(SyncError::Refused(..)) => {}
            Err(_) => return Ok(p),
        }
        progress(p);
    }
    let want = core.photos_wanted()?;
    p.photos_total = want.len() as u32;
    progress(p);
    for (h, bytes) in want {
        if core.pending_count()? > 0 {
            return Ok(p);
        }
        match client.download(&h).await {
            // A photo that is not what its hash names (damaged on the way or on the server) is
            // skipped, not kept and not allowed to hold back the ones after it.
            Ok(body) if bytes == 0 || body.len() as u64 == bytes => {
                if core.keep_fetched_photo(&h, &body).is_ok() {
                    p.bytes_done += body.len() as u64;
                }
            }
            Ok(_) | Err(SyncError::Refused(..)) => {}
            Err(_) => return Ok(p),
        }
        p.photos_done += 1;
        progress(p);
    }
    Ok(p)
}

/// How long the background sync waits before its next round: soon while records wait to go
/// (whatever the screen shows: nothing recorded may sit on the device longer than it must),
/// every few minutes for review outcomes while the app is on screen, and not at all while it
/// is hidden with nothing to send (it wakes when shown again or asked to sync).
pub fn next_sync_delay(pending: u32, visible: bool) -> Option<Duration> {
    match (pending, visible) {
        (0, false) => None,
        (0, true) => Some(Duration::from_secs(300)),
        _ => Some(Duration::from_secs(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_full_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 0..12u32 {
            let cap = Duration::from_millis(100).saturating_mul(1 << attempt).min(Duration::from_secs(2));
            let d = b.next_delay();
            assert!(d <= cap, "attempt {attempt}: {d:?} > {cap:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    #[test]
    fn background_sync_rests_only_when_hidden_with_nothing_to_send() {
        assert_eq!(next_sync_delay(0, false), None);
        assert_eq!(next_sync_delay(0, true), Some(Duration::from_secs(300)));
        assert_eq!(next_sync_delay(3, false), Some(Duration::from_secs(60)));
        assert_eq!(next_sync_delay(3, true), Some(Duration::from_secs(60)));
    }
}
