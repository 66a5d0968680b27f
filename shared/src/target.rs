//! Targets: data per year and region (never constants in code), with a monthly plan for
//! dispatch (按月调度).

use serde::{Deserialize, Serialize};

use crate::region::RegionCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    /// Administrative villages whose remediation is completed (count).
    VillagesRemediated,
    /// Listed black-odorous water bodies eliminated (count).
    WaterBodiesEliminated,
    /// Rural domestic sewage treatment rate (percent).
    SewageTreatmentRate,
}

impl TargetMetric {
    pub const ALL: [TargetMetric; 3] = [
        TargetMetric::VillagesRemediated,
        TargetMetric::WaterBodiesEliminated,
        TargetMetric::SewageTreatmentRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetMetric::VillagesRemediated => "villages_remediated",
            TargetMetric::WaterBodiesEliminated => "water_bodies_eliminated",
            TargetMetric::SewageTreatmentRate => "sewage_treatment_rate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    #[cfg_attr(feature = "openapi", schema(minimum = 2000, maximum = 2100))]
    pub year: i32,
    pub region: RegionCode,
    pub metric: TargetMetric,
    /// A count, or a percentage for the rate.
    pub value: f64,
    /// Cumulative planned share of `value` reached by the end of each month (12 entries,
    /// non-decreasing, last = 1.0). For the rate: the planned rate's share of the target.
    #[cfg_attr(feature = "openapi", schema(min_items = 12, max_items = 12))]
    pub monthly_plan: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("月度计划必须有 12 个累计比例")]
    PlanLength,
    #[error("月度计划必须在 0–1 之间且不递减，最后一个月为 1")]
    PlanShape,
    #[error("目标值无效")]
    Value,
}

impl Target {
    pub fn validate(&self) -> Result<(), TargetError> {
        if !self.value.is_finite() || self.value < 0.0 {
            return Err(TargetError::Value);
        }
        if self.metric == TargetMetric::SewageTreatmentRate && self.value > 100.0 {
            return Err(TargetError::Value);
        }
        if self.monthly_plan.len() != 12 {
            return Err(TargetError::PlanLength);
        }
        let mut prev = 0.0;
        for &p in &self.monthly_plan {
            if !(0.0..=1.0).contains(&p) || p < prev {
                return Err(TargetError::PlanShape);
            }
            prev = p;
        }
        if (prev - 1.0).abs() > 1e-9 {
            return Err(TargetError::PlanShape);
        }
        Ok(())
    }

    /// Planned cumulative value at the end of `month` (1–12).
    pub fn planned_by(&self, month: u8) -> f64 {
        let idx = usize::from(month.clamp(1, 12)) - 1;
        self.value * self.monthly_plan.get(idx).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(plan: Vec<f64>) -> Target {
        Target {
            year: 2026,
            region: RegionCode::parse("420000").unwrap(),
            metric: TargetMetric::VillagesRemediated,
            value: 1571.0,
            monthly_plan: plan,
        }
    }

    #[test]
    fn plan_shape() {
        let good: Vec<f64> = (1..=12).map(|m| m as f64 / 12.0).collect();
        assert_eq!(t(good.clone()).validate(), Ok(()));
        assert!((t(good).planned_by(6) - 785.5).abs() < 1e-9);
        assert_eq!(t(vec![0.5; 11]).validate(), Err(TargetError::PlanLength));
        let mut dec: Vec<f64> = (1..=12).map(|m| m as f64 / 12.0).collect();
        dec[3] = 0.1;
        assert_eq!(t(dec).validate(), Err(TargetError::PlanShape));
    }
}
