//! Webhooks: a system (a service account, or the province admin) registers a URL and the kinds
//! of change it wants; the dispatcher (`crate::webhooks`) delivers its region's changes there in
//! feed order, signed. Registered, listed and deleted here; every step audited.

use base64::Engine;
use rand::RngCore;
use shared::ErrorCode;
use shared::auth::Role;
use shared::integration::{ChangeKind, CreatedWebhook, NewWebhook, WebhookState, WebhookView};
use time::OffsetDateTime;

use crate::domain::Actor;
use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, Store, WebhookRow};

/// Most webhooks one caller may hold.
pub const MAX_PER_OWNER: usize = 10;

pub fn kind_str(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Version => "version",
        ChangeKind::Review => "review",
        ChangeKind::Site => "site",
    }
}

fn kind_of(s: &str) -> Option<ChangeKind> {
    [ChangeKind::Version, ChangeKind::Review, ChangeKind::Site].into_iter().find(|k| kind_str(*k) == s)
}

pub fn events_of(row: &WebhookRow) -> Vec<ChangeKind> {
    row.events.split(',').filter_map(kind_of).collect()
}

fn at_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

pub fn view(row: &WebhookRow) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        owner: row.owner,
        url: row.url.clone(),
        events: events_of(row),
        state: if row.failing_since.is_some() { WebhookState::Failing } else { WebhookState::Delivering },
        cursor: row.cursor,
        delivered: row.delivered,
        given_up: row.given_up,
        attempts: row.attempts,
        failing_since: row.failing_since.and_then(at_ms),
        next_attempt_at: row.next_attempt_at.and_then(at_ms),
        last_status: row.last_status,
        last_error: row.last_error.clone(),
        created_at: row.created_at,
    }
}

/// An `http(s)://host…` URL of bounded length, without credentials or control characters.
fn url_ok(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= 2000
        && !host.is_empty()
        && !host.contains('@')
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn may_subscribe(actor: &Actor) -> AppResult<()> {
    if actor.user.role == Role::Inspector {
        return Err(AppError::api(ErrorCode::Forbidden, "检查员不能订阅变更"));
    }
    Ok(())
}

pub fn create(
    store: &dyn Store,
    actor: &Actor,
    req: &NewWebhook,
    now: OffsetDateTime,
) -> AppResult<CreatedWebhook> {
    may_subscribe(actor)?;
    let mut fields = Vec::new();
    if !url_ok(&req.url) {
        fields.push(shared::FieldError::new(
            "url",
            ErrorCode::InvalidFormat,
            "应为 http:// 或 https:// 开头的地址",
        ));
    }
    if req.events.is_empty() || req.events.len() > 3 {
        fields.push(shared::FieldError::new("events", ErrorCode::Required, "至少选择一种变更"));
    }
    if !fields.is_empty() {
        return Err(AppError::Api(shared::ApiError::validation(fields)));
    }
    let mut events: Vec<&str> = req.events.iter().map(|k| kind_str(*k)).collect();
    events.sort_unstable();
    events.dedup();
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let mut tx = store.write()?;
    if tx.webhooks(Some(&actor.user.id))?.len() >= MAX_PER_OWNER {
        return Err(AppError::api(ErrorCode::TooMany, "订阅数量已达上限（10 个）"));
    }
    let cursor = if req.from_start { 0 } else { tx.feed_last()? };
    let row = WebhookRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner: actor.user.id,
        url: req.url.clone(),
        secret: secret.clone(),
        events: events.join(","),
        created_at: now,
        cursor,
        delivered: 0,
        given_up: 0,
        attempts: 0,
        failing_since: None,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
        last_attempt_at: None,
        lease_until: None,
    };
    tx.insert_webhook(&row)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "create_webhook".into(),
        entity: "webhook".into(),
        entity_id: row.id.clone(),
        detail: serde_json::json!({ "url": row.url, "events": row.events, "cursor": cursor }),
    })?;
    tx.commit()?;
    Ok(CreatedWebhook { webhook: view(&row), secret })
}

/// The caller's webhooks; the province admin sees every one.
pub fn list(store: &dyn Store, actor: &Actor) -> AppResult<Vec<WebhookView>> {
    may_subscribe(actor)?;
    let owner = (actor.user.role != Role::ProvinceAdmin).then_some(&actor.user.id);
    Ok(store.read()?.webhooks(owner)?.iter().map(view).collect())
}

pub fn delete(store: &dyn Store, actor: &Actor, id: &str, now: OffsetDateTime) -> AppResult<()> {
    may_subscribe(actor)?;
    let mut tx = store.write()?;
    let row = tx
        .webhook(id)?
        .filter(|w| w.owner == actor.user.id || actor.user.role == Role::ProvinceAdmin)
        .ok_or_else(AppError::not_found)?;
    tx.delete_webhook(&row.id)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "delete_webhook".into(),
        entity: "webhook".into(),
        entity_id: row.id.clone(),
        detail: serde_json::json!({ "url": row.url, "delivered": row.delivered, "given_up": row.given_up }),
    })?;
    tx.commit()?;
    Ok(())
}
