//! The Tauri shell: app state, the background sync loop and thin commands. Built only with
//! `--features app`; everything it calls lives in plain, tested modules.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::ApiError;
use shared::app::{AppStatus, SyncStatus};
use tauri::Manager;

use crate::core::{AppCore, keys};
use crate::error::CoreError;
use crate::photos::PipelineConfig;
use crate::sync::{self, Backoff};

/// Shared by every command.
pub struct Shell {
    pub core: Arc<AppCore>,
    pub pipeline: Arc<PipelineConfig>,
    pub sync: Arc<SyncState>,
}

#[derive(Default)]
pub struct SyncState {
    pub status: Mutex<SyncStatus>,
    running: tokio::sync::Mutex<()>,
    pub wake: tokio::sync::Notify,
}

impl Shell {
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
        sync::sync_once(&core, &client, &mut |p| set_status(&st, |s| s.uploading = p)).await
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
        s.last_error = result.as_ref().err().map(|e| e.0.clone());
    });
    result
}

/// Sync in the background: after login, on demand (`wake`), and every minute; transient
/// failures back off with jitter.
async fn sync_loop(core: Arc<AppCore>, state: Arc<SyncState>) {
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(600));
    let mut delay = Duration::from_secs(2);
    loop {
        tokio::select! {
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(delay) => {}
        }
        if core.meta(keys::TOKEN).ok().flatten().is_none() {
            delay = Duration::from_secs(60);
            continue;
        }
        delay = match run_sync(core.clone(), state.clone()).await {
            Ok(_) => {
                backoff.reset();
                Duration::from_secs(60)
            }
            Err(e) if e.code() == shared::ErrorCode::Unavailable => backoff.next_delay(),
            Err(_) => Duration::from_secs(300),
        };
    }
}

pub fn run() {
    tauri::Builder::default()
        .setup(|app| {
            let dir = match std::env::var_os("QINGLIU_APP_DATA") {
                Some(d) => std::path::PathBuf::from(d),
                None => app.path().app_data_dir()?,
            };
            let core = Arc::new(AppCore::open(&dir).map_err(|e| e.0.message)?);
            let sync = Arc::new(SyncState::default());
            tauri::async_runtime::spawn(sync_loop(core.clone(), sync.clone()));
            app.manage(Shell { core, pipeline: Arc::new(PipelineConfig::default()), sync });
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
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Qingliu app");
}

/// Thin commands: take state, call the core, map errors to `{code, message, fields}`.
pub mod commands {
    use base64::Engine;
    use shared::app::{AppStatus, LocalState, RecordDetail, RecordSummary, SaveResult};
    use shared::auth::UserInfo;
    use shared::flags::{FlagThresholds, flags};
    use shared::inspection::{Inspection, PhotoRef, Position};
    use shared::site::{Site, SiteKind, SiteStatus};
    use shared::{ApiError, ErrorCode, InspectionId, SiteId};
    use tauri::State;
    use tauri::ipc::{InvokeBody, Request};

    use super::{Shell, run_sync};
    use crate::core::keys;
    use crate::error::CoreError;

    type R<T> = Result<T, ApiError>;

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
}
