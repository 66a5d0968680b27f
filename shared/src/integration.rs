//! Other systems connecting to Qingliu (the provincial platform, a prefecture's dashboard):
//! service accounts with API keys, and the change feed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{Role, UserInfo};
use crate::ids::UserId;
use crate::region::RegionCode;

/// Every API key starts with this, so that a leaked key is recognisable (secret scanners) and
/// never mistaken for a session token.
pub const API_KEY_PREFIX: &str = "qlk_";

/// Longest lifetime of an API key, and the one given when none is asked for.
pub const API_KEY_MAX_DAYS: u32 = 730;
pub const API_KEY_DEFAULT_DAYS: u32 = 365;

/// A system's account: a read-only role and a region, no password, API keys instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "username": "hubei-platform", "display_name": "省数字政府平台", "purpose": "数据共享，联系人 王工",
    "role": "province_viewer", "region": "420000", "key_days": 365
})))]
pub struct NewServiceAccount {
    /// Unique among all users (people and systems), 1–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name: String,
    /// What the system is and who answers for it (shown to the province admin).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub purpose: String,
    /// One of `county_viewer`, `prefecture_viewer`, `province_viewer`.
    pub role: Role,
    pub region: RegionCode,
    /// Lifetime of the first key in days (1–730; 365 when omitted).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 730))]
    pub key_days: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKeyRequest {
    /// Lifetime in days (1–730; 365 when omitted).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 730))]
    pub days: Option<u32>,
}

/// A key as listed: never the key itself, which is shown once, when made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

/// A new key: `key` goes in `Authorization: Bearer …` and is not stored by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKey {
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceAccountView {
    pub user: UserInfo,
    pub disabled: bool,
    pub purpose: String,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    pub keys: Vec<ApiKeyView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedServiceAccount {
    pub account: ServiceAccountView,
    pub key: NewApiKey,
}

/// What a change of the feed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A record version was received: `data` is the version (`Inspection`, the signed content).
    Version,
    /// A review decision: `data` is `{record_id, status, review}`.
    Review,
    /// A site changed on an approval (its status, or a detail such as sewage treated): `data` is
    /// `{site_id, from, to, record_id, site}` (statuses before and after, the site after).
    Site,
}

/// One change. `seq` orders every change of the province; a reader keeps the page's `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub seq: u64,
    pub kind: ChangeKind,
    /// When the server made the change (UTC, RFC 3339).
    pub at: String,
    pub village: RegionCode,
    /// The record's id (version, review) or the site's (site).
    pub entity_id: String,
    #[serde(default)]
    pub version: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// A page of the change feed: the changes after the cursor asked for, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "changes": [{"seq": 1042, "kind": "review", "at": "2026-12-05T02:41:58Z", "village": "421102101201",
        "entity_id": "019ae0c4-8f7e-7b3a-9c1d-2f3e4a5b6c7d", "version": 1,
        "data": {"record_id": "019ae0c4-8f7e-7b3a-9c1d-2f3e4a5b6c7d", "status": "approved",
            "review": {"decision": "approve", "comment": "", "version": 1}}}],
    "cursor": 1042, "more": false
})))]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// Ask for `after=cursor` next: nothing at or before it will ever appear.
    pub cursor: u64,
    /// More changes exist after `cursor` (ask again at once); otherwise poll later.
    pub more: bool,
}

/// Most changes in one page, and the number given when none is asked for.
pub const FEED_PAGE_MAX: u32 = 5_000;
pub const FEED_PAGE_DEFAULT: u32 = 1_000;

/// A system's subscription to its region's changes, delivered to its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// Where deliveries are POSTed (`http` or `https`, at most 2000 characters).
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 2000))]
    pub url: String,
    /// The kinds of change wanted (at least one).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 3))]
    pub events: Vec<ChangeKind>,
    /// Deliver the feed from its beginning instead of from now.
    #[serde(default)]
    pub from_start: bool,
}

/// Where a webhook's deliveries stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// The last delivery was accepted (or none was due yet).
    Delivering,
    /// The receiver has been refusing or unreachable since `failing_since`; retried with backoff.
    Failing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    pub owner: UserId,
    pub url: String,
    pub events: Vec<ChangeKind>,
    pub state: WebhookState,
    /// The last feed sequence number delivered or given up on.
    pub cursor: u64,
    /// Changes delivered, and changes skipped after the receiver failed for too long.
    pub delivered: u64,
    pub given_up: u64,
    /// Failed attempts at the pending delivery.
    pub attempts: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// A new webhook: `secret` signs every delivery and is shown only now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    pub secret: String,
}

/// The body of a delivery: changes in feed order, after the previous delivery's `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub webhook_id: String,
    pub changes: Vec<Change>,
    pub cursor: u64,
}
