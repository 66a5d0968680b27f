//! The Tauri shell: app state, the background sync loop and thin commands. Built only with
//! `--features app`; everything it calls lives in plain, tested modules.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::ApiError;
use shared::app::{AppStatus, SyncStatus};
use tauri::Manager;

use crate::core::{AppCore, keys};
use crate::error::CoreError;
use crate::photos::PipelineConfig;
use crate::position::PositionService;
use crate::sync::{self, Backoff};

/// Shared by every command.
pub struct Shell {
    pub core: Arc<AppCore>,
    pub pipeline: Arc<PipelineConfig>,
    pub sync: Arc<SyncState>,
    pub position: PositionService,
}

pub struct SyncState {
    pub status: Mutex<SyncStatus>,
    running: tokio::sync::Mutex<()>,
    pub wake: tokio::sync::Notify,
    /// The app is on screen. Hidden with nothing to send, the background sync rests.
    pub visible: AtomicBool,
}

impl Default for SyncState {
    fn default() -> Self {
        SyncState {
            status: Mutex::default(),
            running: tokio::sync::Mutex::default(),
            wake: tokio::sync::Notify::new(),
            visible: AtomicBool::new(true),
        }
    }
}

impl Shell {
    /// Shown again: sync now. Hidden: stop any capture (the sync loop reads the flag).
    pub fn set_visible(&self, visible: bool) {
        let was = self.sync.visible.swap(visible, Ordering::SeqCst);
        if visible && !was {
            self.sync.wake.notify_one();
        }
        if !visible {
            self.position.stop();
        }
    }

    pub fn status(&self) -> Result<AppStatus, ApiError> {
        let core = &self.core;
        let mut sync = self.sync.status.lock().map(|s| s.clone()).unwrap_or_default();
        sync.pending = core.pending_count()?;
        sync.last_sync_at = core.meta(keys::LAST_SYNC_AT)?;
        // Without a token the user must log in again (expired or revoked); the outbox stays.
        let user = if core.meta(keys::TOKEN)?.is_some() { core.user()? } else { None };
        Ok(AppStatus {
            user,
            server_url: core.meta(keys::SERVER_URL)?,
            device_id: core.device_id()?.to_string(),
            counts: core.counts()?,
            sync,
            storage: core.storage()?,
            review: if core.review_mode()? { Some(core.review_counts()?) } else { None },
        })
    }
}

fn set_status(state: &SyncState, f: impl FnOnce(&mut SyncStatus)) {
    if let Ok(mut s) = state.status.lock() {
        f(&mut s);
    }
}

/// One sync, with progress and outcome recorded for the UI. Only one runs at a time.
pub async fn run_sync(core: Arc<AppCore>, state: Arc<SyncState>) -> Result<sync::SyncReport, CoreError> {
    let _one = state.running.lock().await;
    set_status(&state, |s| s.running = true);
    let result = async {
        let client = sync::client_for(&core)?;
        let st = state.clone();
        let st2 = state.clone();
        sync::sync_once_reporting(&core, &client, &mut |p| set_status(&st, |s| s.uploading = p), &mut |p| {
            set_status(&st2, |s| s.prefetch = Some(p))
        })
        .await
    }
    .await;
    if let Err(e) = &result
        && matches!(e.code(), shared::ErrorCode::Unauthenticated | shared::ErrorCode::TokenExpired)
    {
        let _ = core.store.write(|tx| crate::store::meta_delete(tx, keys::TOKEN));
    }
    set_status(&state, |s| {
        s.running = false;
        s.uploading = None;
        s.prefetch = None;
        s.last_error = result.as_ref().err().map(|e| e.0.clone());
    });
    result
}

/// Sync in the background: after login, on demand (`wake`), and on the schedule of
/// `next_sync_delay`; transient failures back off with jitter.
async fn sync_loop(core: Arc<AppCore>, state: Arc<SyncState>) {
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(600));
    let mut delay = Some(Duration::from_secs(2));
    loop {
        match delay {
            Some(d) => {
                tokio::select! {
                    _ = state.wake.notified() => {}
                    _ = tokio::time::sleep(d) => {}
                }
            }
            None => state.wake.notified().await,
        }
        if core.meta(keys::TOKEN).ok().flatten().is_none() {
            delay = Some(Duration::from_secs(60));
            continue;
        }
        let result = run_sync(core.clone(), state.clone()).await;
        let pending = core.pending_count().unwrap_or(1);
        delay = match result {
            Ok(_) => {
                backoff.reset();
                sync::next_sync_delay(pending, state.visible.load(Ordering::SeqCst))
            }
            Err(e) if e.code() == shared::ErrorCode::Unavailable => Some(backoff.next_delay()),
            Err(_) => Some(Duration::from_secs(300)),
        };
    }
}

/// The platform's own location on Android and iOS: the geolocation plugin asks for the
/// permission and streams fixes into the position service until the capture ends. On the
/// desktop the webview's geolocation feeds the service instead (WebKitGTK asks GeoClue).
mod platform_location {
    use shared::geo::LngLat;
    use shared::position::{Fix, SourceConfig};
    use tauri::{AppHandle, Runtime};
    use tauri_plugin_geolocation::{GeolocationExt, PermissionType, PositionOptions, WatchEvent};

    use crate::position::PositionService;

    /// Starts the platform source for a capture; answers whether the webview must feed it.
    pub fn start<R: Runtime>(app: &AppHandle<R>, svc: &PositionService, source: &SourceConfig) -> bool {
        if *source != SourceConfig::Device {
            return false;
        }
        if !cfg!(mobile) {
            return true;
        }
        let geo = app.geolocation();
        if let Err(e) = geo.request_permissions(Some(vec![PermissionType::Location])) {
            let _ = svc.report_error(&format!("无法获得定位权限：{e}"));
            return false;
        }
        let feed = svc.clone();
        let options = PositionOptions { enable_high_accuracy: true, timeout: 10_000, maximum_age: 0 };
        match geo.watch_position(options, move |ev| match ev {
            WatchEvent::Position(p) => {
                let mut fix =
                    Fix::new(LngLat::new(p.coords.longitude, p.coords.latitude), Some(p.coords.accuracy));
                fix.time =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(p.timestamp) * 1_000_000).ok();
                let _ = feed.feed(fix);
            }
            WatchEvent::Error(e) => {
                let _ = feed.report_error(&e);
            }
        }) {
            Ok(id) => {
                let app = app.clone();
                svc.on_end(move || {
                    let _ = app.geolocation().clear_watch(id);
                });
            }
            Err(e) => {
                let _ = svc.report_error(&format!("无法启动定位：{e}"));
            }
        }
        false
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tauri::Builder::default()
        .plugin(tauri_plugin_geolocation::init())
        .plugin(tauri_plugin_opener::init())
        // The webview shows only the app's own bundle: its geolocation requests are the app's.
        .on_permission_request(|_, kind| match kind {
            tauri::webview::PermissionKind::Geolocation => tauri::webview::PermissionResponse::Allow,
            _ => tauri::webview::PermissionResponse::Default,
        })
        .setup(|app| {
            let dir = match std::env::var_os("QINGLIU_APP_DATA") {
                Some(d) => std::path::PathBuf::from(d),
                None => app.path().app_data_dir()?,
            };
            let core = Arc::new(AppCore::open(&dir).map_err(|e| e.0.message)?);
            let sync = Arc::new(SyncState::default());
            tauri::async_runtime::spawn(sync_loop(core.clone(), sync.clone()));
            app.manage(Shell {
                core,
                pipeline: Arc::new(PipelineConfig::default()),
                sync,
                position: PositionService::new(),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::login,
            commands::logout,
            commands::sync_now,
            commands::search_sites,
            commands::site,
            commands::records,
            commands::record,
            commands::save_draft,
            commands::submit,
            commands::start_correction,
            commands::discard_draft,
            commands::accept_server_version,
            commands::add_photo,
            commands::thumbnail,
            commands::settings,
            commands::set_settings,
            commands::position_start,
            commands::position_feed,
            commands::position_error,
            commands::position_status,
            commands::position_stop,
            commands::set_visible,
            commands::prepare_documents,
            commands::sign_record,
            commands::document,
            commands::open_document,
            commands::review_items,
            commands::review_record,
            commands::decide,
            commands::drop_decision,
            commands::photo,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Qingliu app");
}

/// Thin commands: take state, call the core, map errors to `{code, message, fields}`.
pub mod commands {
    use base64::Engine;
    use shared::app::{AppStatus, DeviceSettings, LocalState, RecordDetail, RecordSummary, SaveResult};
    use shared::auth::UserInfo;
    use shared::flags::{FlagThresholds, flags};
    use shared::inspection::{Inspection, PhotoRef, Position};
    use shared::offline_review::{DecisionRequest, LocalDecision, QueueFilter, ReviewItem, ReviewRecordView};
    use shared::position::{CaptureMode, CaptureStart, CaptureStatus, Fix};
    use shared::site::{Site, SiteKind, SiteStatus};
    use shared::{ApiError, ErrorCode, InspectionId, SiteId};
    use tauri::ipc::{InvokeBody, Request};
    use tauri::{AppHandle, State};

    use super::{Shell, run_sync};
    use crate::core::keys;
    use crate::error::CoreError;

    type R<T> = Result<T, ApiError>;

    #[tauri::command]
    pub fn prepare_documents(shell: State<'_, Shell>, id: InspectionId) -> R<Inspection> {
        Ok(shell.core.prepare_documents(&id)?)
    }

    /// `png` is the pad's image, base64.
    #[tauri::command]
    pub fn sign_record(
        shell: State<'_, Shell>,
        id: InspectionId,
        role: shared::inspection::SignerRole,
        signer: String,
        png: String,
    ) -> R<Inspection> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_bytes())
            .map_err(|_| CoreError::new(ErrorCode::InvalidFormat, "签名图片编码无效"))?;
        Ok(shell.core.sign_record(&id, role, &signer, &bytes)?)
    }

    /// Hand the kept document to the system's PDF viewer, from which the inspector prints it
    /// or shares it. The path is the app's own (record id and kind), never the caller's.
    #[tauri::command]
    pub fn open_document(
        app: AppHandle,
        shell: State<'_, Shell>,
        id: InspectionId,
        kind: shared::documents::DocumentKind,
    ) -> R<()> {
        use tauri_plugin_opener::OpenerExt;
        let (path, _) = shell.core.document(&id, kind)?;
        app.opener().open_path(path.display().to_string(), None::<&str>).map_err(|e| {
            tracing::warn!("no viewer for {}: {e}", path.display());
            ApiError::new(ErrorCode::Unavailable, "本机没有可打开 PDF 的应用，请安装 PDF 阅读器后再试")
        })
    }

    /// The document as base64 PDF (kept beside the record on the device), and the characters
    /// its font cannot print.
    #[tauri::command]
    pub fn document(
        shell: State<'_, Shell>,
        id: InspectionId,
        kind: shared::documents::DocumentKind,
    ) -> R<shared::app::DocumentFile> {
        let (path, pdf) = shell.core.document(&id, kind)?;
        Ok(shared::app::DocumentFile {
            path: path.display().to_string(),
            pdf_base64: base64::engine::general_purpose::STANDARD.encode(pdf),
            uncovered: shell.core.uncovered_chars(&id)?.into_iter().collect(),
        })
    }

    #[tauri::command]
    pub fn status(shell: State<'_, Shell>) -> R<AppStatus> {
        shell.status()
    }

    #[tauri::command]
    pub async fn login(
        shell: State<'_, Shell>,
        server_url: String,
        username: String,
        password: String,
    ) -> R<UserInfo> {
        let user = crate::sync::login(&shell.core, &server_url, &username, &password).await?;
        shell.sync.wake.notify_one();
        Ok(user)
    }

    #[tauri::command]
    pub fn logout(shell: State<'_, Shell>) -> R<()> {
        shell.core.store.write(|tx| {
            crate::store::meta_delete(tx, keys::TOKEN)?;
            crate::store::meta_delete(tx, keys::USER)
        })?;
        Ok(())
    }

    #[tauri::command]
    pub async fn sync_now(shell: State<'_, Shell>) -> R<AppStatus> {
        // The outcome (including a failure) is part of the status the UI shows.
        let _ = run_sync(shell.core.clone(), shell.sync.clone()).await;
        shell.status()
    }

    #[tauri::command]
    pub fn search_sites(
        shell: State<'_, Shell>,
        query: String,
        kind: Option<SiteKind>,
        status: Option<SiteStatus>,
    ) -> R<Vec<Site>> {
        Ok(shell.core.search_sites(&query, kind, status, 500)?)
    }

    #[tauri::command]
    pub fn site(shell: State<'_, Shell>, id: SiteId) -> R<(Site, Vec<RecordSummary>)> {
        let site = shell.core.site(&id)?.ok_or_else(|| CoreError::not_found("点位"))?;
        let records = shell.core.records(None, 1000)?.into_iter().filter(|r| r.site_id == id).collect();
        Ok((site, records))
    }

    #[tauri::command]
    pub fn records(shell: State<'_, Shell>, state: Option<LocalState>) -> R<Vec<RecordSummary>> {
        Ok(shell.core.records(state, 1000)?)
    }

    #[tauri::command]
    pub fn record(shell: State<'_, Shell>, id: InspectionId) -> R<RecordDetail> {
        let inspection = shell.core.inspection(&id)?;
        let site = shell.core.site(&inspection.site_id)?;
        let flags = flags(&inspection, site.as_ref().and_then(|s| s.position), &FlagThresholds::default());
        Ok(RecordDetail { summary: shell.core.summary(&id)?, inspection, site, flags })
    }

    #[tauri::command]
    pub fn save_draft(shell: State<'_, Shell>, inspection: Inspection) -> R<SaveResult> {
        let (summary, errors) = shell.core.save_draft(&inspection)?;
        let site = shell.core.site(&inspection.site_id)?;
        let flags = flags(&inspection, site.and_then(|s| s.position), &FlagThresholds::default());
        Ok(SaveResult { summary, errors, flags })
    }

    #[tauri::command]
    pub fn submit(shell: State<'_, Shell>, id: InspectionId) -> R<RecordSummary> {
        let s = shell.core.submit(&id)?;
        shell.sync.wake.notify_one();
        Ok(s)
    }

    #[tauri::command]
    pub fn start_correction(shell: State<'_, Shell>, id: InspectionId) -> R<Inspection> {
        Ok(shell.core.start_correction(&id)?)
    }

    #[tauri::command]
    pub fn accept_server_version(shell: State<'_, Shell>, id: InspectionId) -> R<RecordSummary> {
        Ok(shell.core.accept_server_version(&id)?)
    }

    #[tauri::command]
    pub fn discard_draft(shell: State<'_, Shell>, id: InspectionId) -> R<()> {
        Ok(shell.core.discard_draft(&id)?)
    }

    /// The raw image arrives as the request body; the site and position ride in headers.
    #[tauri::command]
    pub async fn add_photo(shell: State<'_, Shell>, request: Request<'_>) -> R<PhotoRef> {
        let InvokeBody::Raw(bytes) = request.body() else {
            return Err(ApiError::new(ErrorCode::InvalidBody, "照片数据应为二进制"));
        };
        let header = |k: &str| request.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let site_id: SiteId = header("x-site-id")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ApiError::new(ErrorCode::Required, "缺少点位"))?;
        let position: Option<Position> = header("x-position").and_then(|s| serde_json::from_str(&s).ok());
        let (core, cfg, bytes) = (shell.core.clone(), shell.pipeline.clone(), bytes.clone());
        tauri::async_runtime::spawn_blocking(move || {
            core.add_photo(&bytes, &site_id, position.as_ref(), &cfg)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(Into::into)
    }

    /// A data URL of the photo's thumbnail.
    #[tauri::command]
    pub fn thumbnail(shell: State<'_, Shell>, sha256: String) -> R<String> {
        let bytes = shell.core.thumbnail(&sha256)?;
        Ok(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// A data URL of the whole photo (the reviewer zooms in).
    #[tauri::command]
    pub fn photo(shell: State<'_, Shell>, sha256: String) -> R<String> {
        let bytes = std::fs::read(shell.core.photo_path(&sha256)?)
            .map_err(|_| ApiError::new(ErrorCode::NotFound, "照片不在本机"))?;
        Ok(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    #[tauri::command]
    pub fn review_items(shell: State<'_, Shell>, filter: QueueFilter) -> R<Vec<ReviewItem>> {
        Ok(shell.core.review_items(&filter, 500)?)
    }

    #[tauri::command]
    pub fn review_record(shell: State<'_, Shell>, id: InspectionId) -> R<ReviewRecordView> {
        Ok(shell.core.review_record(&id)?)
    }

    /// Queue decisions; the background sync sends them as soon as a link exists.
    #[tauri::command]
    pub fn decide(shell: State<'_, Shell>, decisions: Vec<DecisionRequest>) -> R<Vec<LocalDecision>> {
        let made = shell.core.decide(&decisions)?;
        shell.sync.wake.notify_one();
        Ok(made)
    }

    #[tauri::command]
    pub fn drop_decision(shell: State<'_, Shell>, seq: u64) -> R<LocalDecision> {
        Ok(shell.core.drop_decision(seq)?)
    }

    #[tauri::command]
    pub fn settings(shell: State<'_, Shell>) -> R<DeviceSettings> {
        Ok(shell.core.settings()?)
    }

    #[tauri::command]
    pub fn set_settings(shell: State<'_, Shell>, settings: DeviceSettings) -> R<DeviceSettings> {
        Ok(shell.core.set_settings(&settings)?)
    }

    #[tauri::command]
    pub fn position_start(
        app: AppHandle,
        shell: State<'_, Shell>,
        mode: Option<CaptureMode>,
    ) -> R<CaptureStart> {
        let settings = shell.core.settings()?.position;
        let status = shell.position.start(&settings, mode)?;
        let webview_source = super::platform_location::start(&app, &shell.position, &settings.source);
        Ok(CaptureStart { status, webview_source })
    }

    #[tauri::command]
    pub fn position_feed(shell: State<'_, Shell>, fix: Fix) -> R<CaptureStatus> {
        Ok(shell.position.feed(fix)?)
    }

    #[tauri::command]
    pub fn position_error(shell: State<'_, Shell>, message: String) -> R<CaptureStatus> {
        Ok(shell.position.report_error(&message)?)
    }

    #[tauri::command]
    pub fn position_status(shell: State<'_, Shell>) -> R<Option<CaptureStatus>> {
        Ok(shell.position.status())
    }

    #[tauri::command]
    pub fn position_stop(shell: State<'_, Shell>) -> R<Option<CaptureStatus>> {
        Ok(shell.position.stop())
    }

    /// The window was shown or hidden: a hidden app stops capturing and lets the background
    /// sync rest once nothing waits to be sent.
    #[tauri::command]
    pub fn set_visible(shell: State<'_, Shell>, visible: bool) -> R<()> {
        shell.set_visible(visible);
        Ok(())
    }
}
