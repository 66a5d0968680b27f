//! Flags on a record, shown to inspectors as warnings and to reviewers beside the record.
//!
//! Two sources: [`flags`] reads what the record says about itself (weak accuracy, far from the
//! site, mock location, typed position, photo EXIF far from the record in time or space), and
//! runs on the device, the server and the console alike. The server adds what only it can see,
//! across every record of the province (reused photos, impossible travel, one credential in two
//! places, wrong device clocks, copied coordinates), computed at push time and stored with the
//! version (`sync-server/src/domain/evidence.rs`). Thresholds are data.

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::geo::{LngLat, distance_m};
use crate::ids::InspectionId;
use crate::inspection::{Inspection, PositionSource};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct FlagThresholds {
    /// Accuracy worse than this (m) is flagged.
    pub max_accuracy_m: f64,
    /// A record farther than this (m) from its site's registered position is flagged.
    pub max_site_distance_m: f64,
    /// A photo whose EXIF position is farther than this (m) from the record is flagged.
    pub max_photo_distance_m: f64,
    /// A photo whose EXIF time differs from the record's device time by more than this
    /// (minutes) is flagged.
    pub max_photo_time_minutes: i64,
    /// Consecutive records of one inspector implying a faster trip than this (km/h) are
    /// flagged.
    pub max_speed_kmh: f64,
    /// Distance (m) under which two records never count as a trip: positions of one place
    /// scatter, and a trip needs somewhere to go.
    pub travel_slack_m: f64,
    /// A device clock off the server's by more than this (minutes) at a push flags the
    /// records it carries.
    pub max_clock_skew_minutes: i64,
    /// A record's device time later than its receipt by more than this (minutes) is flagged.
    pub future_tolerance_minutes: i64,
    /// A device clock read earlier than at the previous push by more than this (minutes) is
    /// flagged.
    pub clock_backwards_minutes: i64,
    /// Coordinates count as copied only with at least this many decimals in both axes (typed
    /// round numbers are flagged as manual instead).
    pub copied_position_decimals: u32,
    /// Two on-site records with one credential count as overlapping only this far apart (m).
    pub credential_distance_m: f64,
    /// The server's checks against other records (reused photos, impossible travel, one
    /// credential in two places, copied coordinates). On by default; off only for a bulk load
    /// of historical records or a benchmark baseline, since the records loaded meanwhile are
    /// neither checked nor remembered as anyone's visits (the server logs it at start).
    pub cross_record_checks: bool,
}

impl Default for FlagThresholds {
    fn default() -> Self {
        FlagThresholds {
            max_accuracy_m: 50.0,
            max_site_distance_m: 500.0,
            max_photo_distance_m: 500.0,
            max_photo_time_minutes: 24 * 60,
            max_speed_kmh: 150.0,
            travel_slack_m: 1000.0,
            max_clock_skew_minutes: 10,
            future_tolerance_minutes: 5,
            clock_backwards_minutes: 5,
            copied_position_decimals: 5,
            credential_distance_m: 1000.0,
            cross_record_checks: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    NoPosition,
    WeakAccuracy {
        accuracy_m: f64,
    },
    FarFromSite {
        distance_m: f64,
    },
    MockLocation,
    PhotoFar {
        photo: usize,
        distance_m: f64,
    },
    PhotoTime {
        photo: usize,
        minutes: i64,
    },
    /// The position was typed by hand, with the inspector's reason.
    ManualPosition {
        reason: String,
    },
    /// A live capture ran out of time before reaching the accuracy asked for.
    CaptureTimedOut,
    /// Photo `photo` shows the same picture as photo `other_photo` of another record.
    PhotoReuse {
        photo: usize,
        how: PhotoMatch,
        other_record: InspectionId,
        other_photo: usize,
        other_sha256: String,
        other_site: String,
        /// Differing fingerprint bits (0 for identical bytes or a shared original).
        bits: u32,
    },
    /// This record and the inspector's previous or next one (any of their devices) are too far
    /// apart for the time between them.
    ImpossibleTravel {
        other_record: InspectionId,
        other_site: String,
        distance_m: f64,
        minutes: f64,
        speed_kmh: f64,
    },
    /// An officer's credential is on another on-site record whose times overlap, elsewhere.
    CredentialOverlap {
        credential_no: String,
        officer: String,
        other_record: InspectionId,
        other_place: String,
        distance_m: f64,
    },
    /// The device's clock was this far off the server's (device minus server) at the push.
    ClockSkew {
        minutes: i64,
    },
    /// The record's device time is later than when the server received it.
    DeviceTimeAfterReceipt {
        minutes: i64,
    },
    /// The device's clock read earlier than at its previous push.
    ClockBackwards {
        minutes: i64,
    },
    /// The same coordinates, to the last digit, as another record of another site or visit.
    CopiedPosition {
        other_record: InspectionId,
        other_site: String,
    },
}

/// How a reused photo was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoMatch {
    /// The same bytes.
    Identical,
    /// The same claimed camera original.
    SameOriginal,
    /// The same picture, re-encoded, resized, cropped, brightened or re-stamped.
    Similar,
}

/// Every flag kind, as stored and as the queue filter names them.
pub const FLAG_KINDS: [&str; 15] = [
    "no_position",
    "weak_accuracy",
    "far_from_site",
    "mock_location",
    "photo_far",
    "photo_time",
    "manual_position",
    "capture_timed_out",
    "photo_reuse",
    "impossible_travel",
    "credential_overlap",
    "clock_skew",
    "device_time_after_receipt",
    "clock_backwards",
    "copied_position",
];

impl Flag {
    /// The flag's kind (its serde tag), one of [`FLAG_KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            Flag::NoPosition => "no_position",
            Flag::WeakAccuracy { .. } => "weak_accuracy",
            Flag::FarFromSite { .. } => "far_from_site",
            Flag::MockLocation => "mock_location",
            Flag::PhotoFar { .. } => "photo_far",
            Flag::PhotoTime { .. } => "photo_time",
            Flag::ManualPosition { .. } => "manual_position",
            Flag::CaptureTimedOut => "capture_timed_out",
            Flag::PhotoReuse { .. } => "photo_reuse",
            Flag::ImpossibleTravel { .. } => "impossible_travel",
            Flag::CredentialOverlap { .. } => "credential_overlap",
            Flag::ClockSkew { .. } => "clock_skew",
            Flag::DeviceTimeAfterReceipt { .. } => "device_time_after_receipt",
            Flag::ClockBackwards { .. } => "clock_backwards",
            Flag::CopiedPosition { .. } => "copied_position",
        }
    }

    /// Chinese text for the UI.
    pub fn message_zh(&self) -> String {
        match self {
            Flag::NoPosition => "未记录位置".into(),
            Flag::WeakAccuracy { accuracy_m } => format!("定位精度较差（±{accuracy_m:.0} 米）"),
            Flag::FarFromSite { distance_m } => format!("距点位登记位置 {distance_m:.0} 米"),
            Flag::MockLocation => "设备报告为模拟位置".into(),
            Flag::PhotoFar { photo, distance_m } => {
                format!("照片 {} 的拍摄位置距记录位置 {distance_m:.0} 米", photo + 1)
            }
            Flag::PhotoTime { photo, minutes } => {
                format!("照片 {} 的拍摄时间与记录时间相差 {minutes} 分钟", photo + 1)
            }
            Flag::ManualPosition { reason } => format!("位置为手动输入（原因：{reason}）"),
            Flag::CaptureTimedOut => "定位超时，采用的是未达到精度要求的最佳结果".into(),
            Flag::PhotoReuse { photo, how, other_photo, other_site, bits, .. } => {
                let how = match how {
                    PhotoMatch::Identical => "文件完全相同".to_string(),
                    PhotoMatch::SameOriginal => "来自同一张原始照片".to_string(),
                    PhotoMatch::Similar => {
                        format!("画面相同，指纹相差 {bits} 位（可能经过重新压缩、缩放、裁剪或调亮）")
                    }
                };
                format!(
                    "照片 {} 与另一条记录（{other_site}）的照片 {} 重复：{how}",
                    photo + 1,
                    other_photo + 1
                )
            }
            Flag::ImpossibleTravel { other_site, distance_m, minutes, speed_kmh, .. } => format!(
                "与同一检查员的相邻记录（{other_site}）相距 {:.1} 公里、相隔 {minutes:.0} 分钟，需以 {speed_kmh:.0} 公里/小时移动，不合常理",
                distance_m / 1000.0
            ),
            Flag::CredentialOverlap { credential_no, officer, other_place, distance_m, .. } => format!(
                "执法证 {credential_no}（{officer}）同一时段出现在另一份现场笔录中（{other_place}，相距 {:.1} 公里）",
                distance_m / 1000.0
            ),
            Flag::ClockSkew { minutes } => {
                let dir = if *minutes > 0 { "快" } else { "慢" };
                format!("提交时设备时钟比服务器{dir} {} 分钟，记录时间不可信", minutes.abs())
            }
            Flag::DeviceTimeAfterReceipt { minutes } => {
                format!("记录时间比服务器收到记录的时间还晚 {minutes} 分钟")
            }
            Flag::ClockBackwards { minutes } => format!("设备时钟比上次同步时倒退了 {minutes} 分钟"),
            Flag::CopiedPosition { other_site, .. } => {
                format!("坐标与另一条记录（{other_site}）完全相同，可能是复制的位置")
            }
        }
    }
}

/// The flags of an inspection relative to its site's registered position.
pub fn flags(i: &Inspection, site_position: Option<LngLat>, t: &FlagThresholds) -> Vec<Flag> {
    let mut out = Vec::new();
    for (n, photo) in i.photos.iter().enumerate() {
        if let Some(pt) = photo.exif_time {
            let minutes = (pt - i.device_time).abs().whole_minutes();
            if (pt - i.device_time).abs() > Duration::minutes(t.max_photo_time_minutes) {
                out.push(Flag::PhotoTime { photo: n, minutes });
            }
        }
    }
    let Some(p) = &i.position else {
        out.insert(0, Flag::NoPosition);
        return out;
    };
    if let Some(a) = p.accuracy_m
        && a > t.max_accuracy_m
    {
        out.push(Flag::WeakAccuracy { accuracy_m: a });
    }
    if p.mock {
        out.push(Flag::MockLocation);
    }
    if p.source == PositionSource::Manual {
        out.push(Flag::ManualPosition { reason: p.manual_reason.clone().unwrap_or_default() });
    }
    if p.timed_out {
        out.push(Flag::CaptureTimedOut);
    }
    if let Some(s) = site_position {
        let d = distance_m(p.point, s);
        if d > t.max_site_distance_m {
            out.push(Flag::FarFromSite { distance_m: d });
        }
    }
    for (n, photo) in i.photos.iter().enumerate() {
        if let Some(pp) = photo.exif_position {
            let d = distance_m(pp, p.point);
            if d > t.max_photo_distance_m {
                out.push(Flag::PhotoFar { photo: n, distance_m: d });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspection::{PhotoRef, Position};
    use crate::validate::tests::water_inspection;

    #[test]
    fn flags_follow_thresholds() {
        let t = FlagThresholds::default();
        let mut i = water_inspection();
        let site = LngLat::new(114.3, 30.6);
        assert_eq!(flags(&i, Some(site), &t), vec![]);
        i.position = Some(Position {
            mock: true,
            ..Position::new(LngLat::new(114.31, 30.6), PositionSource::Gps).with_accuracy(Some(80.0))
        });
        i.photos.push(PhotoRef {
            sha256: "a".repeat(64),
            bytes: 1,
            width: 1,
            height: 1,
            exif_time: Some(i.device_time - Duration::days(3)),
            exif_position: Some(LngLat::new(114.31, 30.6)),
            original_sha256: None,
            caption: String::new(),
        });
        let f = flags(&i, Some(site), &t);
        assert!(f.iter().any(|x| matches!(x, Flag::WeakAccuracy { .. })));
        assert!(f.contains(&Flag::MockLocation));
        assert!(
            f.iter().any(
                |x| matches!(x, Flag::FarFromSite { distance_m } if (900.0..1000.0).contains(distance_m))
            )
        );
        assert!(f.contains(&Flag::PhotoTime { photo: 0, minutes: 4320 }));
        assert_eq!(f.len(), 4, "photo position is near the record");
        // Without a position the photo's time is still checked.
        i.position = None;
        assert_eq!(
            flags(&i, Some(site), &t),
            vec![Flag::NoPosition, Flag::PhotoTime { photo: 0, minutes: 4320 }]
        );
    }

    #[test]
    fn manual_and_timed_out_positions_are_flagged() {
        let t = FlagThresholds::default();
        let site = LngLat::new(114.3, 30.6);
        let mut i = water_inspection();
        i.position = Some(Position::manual(site, "无信号"));
        assert_eq!(flags(&i, Some(site), &t), vec![Flag::ManualPosition { reason: "无信号".into() }]);
        // A photo's EXIF position is not typed: no manual flag.
        i.position = Some(Position::new(site, PositionSource::Exif));
        assert_eq!(flags(&i, Some(site), &t), vec![]);
        let mut p = Position::new(site, PositionSource::Receiver).with_accuracy(Some(12.0));
        p.timed_out = true;
        i.position = Some(p);
        assert_eq!(flags(&i, Some(site), &t), vec![Flag::CaptureTimedOut]);
    }
}
