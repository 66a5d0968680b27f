//! Flags on a record's position and photos, shown to inspectors as warnings and to reviewers
//! beside the record: weak accuracy, far from the site, mock location, photo EXIF far from the
//! record in time or space. Thresholds are data.

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::geo::{LngLat, distance_m};
use crate::inspection::{Inspection, PositionSource};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
}

impl Default for FlagThresholds {
    fn default() -> Self {
        FlagThresholds {
            max_accuracy_m: 50.0,
            max_site_distance_m: 500.0,
            max_photo_distance_m: 500.0,
            max_photo_time_minutes: 24 * 60,
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
}

impl Flag {
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
