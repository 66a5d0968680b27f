//! Thresholds and limits held as data. The urban black-odorous guideline's values are the
//! verified defaults; rural values and the DB42/1537-2019 limits are unverified, so deployments
//! override them from configuration rather than code.

use serde::{Deserialize, Serialize};

use crate::inspection::{SewageIndicator, WaterBodyBody};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlackOdorousThresholds {
    /// Transparency below this (cm) is black-odorous...
    pub transparency_cm: f64,
    /// ...or, in water shallower than `shallow_depth_cm`, below this share of the depth.
    pub transparency_depth_ratio: f64,
    pub shallow_depth_cm: f64,
    /// Dissolved oxygen below this (mg/L).
    pub dissolved_oxygen_mg_l: f64,
    /// ORP below this (mV) is mild; below `orp_severe_mv` severe.
    pub orp_mild_mv: f64,
    pub orp_severe_mv: f64,
    /// Ammonia nitrogen above this (mg/L) is mild; above `ammonia_severe_mg_l` severe.
    pub ammonia_mild_mg_l: f64,
    pub ammonia_severe_mg_l: f64,
    /// Share of surveyed residents judging the water black-odorous from which it counts (%).
    pub public_survey_pct: f64,
}

impl Default for BlackOdorousThresholds {
    fn default() -> Self {
        BlackOdorousThresholds {
            transparency_cm: 25.0,
            transparency_depth_ratio: 0.4,
            shallow_depth_cm: 25.0,
            dissolved_oxygen_mg_l: 2.0,
            orp_mild_mv: 50.0,
            orp_severe_mv: -200.0,
            ammonia_mild_mg_l: 8.0,
            ammonia_severe_mg_l: 15.0,
            public_survey_pct: 60.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BlackOdorousLevel {
    /// Nothing measured or observed that allows a judgement.
    Undetermined,
    NotBlackOdorous,
    Mild,
    Severe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judgement {
    pub level: BlackOdorousLevel,
    /// Which indicators crossed a threshold (`transparency`, `dissolved_oxygen`, `orp`,
    /// `ammonia_nitrogen`, `public_survey`, `sensory`).
    pub basis: Vec<String>,
}

impl BlackOdorousThresholds {
    /// Judge a water-body observation. Measured indicators decide when present; the public
    /// survey and the senses decide otherwise.
    pub fn judge(&self, w: &WaterBodyBody) -> Judgement {
        let mut basis = Vec::new();
        let mut level = BlackOdorousLevel::Undetermined;
        fn raise(level: &mut BlackOdorousLevel, l: BlackOdorousLevel, why: &str, basis: &mut Vec<String>) {
            if l > *level {
                *level = l;
            }
            if l >= BlackOdorousLevel::Mild && !basis.iter().any(|b| b == why) {
                basis.push(why.to_string());
            }
        }
        let measured = w.transparency_cm.is_some()
            || w.dissolved_oxygen_mg_l.is_some()
            || w.orp_mv.is_some()
            || w.ammonia_n_mg_l.is_some();
        if let Some(t) = w.transparency_cm {
            let limit = match w.water_depth_cm {
                Some(d) if d < self.shallow_depth_cm => d * self.transparency_depth_ratio,
                _ => self.transparency_cm,
            };
            let l = if t < limit { BlackOdorousLevel::Mild } else { BlackOdorousLevel::NotBlackOdorous };
            raise(&mut level, l, "transparency", &mut basis);
        }
        if let Some(v) = w.dissolved_oxygen_mg_l {
            let l = if v < self.dissolved_oxygen_mg_l {
                BlackOdorousLevel::Mild
            } else {
                BlackOdorousLevel::NotBlackOdorous
            };
            raise(&mut level, l, "dissolved_oxygen", &mut basis);
        }
        if let Some(v) = w.orp_mv {
            let l = if v < self.orp_severe_mv {
                BlackOdorousLevel::Severe
            } else if v < self.orp_mild_mv {
                BlackOdorousLevel::Mild
            } else {
                BlackOdorousLevel::NotBlackOdorous
            };
            raise(&mut level, l, "orp", &mut basis);
        }
        if let Some(v) = w.ammonia_n_mg_l {
            let l = if v > self.ammonia_severe_mg_l {
                BlackOdorousLevel::Severe
            } else if v > self.ammonia_mild_mg_l {
                BlackOdorousLevel::Mild
            } else {
                BlackOdorousLevel::NotBlackOdorous
            };
            raise(&mut level, l, "ammonia_nitrogen", &mut basis);
        }
        if !measured {
            if let Some(p) = w.public_survey_pct {
                let l = if p >= self.public_survey_pct {
                    BlackOdorousLevel::Mild
                } else {
                    BlackOdorousLevel::NotBlackOdorous
                };
                raise(&mut level, l, "public_survey", &mut basis);
            }
            if w.colour.is_abnormal() || w.odour.is_abnormal() {
                raise(&mut level, BlackOdorousLevel::Mild, "sensory", &mut basis);
            } else if level == BlackOdorousLevel::Undetermined {
                raise(&mut level, BlackOdorousLevel::NotBlackOdorous, "sensory", &mut basis);
            }
        }
        Judgement { level, basis }
    }
}

/// Discharge limits for one grade of the provincial standard for small rural facilities.
/// Values are placeholders to be confirmed against DB42/1537-2019 and set by configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SewageLimits {
    pub grade: String,
    pub cod_mg_l: f64,
    pub nh3n_mg_l: f64,
    pub tp_mg_l: f64,
    pub ss_mg_l: f64,
    pub ph_min: f64,
    pub ph_max: f64,
}

impl Default for SewageLimits {
    fn default() -> Self {
        SewageLimits {
            grade: "一级（待核实）".into(),
            cod_mg_l: 60.0,
            nh3n_mg_l: 8.0,
            tp_mg_l: 1.0,
            ss_mg_l: 20.0,
            ph_min: 6.0,
            ph_max: 9.0,
        }
    }
}

impl SewageLimits {
    /// Whether one reading exceeds its limit.
    pub fn exceeds(&self, indicator: SewageIndicator, value: f64) -> bool {
        match indicator {
            SewageIndicator::Cod => value > self.cod_mg_l,
            SewageIndicator::Nh3n => value > self.nh3n_mg_l,
            SewageIndicator::Tp => value > self.tp_mg_l,
            SewageIndicator::Ss => value > self.ss_mg_l,
            SewageIndicator::Ph => value < self.ph_min || value > self.ph_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspection::{ColourGrade, OdourGrade};

    fn body() -> WaterBodyBody {
        WaterBodyBody {
            colour: ColourGrade::Normal,
            odour: OdourGrade::None,
            water_depth_cm: None,
            transparency_cm: None,
            dissolved_oxygen_mg_l: None,
            orp_mv: None,
            ammonia_n_mg_l: None,
            public_survey_pct: None,
        }
    }

    #[test]
    fn clean_water_is_not_black_odorous() {
        let t = BlackOdorousThresholds::default();
        let mut w = body();
        w.transparency_cm = Some(40.0);
        w.dissolved_oxygen_mg_l = Some(5.0);
        w.orp_mv = Some(120.0);
        w.ammonia_n_mg_l = Some(1.0);
        let j = t.judge(&w);
        assert_eq!(j.level, BlackOdorousLevel::NotBlackOdorous);
        assert!(j.basis.is_empty());
    }

    #[test]
    fn severe_orp_or_ammonia() {
        let t = BlackOdorousThresholds::default();
        let mut w = body();
        w.orp_mv = Some(-250.0);
        assert_eq!(t.judge(&w).level, BlackOdorousLevel::Severe);
        let mut w = body();
        w.ammonia_n_mg_l = Some(9.0);
        w.dissolved_oxygen_mg_l = Some(1.0);
        let j = t.judge(&w);
        assert_eq!(j.level, BlackOdorousLevel::Mild);
        assert_eq!(j.basis, vec!["dissolved_oxygen", "ammonia_nitrogen"]);
    }

    #[test]
    fn shallow_water_uses_depth_ratio() {
        let t = BlackOdorousThresholds::default();
        let mut w = body();
        w.water_depth_cm = Some(20.0);
        w.transparency_cm = Some(10.0); // limit is 8 cm
        assert_eq!(t.judge(&w).level, BlackOdorousLevel::NotBlackOdorous);
        w.transparency_cm = Some(7.0);
        assert_eq!(t.judge(&w).level, BlackOdorousLevel::Mild);
    }

    #[test]
    fn sensory_and_survey_without_measurements() {
        let t = BlackOdorousThresholds::default();
        assert_eq!(t.judge(&body()).level, BlackOdorousLevel::NotBlackOdorous);
        let mut w = body();
        w.odour = OdourGrade::Strong;
        assert_eq!(t.judge(&w).basis, vec!["sensory"]);
        let mut w = body();
        w.public_survey_pct = Some(75.0);
        assert_eq!(t.judge(&w).level, BlackOdorousLevel::Mild);
    }

    #[test]
    fn sewage_limits() {
        let l = SewageLimits::default();
        assert!(l.exceeds(SewageIndicator::Cod, 61.0));
        assert!(!l.exceeds(SewageIndicator::Cod, 60.0));
        assert!(l.exceeds(SewageIndicator::Ph, 5.5));
        assert!(!l.exceeds(SewageIndicator::Ph, 7.0));
    }
}
