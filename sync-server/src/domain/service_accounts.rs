//! Service accounts: systems (the provincial platform, a prefecture's dashboard) reading through
//! the API with keys made and revoked by the province admin. A service account is a user with a
//! read-only role, a region and no usable password; each key is a token with an id, so that
//! authentication, expiry, revocation and region scoping are the same path as for people.

use base64::Engine;
use rand::RngCore;
use shared::ErrorCode;
use shared::auth::{Role, UserInfo};
use shared::integration::{
    API_KEY_DEFAULT_DAYS, API_KEY_MAX_DAYS, API_KEY_PREFIX, ApiKeyView, CreatedServiceAccount, NewApiKey,
    NewServiceAccount, ServiceAccountView,
};
use shared::{FieldError, UserId};
use time::{Duration, OffsetDateTime};

use crate::domain::Actor;
use crate::domain::admin::{name_ok, regions_exist, require_admin, username_error};
use crate::domain::auth::token_hash;
use crate::domain::scope;
use crate::error::{AppError, AppResult};
use crate::store::{ApiKeyRow, AuditEntry, ServiceAccountRow, Store, StoreError, Tx, UserRow};

/// Stored in place of a password hash: not a PHC string, so no password ever verifies.
const NO_PASSWORD: &str = "!service-account";

fn key_days(days: Option<u32>, field: &str) -> AppResult<u32> {
    match days {
        None => Ok(API_KEY_DEFAULT_DAYS),
        Some(d) if (1..=API_KEY_MAX_DAYS).contains(&d) => Ok(d),
        Some(_) => Err(AppError::field(ErrorCode::OutOfRange, field, "密钥有效期为 1–730 天")),
    }
}

/// A fresh key for `user`: the row to store and the key to show once.
fn make_key(user: UserId, days: u32, now: OffsetDateTime) -> (ApiKeyRow, NewApiKey) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let key = format!("{API_KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let row = ApiKeyRow {
        key_id: uuid::Uuid::now_v7().to_string(),
        user_id: user,
        token_hash: token_hash(&key),
        issued_at: now,
        expires_at: now + Duration::days(i64::from(days)),
        revoked: false,
    };
    let view = view_of(&row);
    (row, NewApiKey { key, view })
}

fn view_of(k: &ApiKeyRow) -> ApiKeyView {
    ApiKeyView { id: k.key_id.clone(), issued_at: k.issued_at, expires_at: k.expires_at, revoked: k.revoked }
}

fn audit(
    tx: &mut dyn Tx,
    actor: &Actor,
    action: &str,
    id: &UserId,
    detail: serde_json::Value,
    now: OffsetDateTime,
) -> AppResult<()> {
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: action.into(),
        entity: "service_account".into(),
        entity_id: id.to_string(),
        detail,
    })?;
    Ok(())
}

pub fn create(
    store: &dyn Store,
    actor: &Actor,
    req: &NewServiceAccount,
    now: OffsetDateTime,
) -> AppResult<CreatedServiceAccount> {
    require_admin(actor, &req.region)?;
    let mut fields: Vec<_> = username_error(&req.username).into_iter().collect();
    if !name_ok(req.display_name.trim()) {
        fields.push(FieldError::new("display_name", ErrorCode::InvalidValue, "名称为 1–100 个字符"));
    }
    let purpose = req.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 500 || purpose.chars().any(char::is_control) {
        fields.push(FieldError::new(
            "purpose",
            ErrorCode::InvalidValue,
            "用途为 1–500 个字符，写明系统与责任人",
        ));
    }
    if !Role::SERVICE.contains(&req.role) {
        fields.push(FieldError::new(
            "role",
            ErrorCode::InvalidValue,
            "服务账号只能为县级、市级或省级查看角色",
        ));
    } else if req.region.level() != req.role.scope_level() {
        fields.push(FieldError::new(
            "region",
            ErrorCode::Inconsistent,
            format!("该角色的管辖范围应为{}级区划", req.role.scope_level().as_str()),
        ));
    }
    if let Err(AppError::Api(e)) = key_days(req.key_days, "key_days") {
        fields.extend(e.fields);
    }
    if !fields.is_empty() {
        return Err(AppError::Api(shared::ApiError::validation(fields)));
    }
    let days = key_days(req.key_days, "key_days")?;
    let info = UserInfo {
        id: UserId::new(),
        username: req.username.clone(),
        display_name: req.display_name.trim().to_string(),
        role: req.role,
        region: req.region,
    };
    let account = ServiceAccountRow {
        user_id: info.id,
        purpose: purpose.to_string(),
        created_by: actor.user.id,
        created_at: now,
    };
    let (key_row, key) = make_key(info.id, days, now);
    let mut tx = store.write()?;
    regions_exist(tx.as_mut(), &req.region, &[])?;
    match tx.insert_user(&UserRow { info: info.clone(), password_hash: NO_PASSWORD.into(), disabled: false })
    {
        Err(StoreError::Duplicate) => {
            return Err(AppError::field(ErrorCode::Conflict, "username", "用户名已存在"));
        }
        other => other?,
    }
    tx.insert_service_account(&account)?;
    tx.insert_api_key(&key_row)?;
    audit(
        tx.as_mut(),
        actor,
        "create_service_account",
        &info.id,
        serde_json::json!({ "username": info.username, "role": info.role, "region": info.region, "key_id": key.view.id, "expires_at": key.view.expires_at.unix_timestamp() }),
        now,
    )?;
    tx.commit()?;
    let account = ServiceAccountView {
        user: info,
        disabled: false,
        purpose: account.purpose,
        created_by: account.created_by,
        created_at: now,
        keys: vec![key.view.clone()],
    };
    Ok(CreatedServiceAccount { account, key })
}

/// The service accounts inside the admin's region, with their keys (never the keys themselves).
pub fn list(store: &dyn Store, actor: &Actor) -> AppResult<Vec<ServiceAccountView>> {
    require_admin(actor, &actor.user.region)?;
    let mut tx = store.read()?;
    let mut out = Vec::new();
    for a in tx.service_accounts()? {
        let Some(u) = tx.user_by_id(&a.user_id)? else { continue };
        if !scope::region_covers(actor, &u.info.region) {
            continue;
        }
        let keys = tx.api_keys(&a.user_id)?.iter().map(view_of).collect();
        out.push(ServiceAccountView {
            user: u.info,
            disabled: u.disabled,
            purpose: a.purpose,
            created_by: a.created_by,
            created_at: a.created_at,
            keys,
        });
    }
    Ok(out)
}

/// The service account `id` within the admin's region, or 404.
fn account_in_scope(tx: &mut dyn Tx, actor: &Actor, id: &UserId) -> AppResult<UserRow> {
    tx.service_account(id)?.ok_or_else(AppError::not_found)?;
    tx.user_by_id(id)?.filter(|u| scope::region_covers(actor, &u.info.region)).ok_or_else(AppError::not_found)
}

/// Another key for a service account (to rotate: make the new one, switch the system, revoke
/// the old one).
pub fn add_key(
    store: &dyn Store,
    actor: &Actor,
    id: &UserId,
    days: Option<u32>,
    now: OffsetDateTime,
) -> AppResult<NewApiKey> {
    require_admin(actor, &actor.user.region)?;
    let days = key_days(days, "days")?;
    let mut tx = store.write()?;
    let user = account_in_scope(tx.as_mut(), actor, id)?;
    if user.disabled {
        return Err(AppError::api(ErrorCode::Conflict, "服务账号已停用"));
    }
    let (row, key) = make_key(*id, days, now);
    tx.insert_api_key(&row)?;
    audit(
        tx.as_mut(),
        actor,
        "create_api_key",
        id,
        serde_json::json!({ "key_id": key.view.id, "expires_at": key.view.expires_at.unix_timestamp() }),
        now,
    )?;
    tx.commit()?;
    Ok(key)
}

/// Revoke one key at once: the next request with it is refused, on every server.
pub fn revoke_key(
    store: &dyn Store,
    actor: &Actor,
    id: &UserId,
    key_id: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    require_admin(actor, &actor.user.region)?;
    if key_id.is_empty() || key_id.len() > 64 {
        return Err(AppError::not_found());
    }
    let mut tx = store.write()?;
    account_in_scope(tx.as_mut(), actor, id)?;
    if !tx.api_keys(id)?.iter().any(|k| k.key_id == key_id) {
        return Err(AppError::not_found());
    }
    let revoked = tx.revoke_api_key(id, key_id)?;
    audit(
        tx.as_mut(),
        actor,
        "revoke_api_key",
        id,
        serde_json::json!({ "key_id": key_id, "was_active": revoked }),
        now,
    )?;
    tx.commit()?;
    Ok(())
}
