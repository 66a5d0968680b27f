//! Administrative divisions: province → prefecture → county → township → village, identified by
//! 12-digit statistical codes (统计用区划代码). 6-digit GB/T 2260 codes are accepted and widened.
//!
//! Digits: 1–2 province, 3–4 prefecture, 5–6 county, 7–9 township, 10–12 village. The four
//! directly administered units under grouping 4290 (仙桃, 潜江, 天门, 神农架) are prefecture-level
//! units whose own code uses the county digits; their townships hang directly below them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    Prefecture,
    County,
    Township,
    Village,
}

impl RegionLevel {
    pub const ALL: [RegionLevel; 5] = [
        RegionLevel::Province,
        RegionLevel::Prefecture,
        RegionLevel::County,
        RegionLevel::Township,
        RegionLevel::Village,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::Province => "province",
            RegionLevel::Prefecture => "prefecture",
            RegionLevel::County => "county",
            RegionLevel::Township => "township",
            RegionLevel::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Kind of township-level unit, from digits 7–9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TownshipKind {
    /// 001–099 街道
    Subdistrict,
    /// 100–199 镇
    Town,
    /// 200–399 乡
    Township,
    /// 400–599 other township-like units
    Other,
}

/// Kind of village-level unit, from digits 10–12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VillageKind {
    /// 001–199 居委会
    ResidentsCommittee,
    /// 200–399 村委会
    VillagersCommittee,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error("区划代码必须是 6 位或 12 位数字")]
    Format,
    #[error("省级代码 {0} 无效")]
    Province(String),
    #[error("地级代码无效")]
    Prefecture,
    #[error("乡级代码 {0} 不在 001–599 范围内")]
    TownshipRange(u16),
    #[error("村级代码 {0} 不在 001–399 范围内")]
    VillageRange(u16),
    #[error("下级代码非零而上级代码为零")]
    Hole,
}

/// A validated 12-digit statistical division code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 12]);

crate::string_schema!(
    RegionCode,
    "12-digit statistical division code (6-digit GB/T 2260 accepted)",
    pattern = "^[0-9]{6}([0-9]{6})?$"
);

/// Grouping digits (3–4) of the directly administered county-level units.
const DIRECT_GROUP: &[u8; 2] = b"90";

impl RegionCode {
    /// Parse a 6- or 12-digit code, validating structure and ranges.
    pub fn parse(s: &str) -> Result<Self, RegionCodeError> {
        let b = s.as_bytes();
        if !(b.len() == 6 || b.len() == 12) || !b.iter().all(u8::is_ascii_digit) {
            return Err(RegionCodeError::Format);
        }
        let mut d = [b'0'; 12];
        d[..b.len()].copy_from_slice(b);
        if &d[0..2] == b"00" {
            return Err(RegionCodeError::Province(s[0..2].to_string()));
        }
        let pref = &d[2..4];
        let county = &d[4..6];
        let town = num(&d[6..9]);
        let vill = num(&d[9..12]);
        if pref == b"00" && (county != b"00" || town != 0 || vill != 0) {
            return Err(RegionCodeError::Hole);
        }
        if pref == DIRECT_GROUP && county == b"00" {
            // A grouping code is not a unit: its children are the units.
            return Err(RegionCodeError::Prefecture);
        }
        if county == b"00" && pref != b"00" && (town != 0 || vill != 0) {
            return Err(RegionCodeError::Hole);
        }
        if town == 0 && vill != 0 {
            return Err(RegionCodeError::Hole);
        }
        if town > 599 {
            return Err(RegionCodeError::TownshipRange(town));
        }
        if vill > 399 {
            return Err(RegionCodeError::VillageRange(vill));
        }
        Ok(RegionCode(d))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("000000000000")
    }

    /// The 6-digit GB/T 2260 code of this unit's county-level part.
    pub fn gb2260(&self) -> &str {
        &self.as_str()[..6]
    }

    pub fn level(&self) -> RegionLevel {
        let d = &self.0;
        if num(&d[9..12]) != 0 {
            RegionLevel::Village
        } else if num(&d[6..9]) != 0 {
            RegionLevel::Township
        } else if &d[4..6] != b"00" {
            if &d[2..4] == DIRECT_GROUP { RegionLevel::Prefecture } else { RegionLevel::County }
        } else if &d[2..4] != b"00" {
            RegionLevel::Prefecture
        } else {
            RegionLevel::Province
        }
    }

    /// Whether this is one of the directly administered prefecture-level units (4290xx).
    pub fn is_directly_administered(&self) -> bool {
        &self.0[2..4] == DIRECT_GROUP
    }

    /// The parent unit, or `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        let keep = match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::Prefecture => 2,
            RegionLevel::County => 4,
            // A township's parent is its county, or a directly administered unit: both 6 digits.
            RegionLevel::Township => 6,
            RegionLevel::Village => 9,
        };
        let mut d = [b'0'; 12];
        d[..keep].copy_from_slice(&self.0[..keep]);
        Some(RegionCode(d))
    }

    /// All ancestors from the province down to, and including, this unit.
    pub fn lineage(&self) -> Vec<RegionCode> {
        let mut out = vec![*self];
        let mut cur = *self;
        while let Some(p) = cur.parent() {
            out.push(p);
            cur = p;
        }
        out.reverse();
        out
    }

    /// The leading digits every descendant (and the unit itself) shares.
    pub fn scope_prefix(&self) -> &str {
        let n = match self.level() {
            RegionLevel::Province => 2,
            RegionLevel::Prefecture if self.is_directly_administered() => 6,
            RegionLevel::Prefecture => 4,
            RegionLevel::County => 6,
            RegionLevel::Township => 9,
            RegionLevel::Village => 12,
        };
        &self.as_str()[..n]
    }

    /// Inclusive lexicographic range of 12-digit codes inside this unit: an index-friendly
    /// replacement for a prefix match in any SQL backend.
    pub fn descendant_range(&self) -> (String, String) {
        let p = self.scope_prefix();
        let lo = format!("{p:0<12}");
        let hi = format!("{p:9<12}");
        (lo, hi)
    }

    /// Whether `other` is this unit or lies inside it.
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.as_str().starts_with(self.scope_prefix())
    }

    pub fn township_kind(&self) -> Option<TownshipKind> {
        let t = num(&self.0[6..9]);
        match t {
            0 => None,
            1..=99 => Some(TownshipKind::Subdistrict),
            100..=199 => Some(TownshipKind::Town),
            200..=399 => Some(TownshipKind::Township),
            _ => Some(TownshipKind::Other),
        }
    }

    pub fn village_kind(&self) -> Option<VillageKind> {
        match num(&self.0[9..12]) {
            0 => None,
            1..=199 => Some(VillageKind::ResidentsCommittee),
            _ => Some(VillageKind::VillagersCommittee),
        }
    }

    /// Build a child code from this unit's prefix and the child's own digits.
    pub fn child(&self, own: u16) -> Result<RegionCode, RegionCodeError> {
        let s = self.as_str();
        let code = match self.level() {
            RegionLevel::Province => format!("{}{:02}00000000", &s[..2], own),
            RegionLevel::Prefecture if self.is_directly_administered() => {
                format!("{}{:03}000", &s[..6], own)
            }
            RegionLevel::Prefecture => format!("{}{:02}000000", &s[..4], own),
            RegionLevel::County => format!("{}{:03}000", &s[..6], own),
            RegionLevel::Township => format!("{}{:03}", &s[..9], own),
            RegionLevel::Village => return Err(RegionCodeError::Hole),
        };
        if code.len() != 12 {
            return Err(RegionCodeError::Format);
        }
        RegionCode::parse(&code)
    }
}

fn num(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |acc, c| acc * 10 + u16::from(c - b'0'))
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RegionCode {
    type Err = RegionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A node of the region tree as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
    /// True for names produced by the demo generator (real village names are not shipped).
    #[serde(default)]
    pub generated: bool,
}

/// Hubei province (42).
pub const HUBEI: &str = "420000000000";

/// Hubei's 17 prefecture-level units: GB/T 2260 code, Chinese name, English name.
pub const HUBEI_PREFECTURES: [(&str, &str, &str); 17] = [
    ("420100", "武汉市", "Wuhan"),
    ("420200", "黄石市", "Huangshi"),
    ("420300", "十堰市", "Shiyan"),
    ("420500", "宜昌市", "Yichang"),
    ("420600", "襄阳市", "Xiangyang"),
    ("420700", "鄂州市", "Ezhou"),
    ("420800", "荆门市", "Jingmen"),
    ("420900", "孝感市", "Xiaogan"),
    ("421000", "荆州市", "Jingzhou"),
    ("421100", "黄冈市", "Huanggang"),
    ("421200", "咸宁市", "Xianning"),
    ("421300", "随州市", "Suizhou"),
    ("422800", "恩施土家族苗族自治州", "Enshi"),
    ("429004", "仙桃市", "Xiantao"),
    ("429005", "潜江市", "Qianjiang"),
    ("429006", "天门市", "Tianmen"),
    ("429021", "神农架林区", "Shennongjia"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn levels_from_digits() {
        assert_eq!(c("420000").level(), RegionLevel::Province);
        assert_eq!(c("420100").level(), RegionLevel::Prefecture);
        assert_eq!(c("420102").level(), RegionLevel::County);
        assert_eq!(c("420102001000").level(), RegionLevel::Township);
        assert_eq!(c("420102001201").level(), RegionLevel::Village);
        assert_eq!(c("429004").level(), RegionLevel::Prefecture);
        assert_eq!(c("429004101000").level(), RegionLevel::Township);
    }

    #[test]
    fn all_seventeen_prefectures_parse_as_prefecture_level() {
        for (code, _, _) in HUBEI_PREFECTURES {
            let r = c(code);
            assert_eq!(r.level(), RegionLevel::Prefecture, "{code}");
            assert_eq!(r.parent(), Some(c("420000")));
        }
        assert!(!HUBEI_PREFECTURES.iter().any(|p| p.0 == "420400"));
    }

    #[test]
    fn parents_and_lineage() {
        let v = c("420102001201");
        let l: Vec<_> = v.lineage().iter().map(|r| r.to_string()).collect();
        assert_eq!(l, ["420000000000", "420100000000", "420102000000", "420102001000", "420102001201"]);
        let direct = c("429004101205");
        let l: Vec<_> = direct.lineage().iter().map(|r| r.to_string()).collect();
        assert_eq!(l, ["420000000000", "429004000000", "429004101000", "429004101205"]);
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in [
            "",
            "42",
            "4201",
            "42010a",
            "0000000000000",
            "000000",
            "420102600000",
            "420102001400",
            "420100001000",
            "420000000001",
            "420102000201",
            "429000",
            "429000101000",
        ] {
            assert!(RegionCode::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn scope_contains_and_range() {
        let wuhan = c("420100");
        assert!(wuhan.contains(&c("420102001201")));
        assert!(!wuhan.contains(&c("420202001201")));
        let xiantao = c("429004");
        assert!(xiantao.contains(&c("429004101201")));
        assert!(!xiantao.contains(&c("429005101201")));
        assert_eq!(c("420102001000").descendant_range(), ("420102001000".into(), "420102001999".into()));
    }

    #[test]
    fn kinds_and_children() {
        let t = c("420102101000");
        assert_eq!(t.township_kind(), Some(TownshipKind::Town));
        let v = t.child(201).unwrap();
        assert_eq!(v.to_string(), "420102101201");
        assert_eq!(v.village_kind(), Some(VillageKind::VillagersCommittee));
        assert_eq!(c("429004").child(101).unwrap().to_string(), "429004101000");
        assert_eq!(c("420100").child(2).unwrap().to_string(), "420102000000");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<RegionCode>("\"420102001201\"").is_ok());
        assert!(serde_json::from_str::<RegionCode>("\"42010200120x\"").is_err());
    }
}
