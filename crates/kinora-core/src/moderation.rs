//! Moderation's vocabulary: why a report is filed, where it stands, what staff do
//! about it and why, and the staff roles. Each is a closed set
//! ([`closed_set!`](crate::closed_set)): parsed at the edge, stored and shown as
//! the string it stands for.

crate::closed_set! {
    /// Why something was reported. `appeal` is not chosen by reporters: it marks the
    /// report an appeal files against a moderation action.
    pub enum ReportReason {
        Spam = "spam",
        Harassment = "harassment",
        Hate = "hate",
        Violence = "violence",
        Sexual = "sexual",
        SelfHarm = "self-harm",
        Illegal = "illegal",
        Copyright = "copyright",
        Privacy = "privacy",
        Other = "other",
        Appeal = "appeal",
    }
}

impl ReportReason {
    /// The reasons a reporter may choose (all but `appeal`).
    pub fn choosable() -> impl Iterator<Item = ReportReason> {
        ReportReason::ALL.iter().copied().filter(|r| *r != ReportReason::Appeal)
    }
}

crate::closed_set! {
    /// What a report is about; `gone` once it no longer exists.
    pub enum ReportedKind {
        Video = "video",
        Comment = "comment",
        Account = "account",
        Gone = "gone",
    }
}

crate::closed_set! {
    /// Where a report stands.
    pub enum ReportStatus {
        Open = "open",
        /// Staff acted on it (or on another report of the same item).
        Actioned = "actioned",
        Dismissed = "dismissed",
    }
}

crate::closed_set! {
    /// What staff do about a report; `reinstate` only answers an appeal.
    pub enum ModAction {
        Remove = "remove",
        Restrict = "restrict",
        Suspend = "suspend",
        Dismiss = "dismiss",
        Reinstate = "reinstate",
    }
}

/// Why staff acted: a violation (one of the reasons a reporter may choose), or
/// none (for dismissing and reinstating), spelled `no-violation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionReason {
    Violation(ReportReason),
    NoViolation,
}

impl ActionReason {
    const NO_VIOLATION: &'static str = "no-violation";

    pub fn as_str(self) -> &'static str {
        match self {
            ActionReason::Violation(r) => r.as_str(),
            ActionReason::NoViolation => Self::NO_VIOLATION,
        }
    }

    pub fn parse(s: &str) -> Option<ActionReason> {
        if s == Self::NO_VIOLATION {
            return Some(ActionReason::NoViolation);
        }
        ReportReason::parse(s).filter(|r| *r != ReportReason::Appeal).map(ActionReason::Violation)
    }

    /// Every reason, violations first.
    pub fn all() -> Vec<ActionReason> {
        ReportReason::choosable().map(ActionReason::Violation).chain([ActionReason::NoViolation]).collect()
    }

    pub fn allowed() -> String {
        ActionReason::all().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for ActionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ActionReason {
    type Err = crate::closed::NotInSet;

    fn from_str(s: &str) -> Result<ActionReason, Self::Err> {
        ActionReason::parse(s).ok_or_else(|| crate::closed::NotInSet { value: s.into(), allowed: ActionReason::allowed() })
    }
}

impl serde::Serialize for ActionReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ActionReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ActionReason, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

crate::closed_set! {
    /// A staff member's role.
    pub enum StaffRole {
        /// Works the report queue.
        Moderator = "moderator",
        /// A moderator who may also read data as a logged staff access.
        Admin = "admin",
    }
}

crate::closed_set! {
    /// Why a staff member or the operator reads someone's data, as the transparency
    /// log records it. `staff-grant` and `staff-revoke` are the operator's changes of
    /// roles, never asked for with an access.
    pub enum AccessReason {
        ReportReview = "report-review",
        LegalRequest = "legal-request",
        Security = "security",
        Support = "support",
        ErasureCheck = "erasure-check",
        StaffGrant = "staff-grant",
        StaffRevoke = "staff-revoke",
    }
}

impl AccessReason {
    /// The reasons an access may give.
    pub fn for_access() -> impl Iterator<Item = AccessReason> {
        AccessReason::ALL.iter().copied().filter(|r| !matches!(r, AccessReason::StaffGrant | AccessReason::StaffRevoke))
    }
}

crate::closed_set! {
    /// What part of someone's data an access reads. `staff` is the scope of role
    /// changes, never asked for with an access.
    pub enum AccessScope {
        Profile = "profile",
        Videos = "videos",
        Comments = "comments",
        WatchHistory = "watch-history",
        Sessions = "sessions",
        Reports = "reports",
        Staff = "staff",
    }
}

impl AccessScope {
    /// The scopes an access may ask for.
    pub fn for_access() -> impl Iterator<Item = AccessScope> {
        AccessScope::ALL.iter().copied().filter(|s| *s != AccessScope::Staff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_gives_a_reason_a_reporter_may_choose_or_none() {
        for r in ActionReason::all() {
            assert_eq!(ActionReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(ActionReason::all().len(), ReportReason::ALL.len());
        assert_eq!(ActionReason::parse("appeal"), None);
        assert_eq!(ActionReason::parse("no-violation"), Some(ActionReason::NoViolation));
        assert_eq!(ActionReason::parse("spam"), Some(ActionReason::Violation(ReportReason::Spam)));
    }
}
