//! Review on the reviewer's tablet, offline: the local queue's view types and the rules a
//! decision made without a link must follow before it is queued. The server decides for good
//! (`conflict` when the record moved on); these rules only keep the tablet from queueing what
//! it can already tell would be refused.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorCode, FieldError};
use crate::ids::InspectionId;
use crate::inspection::InspectionKind;
use crate::review::{self, ReviewDecision, ReviewError, ReviewStatus};
use crate::sync::InspectionRecord;
use crate::validate::limits;

/// Where a decision made on the tablet stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionState {
    /// In the outbox, not yet answered by the server.
    Queued,
    /// The server applied it: it is the decision that stands.
    Synced,
    /// The server refused it for good (scope, a missing comment): shown with the reason.
    Refused,
    /// The record moved on before the decision arrived (another reviewer decided it, or the
    /// inspector resubmitted): shown beside the server's side until the reviewer decides again
    /// or drops theirs.
    Conflict,
    /// The reviewer let a conflicting decision go.
    Dropped,
}

impl DecisionState {
    pub const ALL: [DecisionState; 5] = [
        DecisionState::Queued,
        DecisionState::Synced,
        DecisionState::Refused,
        DecisionState::Conflict,
        DecisionState::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionState::Queued => "queued",
            DecisionState::Synced => "synced",
            DecisionState::Refused => "refused",
            DecisionState::Conflict => "conflict",
            DecisionState::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DecisionState::Queued => "待同步",
            DecisionState::Synced => "已同步",
            DecisionState::Refused => "被服务器拒收",
            DecisionState::Conflict => "审核冲突",
            DecisionState::Dropped => "已放弃",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            DecisionState::Queued => "Queued",
            DecisionState::Synced => "Synced",
            DecisionState::Refused => "Refused",
            DecisionState::Conflict => "Conflict",
            DecisionState::Dropped => "Dropped",
        }
    }

    /// The decision still speaks for the record on this tablet.
    pub fn is_live(self) -> bool {
        matches!(self, DecisionState::Queued | DecisionState::Synced | DecisionState::Conflict)
    }
}

/// A decision made on this tablet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalDecision {
    /// The device sequence number it went out under.
    pub seq: u64,
    pub record_id: InspectionId,
    /// The version the reviewer saw.
    pub version: u32,
    pub decision: ReviewDecision,
    pub comment: String,
    pub state: DecisionState,
    /// Why the server refused it or what it conflicted with.
    #[serde(default)]
    pub error: Option<ApiError>,
    /// The record as the server held it when it answered `conflict`.
    #[serde(default)]
    pub server: Option<Box<InspectionRecord>>,
    /// When it was made, RFC 3339 UTC.
    pub decided_at: String,
}

/// One record of the township as the reviewer's tablet holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub record: InspectionRecord,
    pub site_name: String,
    /// The site's village (12-digit code), empty when the site is not on the tablet.
    #[serde(default)]
    pub village: String,
    /// Photos the record names, and how many of them are on the tablet.
    pub photos: u32,
    pub photos_local: u32,
    /// The record's detail (every version, history, flags) is on the tablet for this change.
    pub detail_ready: bool,
    /// Flags on the current version (known once the detail is on the tablet).
    pub flags: u32,
    /// The newest decision made here, if any.
    #[serde(default)]
    pub decision: Option<LocalDecision>,
}

impl ReviewItem {
    /// Everything needed to review it without a link is on the tablet.
    pub fn ready_offline(&self) -> bool {
        self.detail_ready && self.photos_local >= self.photos
    }

    /// Waiting for this reviewer: submitted on the server as last pulled, and no live decision
    /// of this tablet on its current version.
    pub fn awaits_decision(&self) -> bool {
        self.record.status == ReviewStatus::Submitted
            && !self
                .decision
                .as_ref()
                .is_some_and(|d| d.state.is_live() && d.version == self.record.inspection.version)
    }
}

/// Which part of the local queue to show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueView {
    /// Submitted and not yet decided here.
    #[default]
    Pending,
    /// Decided here: queued, synced, refused.
    Decided,
    /// Decisions the server answered with a conflict.
    Conflicts,
    /// Everything the tablet holds for the township.
    All,
}

/// The reviewer's filter over the local queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueFilter {
    #[serde(default)]
    pub view: QueueView,
    #[serde(default)]
    pub kind: Option<InspectionKind>,
    /// Only records with (true) or without (false) flags.
    #[serde(default)]
    pub flagged: Option<bool>,
    /// Only records whose detail and photos are all on the tablet.
    #[serde(default)]
    pub ready_only: bool,
    /// Site name or village code contains this.
    #[serde(default)]
    pub text: String,
}

impl QueueFilter {
    pub fn matches(&self, item: &ReviewItem) -> bool {
        let decision = item.decision.as_ref().map(|d| d.state);
        let view = match self.view {
            QueueView::Pending => item.awaits_decision(),
            QueueView::Decided => matches!(
                decision,
                Some(DecisionState::Queued | DecisionState::Synced | DecisionState::Refused)
            ),
            QueueView::Conflicts => decision == Some(DecisionState::Conflict),
            QueueView::All => true,
        };
        let text = self.text.trim();
        view && self.kind.is_none_or(|k| item.record.inspection.kind() == k)
            && self.flagged.is_none_or(|f| (item.flags > 0) == f)
            && (!self.ready_only || item.ready_offline())
            && (text.is_empty() || item.site_name.contains(text) || item.village.starts_with(text))
    }
}

/// Counts for the review home screen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    pub pending: u32,
    /// Pending and ready to review offline.
    pub ready: u32,
    pub queued: u32,
    pub conflicts: u32,
    pub refused: u32,
}

impl QueueCounts {
    pub fn of<'a>(items: impl IntoIterator<Item = &'a ReviewItem>) -> QueueCounts {
        let mut c = QueueCounts::default();
        for it in items {
            if it.awaits_decision() {
                c.pending += 1;
                c.ready += u32::from(it.ready_offline());
            }
            match it.decision.as_ref().map(|d| d.state) {
                Some(DecisionState::Queued) => c.queued += 1,
                Some(DecisionState::Conflict) => c.conflicts += 1,
                Some(DecisionState::Refused) => c.refused += 1,
                _ => {}
            }
        }
        c
    }
}

/// Where the background fetch for offline review stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefetchProgress {
    /// Record details fetched in this round.
    pub details: u32,
    pub photos_done: u32,
    pub photos_total: u32,
    pub bytes_done: u64,
}

/// One record of the local queue as the review screen shows it: the item, the detail fetched
/// for it (versions, history, flags) when it is here, and this tablet's decisions on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRecordView {
    pub item: ReviewItem,
    #[serde(default)]
    pub detail: Option<crate::console::RecordDetail>,
    /// The site as the tablet holds it.
    #[serde(default)]
    pub site: Option<crate::site::Site>,
    /// Oldest first.
    #[serde(default)]
    pub decisions: Vec<LocalDecision>,
}

/// The record's detail as the review screen shows it: the detail last fetched, brought up to the
/// record as last pulled (a decision or a new version since; flags are dropped when they were
/// computed for another version); without one, what the pulled record alone tells.
pub fn current_detail(v: &ReviewRecordView) -> crate::console::RecordDetail {
    let record = v.item.record.clone();
    match v.detail.clone() {
        Some(mut d) if d.record.server_seq <= record.server_seq => {
            if d.record.inspection.version != record.inspection.version {
                d.flags.clear();
            }
            if !d.versions.iter().any(|x| x.version == record.inspection.version) {
                d.versions.push(record.inspection.clone());
            }
            d.record = record;
            d.site = d.site.or_else(|| v.site.clone());
            d
        }
        Some(d) => d,
        None => crate::console::RecordDetail {
            versions: vec![record.inspection.clone()],
            record,
            history: Vec::new(),
            site: v.site.clone(),
            flags: Vec::new(),
        },
    }
}

/// A decision the reviewer makes on the tablet (one of many in a bulk decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRequest {
    pub record_id: InspectionId,
    /// The version shown when deciding.
    pub version: u32,
    pub decision: ReviewDecision,
    #[serde(default)]
    pub comment: String,
}

/// Whether a decision may be queued against the record as the tablet holds it. The same rules
/// as the server's (comment required to return or reject, only a submitted record, only the
/// version shown), with the fields named as the form names them.
pub fn check_decision(item: &ReviewItem, req: &DecisionRequest) -> Result<(), ApiError> {
    if req.comment.chars().count() > limits::LONG_TEXT {
        return Err(ApiError::validation(vec![FieldError::new(
            "comment",
            ErrorCode::TooLong,
            "意见不能超过 2000 个字符",
        )]));
    }
    if req.version != item.record.inspection.version {
        return Err(ApiError::new(ErrorCode::StaleVersion, "记录已有新版本，请查看后再审核"));
    }
    if !item.awaits_decision() {
        let why = match item.decision.as_ref() {
            Some(d) if d.state.is_live() && d.version == req.version => "已对该版本作出决定",
            _ => "该记录当前不能审核",
        };
        return Err(ApiError::new(ErrorCode::IllegalTransition, why));
    }
    review::review(item.record.status, req.decision, &req.comment).map_err(|e| match e {
        ReviewError::CommentRequired => ApiError::validation(vec![FieldError::new(
            "comment",
            ErrorCode::Required,
            "退回或不予通过必须填写意见",
        )]),
        other => ApiError::new(ErrorCode::IllegalTransition, other.to_string()),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: ReviewStatus, version: u32) -> ReviewItem {
        let mut inspection = crate::validate::tests::water_inspection();
        inspection.version = version;
        let json = serde_json::json!({
            "inspection": inspection,
            "status": status,
            "submitted_by": "0190f5a2-0000-7000-8000-000000000001",
            "device_id": "0190f5a2-0000-7000-8000-000000000002",
            "received_at": "2026-12-01T02:00:00Z",
            "server_seq": 7
        });
        ReviewItem {
            record: serde_json::from_value(json).expect("record"),
            site_name: "东湖村黑臭水体".into(),
            village: "421102101201".into(),
            photos: 2,
            photos_local: 1,
            detail_ready: true,
            flags: 0,
            decision: None,
        }
    }

    fn req(version: u32, decision: ReviewDecision, comment: &str) -> DecisionRequest {
        DecisionRequest { record_id: InspectionId::new(), version, decision, comment: comment.into() }
    }

    fn decided(it: &ReviewItem, state: DecisionState, version: u32) -> LocalDecision {
        LocalDecision {
            seq: 3,
            record_id: it.record.inspection.id,
            version,
            decision: ReviewDecision::Approve,
            comment: String::new(),
            state,
            error: None,
            server: None,
            decided_at: "2026-12-01T03:00:00Z".into(),
        }
    }

    #[test]
    fn a_submitted_record_takes_one_decision_on_the_version_shown() {
        let mut it = item(ReviewStatus::Submitted, 2);
        assert!(check_decision(&it, &req(2, ReviewDecision::Approve, "")).is_ok());
        assert_eq!(
            check_decision(&it, &req(1, ReviewDecision::Approve, "")).unwrap_err().code,
            ErrorCode::StaleVersion
        );
        let e = check_decision(&it, &req(2, ReviewDecision::Return, " ")).unwrap_err();
        assert_eq!(e.fields[0].field, "comment");
        assert_eq!(e.fields[0].code, ErrorCode::Required);
        it.decision = Some(decided(&it, DecisionState::Queued, 2));
        assert!(!it.awaits_decision());
        assert_eq!(
            check_decision(&it, &req(2, ReviewDecision::Reject, "重复")).unwrap_err().code,
            ErrorCode::IllegalTransition
        );
        // A dropped or refused decision leaves the record to be decided again.
        for s in [DecisionState::Dropped, DecisionState::Refused] {
            it.decision = Some(decided(&it, s, 2));
            assert!(it.awaits_decision(), "{s:?}");
        }
        // A decision on an older version does not hold the resubmitted one back.
        it.decision = Some(decided(&it, DecisionState::Conflict, 1));
        assert!(it.awaits_decision());
    }

    #[test]
    fn the_detail_shown_follows_the_record_as_last_pulled() {
        let fetched = item(ReviewStatus::Submitted, 1);
        let detail = crate::console::RecordDetail {
            record: fetched.record.clone(),
            versions: vec![fetched.record.inspection.clone()],
            history: vec![],
            site: None,
            flags: vec![crate::flags::Flag::MockLocation],
        };
        // Decided since (same version): the fetched history and flags stay, the status is new.
        let mut now = item(ReviewStatus::Approved, 1);
        now.record.inspection = fetched.record.inspection.clone();
        now.record.server_seq = 9;
        let v = ReviewRecordView {
            item: now.clone(),
            detail: Some(detail.clone()),
            site: None,
            decisions: vec![],
        };
        let d = current_detail(&v);
        assert_eq!((d.record.status, d.flags.len(), d.versions.len()), (ReviewStatus::Approved, 1, 1));
        // Resubmitted since: the new version is listed, the old version's flags are not shown.
        let mut v2 = now.clone();
        v2.record.status = ReviewStatus::Submitted;
        v2.record.inspection.version = 2;
        let d = current_detail(&ReviewRecordView {
            item: v2,
            detail: Some(detail),
            site: None,
            decisions: vec![],
        });
        assert_eq!((d.record.inspection.version, d.flags.len(), d.versions.len()), (2, 0, 2));
        // Nothing fetched: the pulled record alone.
        let d = current_detail(&ReviewRecordView { item: now, detail: None, site: None, decisions: vec![] });
        assert_eq!((d.versions.len(), d.history.len()), (1, 0));
    }

    #[test]
    fn only_submitted_records_await_a_decision() {
        for s in [ReviewStatus::Approved, ReviewStatus::Returned, ReviewStatus::Rejected] {
            let it = item(s, 1);
            assert!(!it.awaits_decision());
            assert_eq!(
                check_decision(&it, &req(1, ReviewDecision::Approve, "")).unwrap_err().code,
                ErrorCode::IllegalTransition
            );
        }
    }

    #[test]
    fn filters_and_counts_follow_the_decisions() {
        let a = item(ReviewStatus::Submitted, 1);
        let mut b = item(ReviewStatus::Submitted, 1);
        b.photos_local = 2;
        b.flags = 1;
        let mut c = item(ReviewStatus::Submitted, 1);
        c.decision = Some(decided(&c, DecisionState::Conflict, 1));
        let mut d = item(ReviewStatus::Approved, 1);
        d.decision = Some(decided(&d, DecisionState::Synced, 1));
        let all = [a, b, c, d];
        let shown = |f: QueueFilter| all.iter().filter(|i| f.matches(i)).count();
        assert_eq!(shown(QueueFilter::default()), 2);
        assert_eq!(shown(QueueFilter { ready_only: true, ..Default::default() }), 1);
        assert_eq!(shown(QueueFilter { flagged: Some(true), ..Default::default() }), 1);
        assert_eq!(shown(QueueFilter { view: QueueView::Conflicts, ..Default::default() }), 1);
        assert_eq!(shown(QueueFilter { view: QueueView::Decided, ..Default::default() }), 1);
        assert_eq!(shown(QueueFilter { view: QueueView::All, text: "东湖".into(), ..Default::default() }), 4);
        assert_eq!(
            shown(QueueFilter { view: QueueView::All, text: "421102101".into(), ..Default::default() }),
            4
        );
        assert_eq!(
            shown(QueueFilter { view: QueueView::All, text: "421103".into(), ..Default::default() }),
            0
        );
        assert_eq!(
            QueueCounts::of(&all),
            QueueCounts { pending: 2, ready: 1, queued: 0, conflicts: 1, refused: 0 }
        );
    }
}
