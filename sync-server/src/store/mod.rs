//! Storage behind a trait. The domain services in `crate::domain` are written once against
//! [`Tx`]; each backend implements these primitives (and only these) with its own SQL and
//! migrations. Nothing here knows about HTTP.

pub mod postgres;
pub mod sqlite;

use shared::auth::{Role, UserInfo};
use shared::ids::{DeviceId, InspectionId, MutationId, SiteId, UserId};
use shared::inspection::Inspection;
use shared::region::{Region, RegionCode, RegionLevel};
use shared::review::ReviewStatus;
use shared::site::Site;
use shared::sync::{InspectionRecord, MutationOutcome, ReviewNote};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database schema {found} is newer than this server understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("unique constraint violated")]
    Duplicate,
    /// The database cannot be reached right now (restarting, failing over, connections gone):
    /// nothing was changed, and the same request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A storage backend: hands out transactions.
pub trait Store: Send + Sync + 'static {
    /// A read-write transaction; writers are serialised by the backend.
    fn write(&self) -> StoreResult<Box<dyn Tx + '_>>;
    /// A read-only transaction over a consistent snapshot.
    fn read(&self) -> StoreResult<Box<dyn Tx + '_>>;
    fn backend_name(&self) -> &'static str;
    /// The schema version this server's migrations bring the database to.
    fn schema_version(&self) -> i64;
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub info: UserInfo,
    pub password_hash: String,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

/// A system's account (its user row holds name, role and region; it has no usable password).
#[derive(Debug, Clone)]
pub struct ServiceAccountRow {
    pub user_id: UserId,
    pub purpose: String,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

/// An API key: a token of a service account with an id to list and revoke it by.
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

/// What a row of the change feed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// A record version received (its content is the stored version).
    Version,
    /// A review decision on a record version.
    Review,
    /// A site changed on approval of a record (status or details).
    Site,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Version => "version",
            FeedKind::Review => "review",
            FeedKind::Site => "site",
        }
    }
}

/// One change, as appended in the transaction that made it.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub seq: u64,
    pub village: RegionCode,
    pub kind: FeedKind,
    pub entity_id: String,
    pub version: Option<u32>,
    pub at: OffsetDateTime,
    /// JSON: the decision or the status change; none for a version.
    pub data: Option<String>,
}

/// One change as read back: the JSON parts as stored, handed on without being parsed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: u64,
    pub village: String,
    pub kind: String,
    pub entity_id: String,
    pub version: Option<u32>,
    pub at: String,
    /// The decision or status change, or the version's stored JSON for a version.
    pub data: Option<String>,
}

/// A webhook: a system's subscription to its region's change feed, and its delivery state.
/// Times the dispatcher compares are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRow {
    pub id: String,
    pub owner: UserId,
    pub url: String,
    /// The HMAC key deliveries are signed with (the server must keep it to sign).
    pub secret: String,
    /// Feed kinds delivered, comma-separated (`version,review,site`).
    pub events: String,
    pub created_at: OffsetDateTime,
    /// The last feed sequence number delivered or given up on.
    pub cursor: u64,
    pub delivered: u64,
    pub given_up: u64,
    /// Failed attempts at the delivery now pending.
    pub attempts: u32,
    pub failing_since: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub lease_until: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub user_id: UserId,
    pub name: String,
    pub platform: String,
    pub last_seq: u64,
    pub registered_at: OffsetDateTime,
    /// Base64 Ed25519 public key; `None` for a device registered before devices signed.
    pub public_key: Option<String>,
}

/// A stored version with what its signature is checked against.
#[derive(Debug, Clone)]
pub struct SignedVersion {
    pub record_id: String,
    pub version: u32,
    pub inspection: Inspection,
    pub signature: Option<String>,
    pub public_key: Option<String>,
    pub device_id: String,
}

/// The current state of one inspection record (all versions share the id).
#[derive(Debug, Clone)]
pub struct RecordRow {
    pub id: InspectionId,
    pub site_id: SiteId,
    pub village: RegionCode,
    pub submitted_by: UserId,
    pub device_id: DeviceId,
    pub current_version: u32,
    pub status: ReviewStatus,
    pub review: Option<ReviewNote>,
    pub received_at: OffsetDateTime,
    pub change_seq: u64,
    pub kind: shared::inspection::InspectionKind,
}

impl RecordRow {
    /// The API view of this record, given its current version.
    pub fn to_record(&self, inspection: Inspection) -> InspectionRecord {
        InspectionRecord {
            inspection,
            status: self.status,
            review: self.review.clone(),
            submitted_by: self.submitted_by,
            device_id: self.device_id,
            received_at: self.received_at,
            server_seq: self.change_seq,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    pub user_id: Option<UserId>,
    pub device_id: Option<DeviceId>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: serde_json::Value,
}

/// Where and when a record says its visit happened, for travel and copied-position checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub record_id: InspectionId,
    pub user_id: UserId,
    pub site_id: SiteId,
    /// Device time corrected by the device's known clock skew, Unix ms.
    pub at_ms: i64,
    pub position: Option<(f64, f64)>,
    pub accuracy_m: Option<f64>,
    /// The coordinates exactly as sent, when precise enough to recognise a copy.
    pub position_key: Option<String>,
}

/// One officer's credential on an on-site (enforcement) record.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialVisit {
    pub credential_no: String,
    pub record_id: InspectionId,
    pub officer: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub position: Option<(f64, f64)>,
    pub place: String,
}

/// What transactions committed after a snapshot left for the evidence checks of a push that
/// read that snapshot: every record whose change sequence moved past it (submitted, resubmitted
/// or reviewed since), with the rows the checks look up that belong to those records.
#[derive(Debug, Clone, Default)]
pub struct EvidenceDelta {
    pub records: Vec<InspectionId>,
    pub visits: Vec<Visit>,
    pub credential_visits: Vec<CredentialVisit>,
    /// Blob links (sha256, record) with the blob's fingerprint.
    pub links: Vec<(String, InspectionId, Option<u64>)>,
    /// Claimed originals (original sha256, record, version, photo index).
    pub originals: Vec<(String, InspectionId, u32, usize)>,
}

/// A look-up of a push (mostly of its evidence checks), asked ahead for a whole batch
/// ([`Tx::evidence_lookups`]); each is answered exactly as its one-at-a-time method answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EvidenceQuestion {
    Record(InspectionId),
    BlobSize(String),
    VisitBefore(UserId, i64, InspectionId),
    VisitAfter(UserId, i64, InspectionId),
    VisitsAt(String, u32),
    Credentials(String, i64, i64),
    /// The records naming a blob (ids only).
    NamingBlob(String),
    Originals(String),
    Fingerprint(String),
    Near(u64, u32),
}

#[derive(Debug, Clone)]
pub enum EvidenceAnswer {
    Record(Option<Box<RecordRow>>),
    BlobSize(Option<u64>),
    Visit(Option<Visit>),
    Visits(Vec<Visit>),
    Credentials(Vec<CredentialVisit>),
    Records(Vec<InspectionId>),
    Originals(Vec<(InspectionId, u32, usize)>),
    Fingerprint(Option<u64>),
    Near(Vec<(String, u64)>),
}

/// A device's clock as read at a push: device minus server, and when (server time, Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceClock {
    pub skew_ms: i64,
    pub read_ms: i64,
}

/// One stored flag of a version, with what the statistics group it by.
#[derive(Debug, Clone)]
pub struct FlagRow {
    pub record_id: InspectionId,
    pub version: u32,
    pub flag: shared::flags::Flag,
    pub village: RegionCode,
    pub user_id: UserId,
    pub received_at: OffsetDateTime,
}

/// What an export prints of one version, computed once when the version is stored so that an
/// export reads flat columns rather than decoding each version's JSON (`version_exports`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionExport {
    pub record_id: InspectionId,
    pub version: u32,
    /// UTC, RFC 3339, as every stored time.
    pub device_time: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub fix_count: Option<u32>,
    /// The position's source code (`gps`, …), empty without a position.
    pub position_source: &'static str,
    pub manual_reason: String,
    /// The photos' SHA-256 hashes in the record's order, separated by spaces.
    pub photos: String,
    pub notes: String,
}

impl VersionExport {
    pub fn of(i: &Inspection) -> VersionExport {
        let pos = i.position.as_ref();
        VersionExport {
            record_id: i.id,
            version: i.version,
            device_time: utc_text(i.device_time),
            lng: pos.map(|p| p.point.lng()),
            lat: pos.map(|p| p.point.lat()),
            accuracy_m: pos.and_then(|p| p.accuracy_m),
            fix_count: pos.map(|p| p.fix_count),
            position_source: pos.map(|p| p.source.as_str()).unwrap_or(""),
            manual_reason: pos.and_then(|p| p.manual_reason.clone()).unwrap_or_default(),
            photos: i.photos.iter().map(|p| p.sha256.as_str()).collect::<Vec<_>>().join(" "),
            notes: i.notes.clone(),
        }
    }
}

/// A version's flags as an export prints them: kinds (space-separated codes), Chinese texts
/// (separated by "；"), and the flags as JSON (the GeoJSON property).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExportFlags {
    pub kinds: String,
    pub zh: String,
    pub json: String,
}

/// A stored `version_exports` row as read back, for `sync-server verify` to compare with what
/// the version and its flags give now.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExport {
    pub device_time: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub fix_count: Option<i64>,
    pub position_source: String,
    pub manual_reason: String,
    pub photos: String,
    pub notes: String,
    pub flag_kinds: String,
    pub flags_zh: String,
    pub flags_json: String,
}

impl StoredExport {
    /// The row `put_version_export` writes for these columns.
    pub fn of(e: &VersionExport, f: &ExportFlags) -> StoredExport {
        StoredExport {
            device_time: e.device_time.clone(),
            lng: e.lng,
            lat: e.lat,
            accuracy_m: e.accuracy_m,
            fix_count: e.fix_count.map(i64::from),
            position_source: e.position_source.to_string(),
            manual_reason: e.manual_reason.clone(),
            photos: e.photos.clone(),
            notes: e.notes.clone(),
            flag_kinds: f.kinds.clone(),
            flags_zh: f.zh.clone(),
            flags_json: f.json.clone(),
        }
    }
}

impl ExportFlags {
    pub fn of(flags: &[shared::flags::Flag]) -> ExportFlags {
        ExportFlags {
            kinds: flags.iter().map(|f| f.kind()).collect::<Vec<_>>().join(" "),
            zh: flags.iter().map(|f| f.message_zh()).collect::<Vec<_>>().join("；"),
            json: serde_json::to_string(flags).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// One exported record as the store reads it: borrowed from the row, nothing decoded.
#[derive(Debug, Clone, Copy)]
pub struct ExportRow<'a> {
    pub id: &'a str,
    pub version: i64,
    pub status: &'a str,
    pub kind: &'a str,
    pub site_id: &'a str,
    pub site_name: &'a str,
    pub village: &'a str,
    /// UTC, RFC 3339.
    pub received_at: &'a str,
    pub device_time: &'a str,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub fix_count: Option<i64>,
    pub position_source: &'a str,
    pub manual_reason: &'a str,
    pub photos: &'a str,
    pub notes: &'a str,
    /// The review's comment, if the record was reviewed.
    pub comment: Option<&'a str>,
    pub flag_kinds: &'a str,
    pub flags_zh: &'a str,
    pub flags_json: &'a str,
}

/// Stored times: UTC, RFC 3339.
pub(crate) fn utc_text(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Which flags a record listing keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagFilter {
    /// Records whose current version has any stored flag.
    Any,
    /// Records whose current version has a flag of this kind (`Flag::kind`).
    Kind(String),
}

/// Which inspection records a listing covers.
#[derive(Debug, Clone)]
pub enum RecordFilter {
    SubmittedBy(UserId),
    /// Records of sites whose village lies in this inclusive code range.
    VillageRange(String, String),
}

/// Most records a listing counts exactly; past it the count says "more than this".
pub const LIST_COUNT_CAP: u64 = 10_000;
/// The same under a flag filter. Each flagged record is counted through a look-up of its
/// record (is this flag of its current version, does it pass the other filters), so counting
/// ten thousand of a province's flagged records took 53–79 ms a page; a reviewer reads "1000+
/// flagged" the same way, and 疑点统计 has the exact figures per township.
pub const FLAG_COUNT_CAP: u64 = 1_000;

/// The count cap of a listing: [`FLAG_COUNT_CAP`] under a flag filter, else [`LIST_COUNT_CAP`].
pub fn count_cap(q: &RecordQuery) -> u64 {
    if q.flag.is_some() { FLAG_COUNT_CAP } else { LIST_COUNT_CAP }
}

/// A filtered, newest-first listing of records in a region (review queue, exports).
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Inclusive village-code range.
    pub lo: String,
    pub hi: String,
    pub status: Option<ReviewStatus>,
    pub kind: Option<shared::inspection::InspectionKind>,
    /// Received at or after / before (UTC).
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub flag: Option<FlagFilter>,
    pub limit: u32,
    pub offset: u32,
}

/// The WHERE clause of a record query over `table` (`""` or an alias with its dot) and its text
/// arguments in order: fixed SQL text only, every value bound. `placeholder(n)` writes the
/// backend's n-th parameter (`?n` on SQLite, `$n` on PostgreSQL).
pub(crate) fn record_where(
    q: &RecordQuery,
    table: &str,
    placeholder: fn(usize) -> String,
    time: fn(OffsetDateTime) -> String,
) -> (String, Vec<String>) {
    let t = table;
    let mut args = vec![q.lo.clone(), q.hi.clone()];
    let mut clauses = vec![format!("{t}village BETWEEN {} AND {}", placeholder(1), placeholder(2))];
    let bind = |args: &mut Vec<String>, v: String| {
        args.push(v);
        placeholder(args.len())
    };
    if let Some(s) = q.status {
        let p = bind(&mut args, s.as_str().to_string());
        clauses.push(format!("{t}status = {p}"));
    }
    if let Some(k) = q.kind {
        let p = bind(&mut args, k.as_str().to_string());
        clauses.push(format!("{t}kind = {p}"));
    }
    if let Some(from) = q.from {
        let p = bind(&mut args, time(from));
        clauses.push(format!("{t}received_at >= {p}"));
    }
    if let Some(to) = q.to {
        let p = bind(&mut args, time(to));
        clauses.push(format!("{t}received_at < {p}"));
    }
    let table = if t.is_empty() { "records." } else { t };
    match &q.flag {
        None => {}
        Some(FlagFilter::Any) => clauses.push(format!(
            "EXISTS (SELECT 1 FROM version_flags f WHERE f.record_id = {table}id AND f.version = {table}current_version)"
        )),
        Some(FlagFilter::Kind(kind)) => {
            let p = bind(&mut args, kind.clone());
            // `|| ''` keeps SQLite on the primary key for this per-record probe: offered the
            // `(kind, village)` index, it walked every flag of the kind for each record.
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM version_flags f WHERE f.record_id = {table}id \
                 AND f.version = {table}current_version AND f.kind || '' = {p})"
            ));
        }
    }
    (clauses.join(" AND "), args)
}

/// For a listing filtered by flags, the statement counting its records up to `cap` + 1 and its
/// arguments: driven from the flags (`version_flags`, indexed by village), so that counting the
/// flagged few of a million records does not test each record for flags. `join` is how the
/// backend joins the flags to their records (SQLite: `CROSS JOIN`, which keeps the flags as
/// the outer loop). `None` without a flag filter.
pub(crate) fn flagged_count(
    q: &RecordQuery,
    placeholder: fn(usize) -> String,
    time: fn(OffsetDateTime) -> String,
    join: &str,
    cap: u64,
) -> Option<(String, Vec<String>)> {
    let (from_where, args) = flagged_from(q, placeholder, time, join)?;
    Some((format!("SELECT COUNT(*) FROM (SELECT DISTINCT f.record_id {from_where} LIMIT {})", cap + 1), args))
}

/// The `FROM … WHERE …` of a flag-filtered listing driven from the flags: `version_flags f`
/// joined to the records `r` whose current version they belong to, with every other filter of
/// the query on `r`. A record with several flags appears once per flag.
pub(crate) fn flagged_from(
    q: &RecordQuery,
    placeholder: fn(usize) -> String,
    time: fn(OffsetDateTime) -> String,
    join: &str,
) -> Option<(String, Vec<String>)> {
    let flag = q.flag.as_ref()?;
    let unflagged = RecordQuery { flag: None, ..q.clone() };
    let (where_sql, mut args) = record_where(&unflagged, "r.", placeholder, time);
    let kind = match flag {
        FlagFilter::Any => String::new(),
        FlagFilter::Kind(k) => {
            args.push(k.clone());
            format!(" AND f.kind = {}", placeholder(args.len()))
        }
    };
    let sql = format!(
        "FROM version_flags f {join} records r ON r.id = f.record_id AND r.current_version = f.version
          WHERE f.village BETWEEN {} AND {}{kind} AND {where_sql}",
        placeholder(1),
        placeholder(2),
    );
    Some((sql, args))
}

/// Which sites a listing covers.
#[derive(Debug, Clone)]
pub enum SiteFilter {
    AssignedTo(UserId),
    VillageRange(String, String),
}

/// One maintained rollup counter key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    pub region: RegionCode,
    pub metric: String,
    /// The period: 0 for metrics that are not per period, YYYY for per-year metrics, YYYYMM for
    /// per-month ones.
    pub year: i32,
}

pub trait Tx {
    fn commit(self: Box<Self>) -> StoreResult<()>;

    // Change sequence: one global, monotonic counter for pull cursors.
    fn next_change_seq(&mut self) -> StoreResult<u64>;
    fn current_change_seq(&mut self) -> StoreResult<u64>;

    // Regions.
    fn insert_region(&mut self, r: &Region) -> StoreResult<()>;
    fn region(&mut self, code: &RegionCode) -> StoreResult<Option<Region>>;
    fn region_children(&mut self, code: &RegionCode) -> StoreResult<Vec<Region>>;
    fn count_regions(&mut self, level: RegionLevel) -> StoreResult<u64>;
    /// Regions of a level whose codes lie in an inclusive range, in code order.
    fn regions_in(&mut self, level: RegionLevel, lo: &str, hi: &str) -> StoreResult<Vec<Region>>;

    // Users and tokens.
    fn insert_user(&mut self, u: &UserRow) -> StoreResult<()>;
    fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRow>>;
    fn user_by_id(&mut self, id: &UserId) -> StoreResult<Option<UserRow>>;
    fn users_by_role(&mut self, role: Role) -> StoreResult<Vec<UserRow>>;
    /// Users whose region lies in `lo..=hi` (a region's descendant range), by username.
    fn users_in(&mut self, lo: &str, hi: &str) -> StoreResult<Vec<UserRow>>;
    /// Replace a user's name, role, region, password hash and disabled flag (not the username).
    fn update_user(&mut self, u: &UserRow) -> StoreResult<()>;
    fn clear_villages(&mut self, user: &UserId) -> StoreResult<()>;
    fn assign_villages(&mut self, user: &UserId, villages: &[RegionCode]) -> StoreResult<()>;
    fn assigned_villages(&mut self, user: &UserId) -> StoreResult<Vec<RegionCode>>;
    fn is_assigned(&mut self, user: &UserId, village: &RegionCode) -> StoreResult<bool>;
    fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()>;
    fn token(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRow>>;
    fn revoke_token(&mut self, hash: &[u8]) -> StoreResult<bool>;
    fn revoke_user_tokens(&mut self, user: &UserId) -> StoreResult<u64>;

    // The change feed.
    fn append_feed(&mut self, row: &FeedRow) -> StoreResult<()>;
    /// Changes after `after` in villages `lo..=hi`, in sequence order, at most `limit`, having
    /// looked at no more than `scan` rows past `after` (a region's changes among a province's);
    /// also answers the last sequence number looked at (the next cursor when fewer than
    /// `limit` matched) and whether the feed holds changes beyond it.
    fn feed_after(
        &mut self,
        after: u64,
        lo: &str,
        hi: &str,
        limit: u32,
        scan: u32,
    ) -> StoreResult<(Vec<FeedItem>, u64, bool)>;

    /// The last sequence number in the feed (0 when empty).
    fn feed_last(&mut self) -> StoreResult<u64>;

    // Webhooks.
    fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()>;
    fn webhook(&mut self, id: &str) -> StoreResult<Option<WebhookRow>>;
    /// Every webhook, or those of one owner, oldest first.
    fn webhooks(&mut self, owner: Option<&UserId>) -> StoreResult<Vec<WebhookRow>>;
    fn delete_webhook(&mut self, id: &str) -> StoreResult<bool>;
    /// Lease up to `limit` webhooks due at `now` (not leased, or their lease run out) until
    /// `lease_until`, and answer them (write transaction).
    fn claim_webhooks(&mut self, now: i64, lease_until: i64, limit: u32) -> StoreResult<Vec<WebhookRow>>;
    /// Write a webhook's delivery state and release its lease (a deleted one stays deleted).
    fn save_webhook_state(&mut self, w: &WebhookRow) -> StoreResult<()>;

    // Service accounts and their API keys.
    fn insert_service_account(&mut self, a: &ServiceAccountRow) -> StoreResult<()>;
    fn service_account(&mut self, user: &UserId) -> StoreResult<Option<ServiceAccountRow>>;
    fn service_accounts(&mut self) -> StoreResult<Vec<ServiceAccountRow>>;
    fn insert_api_key(&mut self, k: &ApiKeyRow) -> StoreResult<()>;
    /// A service account's keys, oldest first.
    fn api_keys(&mut self, user: &UserId) -> StoreResult<Vec<ApiKeyRow>>;
    /// Revoke one key of `user`; false when it has no such key or it was revoked already.
    fn revoke_api_key(&mut self, user: &UserId, key_id: &str) -> StoreResult<bool>;

    // Devices and exactly-once bookkeeping.
    fn device(&mut self, id: &DeviceId) -> StoreResult<Option<DeviceRow>>;
    fn insert_device(&mut self, d: &DeviceRow) -> StoreResult<()>;
    /// Gives a device registered before devices signed its key (never replaces one).
    fn set_device_key(&mut self, id: &DeviceId, public_key: &str) -> StoreResult<()>;
    fn set_device_seq(&mut self, id: &DeviceId, seq: u64) -> StoreResult<()>;
    fn mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
    ) -> StoreResult<Option<(MutationId, MutationOutcome)>>;
    fn insert_mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
        mutation_id: &MutationId,
        outcome: &MutationOutcome,
        at: OffsetDateTime,
    ) -> StoreResult<()>;

    // Sites.
    fn insert_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()>;
    fn update_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()>;
    fn site(&mut self, id: &SiteId) -> StoreResult<Option<Site>>;
    fn sites_changed(&mut self, filter: &SiteFilter, after: u64, limit: u32)
    -> StoreResult<Vec<(u64, Site)>>;
    /// Visit every site (for full recounts).
    fn for_each_site(&mut self, f: &mut dyn FnMut(&Site)) -> StoreResult<()>;
    fn count_sites(&mut self) -> StoreResult<Vec<(String, u64)>>;

    // Inspections.
    fn record(&mut self, id: &InspectionId) -> StoreResult<Option<RecordRow>>;
    fn insert_record(&mut self, r: &RecordRow) -> StoreResult<()>;
    fn update_record(&mut self, r: &RecordRow) -> StoreResult<()>;
    fn insert_version(
        &mut self,
        i: &Inspection,
        received_at: OffsetDateTime,
        device: &DeviceId,
        signature: Option<&str>,
    ) -> StoreResult<()>;
    /// Versions after `(record_id, version)` in that order, with signature and device key.
    fn signed_versions_page(&mut self, after: (String, u32), limit: u32) -> StoreResult<Vec<SignedVersion>>;
    fn version(&mut self, id: &InspectionId, version: u32) -> StoreResult<Option<Inspection>>;
    fn versions(&mut self, id: &InspectionId) -> StoreResult<Vec<Inspection>>;
    fn records_changed(
        &mut self,
        filter: &RecordFilter,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<InspectionRecord>>;
    fn count_records(&mut self) -> StoreResult<Vec<(ReviewStatus, u64)>>;
    /// One page of a record listing and the number matching, counted up to [`count_cap`] + 1
    /// (a province's million records are not counted per page).
    fn list_records(&mut self, q: &RecordQuery) -> StoreResult<(Vec<InspectionRecord>, u64)>;
    /// Visit every record matching (ignores limit/offset), newest first, in bounded memory.
    fn for_each_record(
        &mut self,
        q: &RecordQuery,
        f: &mut dyn FnMut(&InspectionRecord) -> bool,
    ) -> StoreResult<()>;
    fn count_versions(&mut self) -> StoreResult<u64>;
    /// Visit every record matching (ignores limit/offset), newest first, as the flat export
    /// columns of its current version, in bounded memory, until `f` answers false.
    fn for_each_export_row(
        &mut self,
        q: &RecordQuery,
        f: &mut dyn FnMut(&ExportRow<'_>) -> bool,
    ) -> StoreResult<()>;
    /// Store (or replace) a version's export columns and its flags' (backfill; `insert_version`
    /// and `insert_flags` keep them for new versions).
    fn put_version_export(&mut self, e: &VersionExport, flags: &ExportFlags) -> StoreResult<()>;
    /// A version's stored export columns, as written (verify).
    fn version_export(&mut self, record: &InspectionId, version: u32) -> StoreResult<Option<StoredExport>>;
    /// Up to `limit` stored versions without export columns (backfill).
    fn versions_without_export(&mut self, limit: u32) -> StoreResult<Vec<Inspection>>;

    // Blobs: metadata only; bytes live in a `BlobStore`.
    /// The size of a stored blob, or `None` if the server does not hold it.
    fn blob_size(&mut self, sha256: &str) -> StoreResult<Option<u64>>;
    fn insert_blob(&mut self, sha256: &str, size: u64, at: OffsetDateTime) -> StoreResult<()>;
    fn link_blob(&mut self, sha256: &str, record: &InspectionId, version: u32) -> StoreResult<()>;
    /// The records naming a blob, for download authorisation.
    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>>;
    /// The ids of the records naming a blob, in id order: what the photo-reuse check asks for
    /// every pushed photo, so backends answer it from the links alone.
    fn record_ids_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        Ok(self.records_naming_blob(sha256)?.into_iter().map(|r| r.id).collect())
    }
    fn count_blobs(&mut self) -> StoreResult<u64>;
    /// Stored blobs (hash, size) after `after` in hash order, for integrity checks.
    fn blobs_page(&mut self, after: &str, limit: u32) -> StoreResult<Vec<(String, u64)>>;

    // Evidence (see `domain::evidence`).
    /// A blob's fingerprint; `None` records that the blob is not a decodable JPEG.
    fn insert_fingerprint(&mut self, sha256: &str, fp: Option<u64>) -> StoreResult<()>;
    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>>;
    /// Stored photos whose fingerprint is within `max` bits of `fp` (committed, or written
    /// earlier in this transaction), with their fingerprints.
    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>>;
    /// Stored blobs without a fingerprint row, after `after` in hash order (backfill).
    fn blobs_without_fingerprint(&mut self, after: &str, limit: u32) -> StoreResult<Vec<String>>;
    fn upsert_visit(&mut self, v: &Visit) -> StoreResult<()>;
    /// The user's visit with the latest time at or before `at_ms` / earliest at or after it,
    /// other than `exclude`.
    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>>;
    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>>;
    /// Visits at exactly these coordinates (at most `limit`).
    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>>;
    fn replace_credential_visits(
        &mut self,
        record: &InspectionId,
        visits: &[CredentialVisit],
    ) -> StoreResult<()>;
    /// On-site records with this credential whose times overlap `[started_ms, ended_ms]`.
    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>>;
    fn insert_photo_original(
        &mut self,
        original: &str,
        record: &InspectionId,
        version: u32,
        photo: usize,
    ) -> StoreResult<()>;
    /// Records (id, version, photo index) whose photos claim this camera original.
    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>>;
    /// The records changed after change sequence `seq` and, with `rows`, their evidence rows
    /// (see [`EvidenceDelta`]); set-based, so a push pays a few statements per batch for what
    /// committed between its snapshot and its write transaction.
    fn evidence_since(&mut self, seq: u64, rows: bool) -> StoreResult<EvidenceDelta>;
    /// Answers many look-ups of the evidence checks, in order. Backends across a network send
    /// them together (one round trip for a batch); in-process ones answer one by one.
    fn evidence_lookups(&mut self, questions: &[EvidenceQuestion]) -> StoreResult<Vec<EvidenceAnswer>> {
        questions
            .iter()
            .map(|q| {
                Ok(match q {
                    EvidenceQuestion::Record(id) => EvidenceAnswer::Record(self.record(id)?.map(Box::new)),
                    EvidenceQuestion::BlobSize(sha) => EvidenceAnswer::BlobSize(self.blob_size(sha)?),
                    EvidenceQuestion::VisitBefore(u, at, ex) => {
                        EvidenceAnswer::Visit(self.visit_before(u, *at, ex)?)
                    }
                    EvidenceQuestion::VisitAfter(u, at, ex) => {
                        EvidenceAnswer::Visit(self.visit_after(u, *at, ex)?)
                    }
                    EvidenceQuestion::VisitsAt(key, limit) => {
                        EvidenceAnswer::Visits(self.visits_at(key, *limit)?)
                    }
                    EvidenceQuestion::Credentials(c, s, e) => {
                        EvidenceAnswer::Credentials(self.credential_visits_overlapping(c, *s, *e)?)
                    }
                    EvidenceQuestion::NamingBlob(sha) => {
                        EvidenceAnswer::Records(self.record_ids_naming_blob(sha)?)
                    }
                    EvidenceQuestion::Originals(o) => EvidenceAnswer::Originals(self.photo_originals(o)?),
                    EvidenceQuestion::Fingerprint(sha) => EvidenceAnswer::Fingerprint(self.fingerprint(sha)?),
                    EvidenceQuestion::Near(fp, max) => {
                        EvidenceAnswer::Near(self.near_fingerprints(*fp, *max)?)
                    }
                })
            })
            .collect()
    }
    /// Whether asking [`Tx::evidence_lookups`] ahead saves anything (a network in between).
    fn batches_lookups(&self) -> bool {
        false
    }
    fn device_clock(&mut self, device: &DeviceId) -> StoreResult<Option<DeviceClock>>;
    fn set_device_clock(&mut self, device: &DeviceId, clock: &DeviceClock) -> StoreResult<()>;
    /// Stores a version's flags (in order). Versions are stored by the push, which checks them,
    /// so `insert_version` marks a version checked and this adds what the check found.
    fn insert_flags(&mut self, rows: &[FlagRow]) -> StoreResult<()>;
    /// The stored flags of a version, or `None` if it was never checked at push.
    fn flags_of(
        &mut self,
        record: &InspectionId,
        version: u32,
    ) -> StoreResult<Option<Vec<shared::flags::Flag>>>;
    /// [`Tx::flags_of`] of several versions, in the order asked: an export reads one per row,
    /// which across a network must not cost a round trip each.
    fn flags_of_many(
        &mut self,
        versions: &[(InspectionId, u32)],
    ) -> StoreResult<Vec<Option<Vec<shared::flags::Flag>>>> {
        versions.iter().map(|(r, v)| self.flags_of(r, *v)).collect()
    }
    /// Records with a stored flag citing this blob as evidence (download authorisation).
    fn records_citing_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>>;
    /// Every stored flag of current versions of records in villages `lo..=hi`, received in
    /// `[from, to)`, in bounded memory.
    fn for_each_flag(
        &mut self,
        lo: &str,
        hi: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        f: &mut dyn FnMut(FlagRow),
    ) -> StoreResult<()>;

    // Rollup counters.
    fn add_counter(&mut self, key: &CounterKey, delta: i64) -> StoreResult<()>;
    fn counter(&mut self, key: &CounterKey) -> StoreResult<i64>;
    /// Several counters at once, in the order asked (0 where none): a progress table reads
    /// seven per region, which across a network must not cost a round trip each.
    fn counters(&mut self, keys: &[CounterKey]) -> StoreResult<Vec<i64>> {
        keys.iter().map(|k| self.counter(k)).collect()
    }
    fn all_counters(&mut self) -> StoreResult<Vec<(CounterKey, i64)>>;

    // Targets.
    fn upsert_target(&mut self, t: &shared::target::Target) -> StoreResult<()>;
    fn targets(&mut self, year: i32, region: &RegionCode) -> StoreResult<Vec<shared::target::Target>>;
    /// The targets of several regions for one year, in no particular order.
    fn targets_of(&mut self, year: i32, regions: &[RegionCode]) -> StoreResult<Vec<shared::target::Target>> {
        let mut out = Vec::new();
        for r in regions {
            out.extend(self.targets(year, r)?);
        }
        Ok(out)
    }

    // Document numbers (see `domain::documents`).
    /// Hand `device` the next `size` serials of (kind, year).
    fn issue_number_block(
        &mut self,
        kind: shared::documents::DocumentKind,
        year: i32,
        size: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<shared::documents::NumberBlock>;
    fn number_blocks(&mut self, device: &DeviceId) -> StoreResult<Vec<shared::documents::NumberBlock>>;
    /// The device a number was handed to, if it was.
    fn number_block_device(&mut self, n: &shared::documents::DocumentNumber)
    -> StoreResult<Option<DeviceId>>;
    /// The record that uses a number, if one does.
    fn document_number_record(
        &mut self,
        n: &shared::documents::DocumentNumber,
    ) -> StoreResult<Option<InspectionId>>;
    /// Record that a version uses a number; `false` when the number was already recorded.
    fn use_document_number(
        &mut self,
        n: &shared::documents::DocumentNumber,
        record: &InspectionId,
        version: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    // Login attempts (see `domain::auth::LoginLimiter`).
    /// The attempts counted for a username: (window start, Unix ms; count).
    fn login_attempts(&mut self, username: &str) -> StoreResult<Option<(i64, u32)>>;
    fn set_login_attempts(&mut self, username: &str, window_start_ms: i64, attempts: u32) -> StoreResult<()>;
    fn clear_login_attempts(&mut self, username: &str) -> StoreResult<()>;
    /// Forget every counting window that started before `started_before_ms`; answers how many.
    fn prune_login_attempts(&mut self, started_before_ms: i64) -> StoreResult<u64>;

    // Audit.
    /// Appends an entry to the hash-chained audit log. Backends serialise writers, so the head
    /// read here is the one the new entry links to.
    fn append_audit(&mut self, a: &AuditEntry) -> StoreResult<()> {
        let (seq, prev) = self.audit_head()?.unwrap_or((0, crate::audit_chain::GENESIS.to_string()));
        let hash = crate::audit_chain::entry_hash(&prev, seq + 1, a);
        self.insert_audit(seq + 1, a, &hash)
    }
    /// The last entry's number and hash (entries not yet chained do not count).
    fn audit_head(&mut self) -> StoreResult<Option<(u64, String)>>;
    fn insert_audit(&mut self, seq: u64, a: &AuditEntry, hash: &str) -> StoreResult<()>;
    /// Entries numbered above `after`, in order, with their stored hash (`None` before they
    /// were chained).
    fn audit_page(&mut self, after: u64, limit: u32) -> StoreResult<Vec<(u64, AuditEntry, Option<String>)>>;
    /// Chains an entry written before the chain existed.
    fn set_audit_hash(&mut self, seq: u64, hash: &str) -> StoreResult<()>;
    fn audit_for(&mut self, entity_id: &str) -> StoreResult<Vec<AuditEntry>>;
    fn count_audit(&mut self) -> StoreResult<u64>;
}
