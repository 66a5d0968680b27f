//! Roles, users and the auth DTOs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{DeviceId, UserId};
use crate::region::{RegionCode, RegionLevel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 检查员: records inspections in assigned villages.
    Inspector,
    /// 乡镇审核员
    TownshipReviewer,
    /// 县级查看
    CountyViewer,
    /// 市级查看
    PrefectureViewer,
    /// 省级查看: reads the whole province, changes nothing (the provincial platform's service
    /// account, provincial staff who only follow progress).
    ProvinceViewer,
    /// 省级管理员
    ProvinceAdmin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Inspector,
        Role::TownshipReviewer,
        Role::CountyViewer,
        Role::PrefectureViewer,
        Role::ProvinceViewer,
        Role::ProvinceAdmin,
    ];

    /// The roles a service account (a system, not a person) may hold: reading only.
    pub const SERVICE: [Role; 3] = [Role::CountyViewer, Role::PrefectureViewer, Role::ProvinceViewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::TownshipReviewer => "township_reviewer",
            Role::CountyViewer => "county_viewer",
            Role::PrefectureViewer => "prefecture_viewer",
            Role::ProvinceViewer => "province_viewer",
            Role::ProvinceAdmin => "province_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The region level a user of this role is scoped to.
    pub fn scope_level(self) -> RegionLevel {
        match self {
            Role::Inspector | Role::TownshipReviewer => RegionLevel::Township,
            Role::CountyViewer => RegionLevel::County,
            Role::PrefectureViewer => RegionLevel::Prefecture,
            Role::ProvinceViewer | Role::ProvinceAdmin => RegionLevel::Province,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub region: RegionCode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"username": "inspector", "password": "Qingliu-2026!"})))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Bearer token; the server keeps only its hash.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    pub user: UserInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterDeviceRequest {
    pub device_id: DeviceId,
    pub name: String,
    #[serde(default)]
    pub platform: String,
    /// The device's Ed25519 public key (base64 of 32 bytes): every record version it submits
    /// is signed with the private half, which never leaves the device. Set once; never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    pub device_id: DeviceId,
    pub name: String,
    /// The last mutation sequence number the server applied from this device.
    pub last_seq: u64,
    /// The public key the server holds for the device.
    #[serde(default)]
    pub public_key: Option<String>,
}
