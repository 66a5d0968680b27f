//! Province administration: targets per year and region with their monthly plan, and users
//! with roles and region scopes. Only a province admin, only within their region.

use shared::auth::{Role, UserInfo};
pub use shared::console::{NewUser, UserUpdate, UserView};
use shared::region::RegionCode;
use shared::target::Target;
use shared::validate::limits;
use shared::{ErrorCode, UserId};
use time::OffsetDateTime;

use crate::domain::auth::hash_password;
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, Store, StoreError, Tx, UserRow};

pub(crate) fn require_admin(actor: &Actor, region: &RegionCode) -> AppResult<()> {
    if actor.user.role != Role::ProvinceAdmin {
        return Err(AppError::api(ErrorCode::Forbidden, "只有省级管理员可以执行此操作"));
    }
    if !scope::region_covers(actor, region) {
        return Err(AppError::not_found());
    }
    Ok(())
}

pub fn set_target(store: &dyn Store, actor: &Actor, t: &Target, now: OffsetDateTime) -> AppResult<Target> {
    require_admin(actor, &t.region)?;
    if !(2000..=2100).contains(&t.year) {
        return Err(AppError::field(ErrorCode::OutOfRange, "year", "年份无效"));
    }
    t.validate().map_err(|e| AppError::field(ErrorCode::InvalidValue, "monthly_plan", &e.to_string()))?;
    let mut tx = store.write()?;
    tx.region(&t.region)?.ok_or_else(AppError::not_found)?;
    tx.upsert_target(t)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "set_target".into(),
        entity: "target".into(),
        entity_id: format!("{}/{}/{}", t.year, t.region, t.metric.as_str()),
        detail: serde_json::json!({ "value": t.value, "monthly_plan": t.monthly_plan }),
    })?;
    tx.commit()?;
    Ok(t.clone())
}

pub fn targets(store: &dyn Store, actor: &Actor, region: &RegionCode, year: i32) -> AppResult<Vec<Target>> {
    if actor.user.role == Role::Inspector || !scope::region_covers(actor, region) {
        return Err(AppError::not_found());
    }
    Ok(store.read()?.targets(year, region)?)
}

/// A new account's user name (people's and systems'): 1–100 characters, no surrounding blanks.
pub(crate) fn username_error(username: &str) -> Option<shared::FieldError> {
    (!name_ok(username.trim()) || username.trim() != username).then(|| {
        shared::FieldError::new("username", ErrorCode::InvalidValue, "用户名为 1–100 个字符，不含空白首尾")
    })
}

pub(crate) fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= limits::SHORT_TEXT && !s.chars().any(char::is_control)
}

/// At least 10 characters, at most 1 KiB (argon2 input stays bounded).
fn password_ok(p: &str) -> bool {
    p.chars().count() >= 10 && p.len() <= 1024
}

/// The rules a user's fields obey, on creation and on every change: the role's scope level
/// matches the region, and only inspectors hold villages, inside their region.
pub(crate) fn check_user(
    fields: &mut Vec<shared::FieldError>,
    display_name: &str,
    password: Option<&str>,
    role: Role,
    region: &RegionCode,
    villages: &[RegionCode],
) {
    if !name_ok(display_name.trim()) {
        fields.push(shared::FieldError::new("display_name", ErrorCode::InvalidValue, "姓名为 1–100 个字符"));
    }
    if let Some(p) = password
        && !password_ok(p)
    {
        fields.push(shared::FieldError::new("password", ErrorCode::TooShort, "密码至少 10 个字符"));
    }
    if region.level() != role.scope_level() {
        fields.push(shared::FieldError::new(
            "region",
            ErrorCode::Inconsistent,
            format!("该角色的管辖范围应为{}级区划", role.scope_level().as_str()),
        ));
    }
    if villages.len() > 500 {
        fields.push(shared::FieldError::new("villages", ErrorCode::OutOfRange, "最多分配 500 个行政村"));
    }
    for (n, v) in villages.iter().enumerate().take(500) {
        if role != Role::Inspector || !region.contains(v) || v.level() != shared::region::RegionLevel::Village
        {
            fields.push(shared::FieldError::new(
                format!("villages[{n}]"),
                ErrorCode::InvalidValue,
                "只能为检查员分配其管辖范围内的行政村",
            ));
        }
    }
}

/// The user's region and assigned villages exist (checked in the transaction that writes them).
pub(crate) fn regions_exist(tx: &mut dyn Tx, region: &RegionCode, villages: &[RegionCode]) -> AppResult<()> {
    tx.region(region)?.ok_or_else(|| AppError::field(ErrorCode::NotFound, "region", "区划不存在"))?;
    for v in villages {
        tx.region(v)?.ok_or_else(|| AppError::field(ErrorCode::NotFound, "villages", "行政村不存在"))?;
    }
    Ok(())
}

/// Users whose region lies inside the admin's (their own included), by username.
pub fn list_users(store: &dyn Store, actor: &Actor) -> AppResult<Vec<UserView>> {
    require_admin(actor, &actor.user.region)?;
    let mut tx = store.read()?;
    let (lo, hi) = actor.user.region.descendant_range();
    let rows = tx.users_in(&lo, &hi)?;
    let mut out = Vec::with_capacity(rows.len());
    for u in rows {
        let villages = tx.assigned_villages(&u.info.id)?;
        out.push(UserView { user: u.info, disabled: u.disabled, villages });
    }
    Ok(out)
}

/// Change a user's name, role, region, villages, password or disabled flag. A disabled user or
/// a new password ends every session the user had; an admin cannot disable themselves.
pub fn update_user(
    store: &dyn Store,
    actor: &Actor,
    id: &UserId,
    req: &UserUpdate,
    now: OffsetDateTime,
) -> AppResult<UserView> {
    require_admin(actor, &actor.user.region)?;
    // The slow password hash first, so that everything read below is read in the same write
    // transaction that applies the change (a concurrent disable or reset is never undone).
    let new_hash = match &req.password {
        Some(p) if password_ok(p) => Some(hash_password(p)?),
        _ => None,
    };
    let mut tx = store.write()?;
    let current = tx
        .user_by_id(id)?
        .filter(|u| scope::region_covers(actor, &u.info.region))
        .ok_or_else(AppError::not_found)?;
    // Administrators are not managed by their peers: one admin cannot reset, demote or disable
    // another (that is for the operator, `sync-server` on the command line).
    if current.info.role == Role::ProvinceAdmin && *id != actor.user.id {
        return Err(AppError::api(ErrorCode::Forbidden, "不能修改其他省级管理员"));
    }
    let role = req.role.unwrap_or(current.info.role);
    let region = req.region.unwrap_or(current.info.region);
    require_admin(actor, &region)?;
    // A system never gets a password (nor a role that writes): its keys are its credentials.
    if tx.service_account(id)?.is_some() {
        if req.password.is_some() {
            return Err(AppError::field(
                ErrorCode::Forbidden,
                "password",
                "服务账号不能设置密码，请使用 API 密钥",
            ));
        }
        if !Role::SERVICE.contains(&role) {
            return Err(AppError::field(ErrorCode::InvalidValue, "role", "服务账号只能为查看角色"));
        }
    }
    let display_name = req.display_name.clone().unwrap_or_else(|| current.info.display_name.clone());
    let villages = match &req.villages {
        Some(v) => v.clone(),
        None if role == Role::Inspector && region == current.info.region => tx.assigned_villages(id)?,
        None => Vec::new(),
    };
    let mut fields = Vec::new();
    check_user(&mut fields, &display_name, req.password.as_deref(), role, &region, &villages);
    if *id == actor.user.id && (req.disabled == Some(true) || role != current.info.role) {
        fields.push(shared::FieldError::new(
            "disabled",
            ErrorCode::Forbidden,
            "不能停用自己或更改自己的角色",
        ));
    }
    if !fields.is_empty() {
        return Err(AppError::Api(shared::ApiError::validation(fields)));
    }
    let password_hash = new_hash.unwrap_or_else(|| current.password_hash.clone());
    let disabled = req.disabled.unwrap_or(current.disabled);
    let info =
        UserInfo { display_name: display_name.trim().to_string(), role, region, ..current.info.clone() };
    regions_exist(tx.as_mut(), &region, &villages)?;
    tx.update_user(&UserRow { info: info.clone(), password_hash, disabled })?;
    tx.clear_villages(id)?;
    tx.assign_villages(id, &villages)?;
    let ends_sessions = (disabled && !current.disabled)
        || req.password.is_some()
        || region != current.info.region
        || role != current.info.role;
    if ends_sessions {
        tx.revoke_user_tokens(id)?;
    }
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "update_user".into(),
        entity: "user".into(),
        entity_id: id.to_string(),
        detail: serde_json::json!({
            "role": role, "region": region, "disabled": disabled, "villages": villages.len(),
            "password_changed": req.password.is_some(), "sessions_ended": ends_sessions,
        }),
    })?;
    tx.commit()?;
    Ok(UserView { user: info, disabled, villages })
}

pub fn create_user(
    store: &dyn Store,
    actor: &Actor,
    req: &NewUser,
    now: OffsetDateTime,
) -> AppResult<UserView> {
    require_admin(actor, &req.region)?;
    let mut fields: Vec<_> = username_error(&req.username).into_iter().collect();
    check_user(&mut fields, &req.display_name, Some(&req.password), req.role, &req.region, &req.villages);
    if !fields.is_empty() {
        return Err(AppError::Api(shared::ApiError::validation(fields)));
    }
    let password_hash = hash_password(&req.password)?;
    let info = UserInfo {
        id: UserId::new(),
        username: req.username.clone(),
        display_name: req.display_name.trim().to_string(),
        role: req.role,
        region: req.region,
    };
    let mut tx = store.write()?;
    regions_exist(tx.as_mut(), &req.region, &req.villages)?;
    match tx.insert_user(&UserRow { info: info.clone(), password_hash, disabled: false }) {
        Err(StoreError::Duplicate) => {
            return Err(AppError::field(ErrorCode::Conflict, "username", "用户名已存在"));
        }
        other => other?,
    }
    tx.assign_villages(&info.id, &req.villages)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "create_user".into(),
        entity: "user".into(),
        entity_id: info.id.to_string(),
        detail: serde_json::json!({ "username": info.username, "role": info.role, "region": info.region, "villages": req.villages.len() }),
    })?;
    tx.commit()?;
    Ok(UserView { user: info, disabled: false, villages: req.villages.clone() })
}
