//! Passwords (argon2id), bearer tokens (random, stored as SHA-256, expiring, revocable), login
//! rate limiting and device registration.

use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::auth::{DeviceInfo, LoginResponse, RegisterDeviceRequest, UserInfo};
use shared::validate::limits;
use shared::{ErrorCode, UserId};
use time::{Duration, OffsetDateTime};

use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, DeviceRow, Store, TokenRow, UserRow};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: UserInfo,
    pub token_hash: Vec<u8>,
}

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A fixed hash to verify against when the user does not exist, so that unknown and known
/// usernames take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("qingliu-timing-equaliser").unwrap_or_default())
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Limits login attempts per username in a window, and how many password verifications run at
/// once (argon2id takes ~19 MiB each, so unbounded parallel logins could exhaust memory).
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    /// Password verifications running in this process (argon2 is memory- and CPU-bound): a
    /// local resource, safe to lose. The attempt counts are in the database, shared by every
    /// server.
    slots: Mutex<usize>,
    slot_freed: std::sync::Condvar,
    max_slots: usize,
}

/// A running password verification; frees its slot when dropped.
struct VerifySlot<'a>(&'a LoginLimiter);

impl Drop for VerifySlot<'_> {
    fn drop(&mut self) {
        let mut used = self.0.slots.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
        self.0.slot_freed.notify_one();
    }
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginLimiter {
            max_failures,
            window,
            slots: Mutex::new(0),
            slot_freed: std::sync::Condvar::new(),
            max_slots: 4,
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// Count an attempt *before* the password is checked (so parallel guesses, on any server,
    /// cannot slip past the limit), or refuse it when the username is over the limit.
    fn begin(&self, store: &dyn Store, username: &str, now: OffsetDateTime) -> AppResult<()> {
        let key = Self::key(username);
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let window_ms = self.window.whole_milliseconds() as i64;
        let mut tx = store.write()?;
        // Windows that ran out count nothing; dropping them here keeps the table to the
        // usernames tried within one window (guessed names that do not exist included).
        tx.prune_login_attempts(now_ms - window_ms)?;
        let (start, count) = match tx.login_attempts(&key)? {
            Some((start, count)) if now_ms - start < window_ms => (start, count),
            _ => (now_ms, 0),
        };
        if count >= self.max_failures {
            return Err(AppError::api(ErrorCode::RateLimited, "登录失败次数过多，请稍后再试"));
        }
        tx.set_login_attempts(&key, start, count + 1)?;
        tx.commit()?;
        Ok(())
    }

    fn slot(&self) -> VerifySlot<'_> {
        let mut used = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= self.max_slots {
            used = self.slot_freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += 1;
        VerifySlot(self)
    }
}

pub fn login(
    store: &dyn Store,
    limiter: &LoginLimiter,
    username: &str,
    password: &str,
    token_ttl: Duration,
    now: OffsetDateTime,
) -> AppResult<LoginResponse> {
    if username.is_empty() || username.len() > limits::SHORT_TEXT || password.len() > 1024 {
        return Err(AppError::api(ErrorCode::InvalidCredentials, "用户名或密码错误"));
    }
    limiter.begin(store, username, now)?;
    let user = store.read()?.user_by_username(username)?;
    let ok = {
        let _slot = limiter.slot();
        match &user {
            Some(u) => verify_password(&u.password_hash, password) && !u.disabled,
            None => {
                verify_password(dummy_hash(), password);
                false
            }
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        return Err(AppError::api(ErrorCode::InvalidCredentials, "用户名或密码错误"));
    };
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let expires_at = now + token_ttl;
    let mut tx = store.write()?;
    tx.clear_login_attempts(&LoginLimiter::key(username))?;
    tx.insert_token(&TokenRow {
        token_hash: token_hash(&token),
        user_id: user.info.id,
        issued_at: now,
        expires_at,
        revoked: false,
    })?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(user.info.id),
        device_id: None,
        action: "login".into(),
        entity: "user".into(),
        entity_id: user.info.id.to_string(),
        detail: serde_json::json!({}),
    })?;
    tx.commit()?;
    Ok(LoginResponse { token, expires_at, user: user.info })
}

/// Resolve a bearer token to its user; expired, revoked and unknown tokens are refused.
pub fn authenticate(store: &dyn Store, token: &str, now: OffsetDateTime) -> AppResult<Actor> {
    let unauth = || AppError::api(ErrorCode::Unauthenticated, "请先登录");
    if token.is_empty() || token.len() > 256 {
        return Err(unauth());
    }
    let hash = token_hash(token);
    let mut tx = store.read()?;
    let t = tx.token(&hash)?.ok_or_else(unauth)?;
    if t.revoked {
        return Err(unauth());
    }
    if t.expires_at <= now {
        return Err(AppError::api(ErrorCode::TokenExpired, "登录已过期，请重新登录"));
    }
    let user: UserRow = tx.user_by_id(&t.user_id)?.ok_or_else(unauth)?;
    if user.disabled {
        return Err(unauth());
    }
    Ok(Actor { user: user.info, token_hash: hash })
}

pub fn logout(store: &dyn Store, actor: &Actor, now: OffsetDateTime) -> AppResult<()> {
    let mut tx = store.write()?;
    tx.revoke_token(&actor.token_hash)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "logout".into(),
        entity: "user".into(),
        entity_id: actor.user.id.to_string(),
        detail: serde_json::json!({}),
    })?;
    tx.commit()?;
    Ok(())
}

/// Revoke every token of a user (admin action, or the user's own "log out everywhere").
pub fn revoke_user(store: &dyn Store, actor: &Actor, target: &UserId, now: OffsetDateTime) -> AppResult<u64> {
    let mut tx = store.write()?;
    let user = tx.user_by_id(target)?.ok_or_else(AppError::not_found)?;
    let allowed = user.info.id == actor.user.id
        || (actor.user.role == shared::auth::Role::ProvinceAdmin
            && actor.user.region.contains(&user.info.region));
    if !allowed {
        return Err(AppError::not_found());
    }
    let n = tx.revoke_user_tokens(target)?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: None,
        action: "revoke_tokens".into(),
        entity: "user".into(),
        entity_id: target.to_string(),
        detail: serde_json::json!({ "revoked": n }),
    })?;
    tx.commit()?;
    Ok(n)
}

/// Register a device to the caller. Registering again is idempotent and returns the last
/// applied sequence number, so that a reinstalled app can resume its numbering.
pub fn register_device(
    store: &dyn Store,
    actor: &Actor,
    req: &RegisterDeviceRequest,
    now: OffsetDateTime,
) -> AppResult<DeviceInfo> {
    if req.device_id.0.get_version_num() != 7 {
        return Err(AppError::field(ErrorCode::InvalidFormat, "device_id", "设备标识应为 UUIDv7"));
    }
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > limits::SHORT_TEXT {
        return Err(AppError::field(ErrorCode::InvalidValue, "name", "设备名称为 1–100 个字符"));
    }
    if req.platform.chars().count() > limits::SHORT_TEXT {
        return Err(AppError::field(ErrorCode::TooLong, "platform", "平台名称过长"));
    }
    let public_key = match req.public_key.as_deref() {
        None => None,
        Some(k) => match crate::signatures::parse_public_key(k) {
            Some(_) => Some(k.trim().to_string()),
            None => {
                return Err(AppError::field(
                    ErrorCode::InvalidFormat,
                    "public_key",
                    "应为 Ed25519 公钥（32 字节的 base64）",
                ));
            }
        },
    };
    let mut tx = store.write()?;
    if let Some(d) = tx.device(&req.device_id)? {
        if d.user_id != actor.user.id {
            return Err(AppError::api(ErrorCode::DeviceOwnedByOtherUser, "该设备已登记给其他用户"));
        }
        let key = match (&d.public_key, &public_key) {
            // A key is set once: whoever holds a token cannot swap the key records verify with.
            (Some(old), Some(new)) if old != new => {
                return Err(AppError::api(ErrorCode::Conflict, "该设备已登记另一签名公钥，不能更换"));
            }
            (None, Some(new)) => {
                // A device registered before devices signed: it brings its key now.
                tx.set_device_key(&d.id, new)?;
                tx.append_audit(&AuditEntry {
                    at: now,
                    user_id: Some(actor.user.id),
                    device_id: Some(d.id),
                    action: "device_key".into(),
                    entity: "device".into(),
                    entity_id: d.id.to_string(),
                    detail: serde_json::json!({ "public_key": new }),
                })?;
                tx.commit()?;
                Some(new.clone())
            }
            _ => d.public_key.clone(),
        };
        return Ok(DeviceInfo { device_id: d.id, name: d.name, last_seq: d.last_seq, public_key: key });
    }
    tx.insert_device(&DeviceRow {
        id: req.device_id,
        user_id: actor.user.id,
        name: name.to_string(),
        platform: req.platform.clone(),
        last_seq: 0,
        registered_at: now,
        public_key: public_key.clone(),
    })?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: Some(req.device_id),
        action: "register_device".into(),
        entity: "device".into(),
        entity_id: req.device_id.to_string(),
        detail: serde_json::json!({ "name": name, "platform": req.platform, "public_key": public_key }),
    })?;
    tx.commit()?;
    Ok(DeviceInfo { device_id: req.device_id, name: name.to_string(), last_seq: 0, public_key })
}
