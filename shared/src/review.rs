//! The review state machine: submitted → approved | returned | rejected; a returned record comes
//! back as a new version and is submitted again. Drafts never leave the device.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Submitted,
    Approved,
    Returned,
    Rejected,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 4] =
        [ReviewStatus::Submitted, ReviewStatus::Approved, ReviewStatus::Returned, ReviewStatus::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Submitted => "submitted",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Returned => "returned",
            ReviewStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Approved and rejected records never change again.
    pub fn is_final(self) -> bool {
        matches!(self, ReviewStatus::Approved | ReviewStatus::Rejected)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    /// 退回修改: comment required.
    Return,
    /// 不予通过: reason required.
    Reject,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Return => "return",
            ReviewDecision::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    pub fn requires_comment(self) -> bool {
        !matches!(self, ReviewDecision::Approve)
    }

    pub fn outcome(self) -> ReviewStatus {
        match self {
            ReviewDecision::Approve => ReviewStatus::Approved,
            ReviewDecision::Return => ReviewStatus::Returned,
            ReviewDecision::Reject => ReviewStatus::Rejected,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("当前状态 {0} 不能审核")]
    NotReviewable(&'static str),
    #[error("当前状态 {0} 不能重新提交")]
    NotResubmittable(&'static str),
    #[error("退回或不予通过必须填写意见")]
    CommentRequired,
}

/// Apply a reviewer's decision.
pub fn review(
    current: ReviewStatus,
    decision: ReviewDecision,
    comment: &str,
) -> Result<ReviewStatus, ReviewError> {
    if current != ReviewStatus::Submitted {
        return Err(ReviewError::NotReviewable(current.as_str()));
    }
    if decision.requires_comment() && comment.trim().is_empty() {
        return Err(ReviewError::CommentRequired);
    }
    Ok(decision.outcome())
}

/// A corrected version arrives: only a returned record may be resubmitted.
pub fn resubmit(current: ReviewStatus) -> Result<ReviewStatus, ReviewError> {
    match current {
        ReviewStatus::Returned => Ok(ReviewStatus::Submitted),
        other => Err(ReviewError::NotResubmittable(other.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn happy_paths() {
        use ReviewDecision::*;
        use ReviewStatus::*;
        assert_eq!(review(Submitted, Approve, ""), Ok(Approved));
        assert_eq!(review(Submitted, Return, "照片不清"), Ok(Returned));
        assert_eq!(review(Submitted, Reject, "重复"), Ok(Rejected));
        assert_eq!(resubmit(Returned), Ok(Submitted));
    }

    #[test]
    fn comment_required_for_return_and_reject() {
        assert_eq!(
            review(ReviewStatus::Submitted, ReviewDecision::Return, "  "),
            Err(ReviewError::CommentRequired)
        );
        assert_eq!(
            review(ReviewStatus::Submitted, ReviewDecision::Reject, ""),
            Err(ReviewError::CommentRequired)
        );
    }

    fn status() -> impl Strategy<Value = ReviewStatus> {
        prop::sample::select(ReviewStatus::ALL.to_vec())
    }
    fn decision() -> impl Strategy<Value = ReviewDecision> {
        prop::sample::select(vec![ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject])
    }

    proptest! {
        /// Random walks never leave a final state and never panic.
        #[test]
        fn final_states_are_absorbing(start in status(), steps in prop::collection::vec((decision(), any::<bool>()), 0..20)) {
            let mut s = start;
            for (d, resub) in steps {
                let before = s;
                let next = if resub { resubmit(s) } else { review(s, d, "意见") };
                if let Ok(n) = next { s = n; }
                if before.is_final() { prop_assert_eq!(s, before); }
            }
        }
    }
}
