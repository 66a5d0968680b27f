//! Province administration: targets per year and region with their monthly plan, and users
//! with roles and region scopes. Only a province admin, only within their region.

use serde::{Deserialize, Serialize};
use shared::auth::{Role, UserInfo};
use shared::region::RegionCode;
use shared::target::Target;
use shared::validate::limits;
use shared::{ErrorCode, UserId};
use time::OffsetDateTime;

use crate::domain::auth::hash_password;
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, Store, StoreError, UserRow};

fn require_admin(actor: &Actor, region: &RegionCode) -> AppResult<()> {
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

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub region: RegionCode,
    pub password: String,
    /// Inspectors: the villages they are assigned to (inside `region`).
    #[serde(default)]
    pub villages: Vec<RegionCode>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub user: UserInfo,
    pub villages: Vec<RegionCode>,
}

pub fn create_user(
    store: &dyn Store,
    actor: &Actor,
    req: &NewUser,
    now: OffsetDateTime,
) -> AppResult<CreatedUser> {
    require_admin(actor, &req.region)?;
    let mut fields = Vec::new();
    let name_ok = |s: &str| {
        !s.is_empty() && s.chars().count() <= limits::SHORT_TEXT && !s.chars().any(char::is_control)
    };
    if !name_ok(req.username.trim()) || req.username.trim() != req.username {
        fields.push(shared::FieldError::new(
            "username",
            ErrorCode::InvalidValue,
            "用户名为 1–100 个字符，不含空白首尾",
        ));
    }
    if !name_ok(req.display_name.trim()) {
        fields.push(shared::FieldError::new("display_name", ErrorCode::InvalidValue, "姓名为 1–100 个字符"));
    }
    if req.password.chars().count() < 10 || req.password.len() > 1024 {
        fields.push(shared::FieldError::new("password", ErrorCode::TooShort, "密码至少 10 个字符"));
    }
    if req.region.level() != req.role.scope_level() {
        fields.push(shared::FieldError::new(
            "region",
            ErrorCode::Inconsistent,
            format!("该角色的管辖范围应为{}级区划", req.role.scope_level().as_str()),
        ));
    }
    for (n, v) in req.villages.iter().enumerate() {
        if req.role != Role::Inspector
            || !req.region.contains(v)
            || v.level() != shared::region::RegionLevel::Village
        {
            fields.push(shared::FieldError::new(
                format!("villages[{n}]"),
                ErrorCode::InvalidValue,
                "只能为检查员分配其管辖范围内的行政村",
            ));
        }
    }
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
    tx.region(&req.region)?.ok_or_else(|| AppError::field(ErrorCode::NotFound, "region", "区划不存在"))?;
    match tx.insert_user(&UserRow { info: info.clone(), password_hash, disabled: false }) {
        Err(StoreError::Duplicate) => {
            return Err(AppError::field(ErrorCode::Conflict, "username", "用户名已存在"));
        }
        other => other?,
    }
    for v in &req.villages {
        tx.region(v)?.ok_or_else(|| AppError::field(ErrorCode::NotFound, "villages", "行政村不存在"))?;
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
    Ok(CreatedUser { user: info, villages: req.villages.clone() })
}
