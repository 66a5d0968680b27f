//! What changed between two versions of an inspection, field by field, for the reviewer's
//! version history. Works on the serialised form so every field of every kind is covered
//! without a hand-written comparison per type.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::inspection::Inspection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `body.readings.0.value` or `position.accuracy_m`.
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Fields that differ between two versions (bookkeeping such as the version number and the
/// save time excluded), in path order.
pub fn changes(before: &Inspection, after: &Inspection) -> Vec<FieldChange> {
    let mut a = Vec::new();
    let mut b = Vec::new();
    flatten("", &serde_json::to_value(before).unwrap_or(Value::Null), &mut a);
    flatten("", &serde_json::to_value(after).unwrap_or(Value::Null), &mut b);
    let a: std::collections::BTreeMap<_, _> = a.into_iter().collect();
    let b: std::collections::BTreeMap<_, _> = b.into_iter().collect();
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !IGNORED.contains(&k.as_str()))
        .filter_map(|k| {
            let (x, y) = (a.get(k).cloned(), b.get(k).cloned());
            (x != y).then(|| FieldChange { path: k.clone(), before: x, after: y })
        })
        .collect()
}

/// Every field of a version as (dotted path, text), for display; empty values left out.
pub fn fields(i: &Inspection) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten("", &serde_json::to_value(i).unwrap_or(Value::Null), &mut out);
    out.retain(|(k, v)| !IGNORED.contains(&k.as_str()) && !v.is_empty() && v != "[]");
    out
}

const IGNORED: &[&str] = &["version", "saved_at", "updated_at"];

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.push((prefix.to_string(), "[]".into()));
            }
            for (n, v) in items.iter().enumerate() {
                flatten(&join(&n.to_string()), v, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspection::InspectionBody;
    use crate::validate::tests::water_inspection;

    #[test]
    fn reports_changed_added_and_removed_fields_only() {
        let mut a = water_inspection();
        a.notes = "出水浑浊".into();
        let mut b = a.clone();
        b.version = 2;
        b.replaces_version = Some(1);
        b.notes = "已清淤".into();
        if let InspectionBody::WaterBody(w) = &mut b.body {
            w.transparency_cm = None;
            w.orp_mv = Some(-50.0);
        }
        let c = changes(&a, &b);
        let got: Vec<(&str, Option<&str>, Option<&str>)> =
            c.iter().map(|c| (c.path.as_str(), c.before.as_deref(), c.after.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("body.orp_mv", None, Some("-50.0")),
                ("body.transparency_cm", Some("20.0"), None),
                ("notes", Some("出水浑浊"), Some("已清淤")),
                ("replaces_version", None, Some("1")),
            ]
        );
        assert!(changes(&a, &a).is_empty());
    }
}
