//! Identifier newtypes. Records created on devices get UUIDv7 ids so that they sort by creation
//! time and never collide across devices that were offline for days.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        crate::string_schema!($name, "UUID (v7)");

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type!(
    /// A logical inspection record; stays the same across its versions.
    InspectionId
);
id_type!(
    /// A tracked site (village, water body, facility, enterprise).
    SiteId
);
id_type!(
    /// A device (tablet) registered to one user.
    DeviceId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// One queued mutation; with `(device_id, seq)` it makes a push idempotent.
    MutationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let a = InspectionId::new();
        let b = InspectionId::new();
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a < b || a.0.get_timestamp() == b.0.get_timestamp());
        let parsed: InspectionId = a.to_string().parse().unwrap();
        assert_eq!(parsed, a);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
    }
}
