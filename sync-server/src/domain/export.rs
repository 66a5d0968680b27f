//! Exports scoped to the caller, written row by row into a sink so that memory stays bounded
//! whatever the size: CSV with a UTF-8 BOM (Excel opens Chinese correctly) and GeoJSON
//! (RFC 7946, WGS-84 lng/lat).

use std::collections::HashMap;

use shared::SiteId;
use shared::sync::InspectionRecord;

use crate::domain::Actor;
use crate::domain::queue::{QueueQuery, record_query};
use crate::error::AppResult;
use crate::store::Store;

/// Receives chunks; answers false when the reader went away.
pub type Sink<'a> = dyn FnMut(Vec<u8>) -> bool + 'a;

const CHUNK: usize = 64 * 1024;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn beijing(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::macros::offset!(+8));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Columns of the inspection list, shared by CSV and XLSX.
pub const INSPECTION_HEADERS: [&str; 14] = [
    "记录编号",
    "版本",
    "审核状态",
    "检查类型",
    "点位",
    "行政村代码",
    "提交时间（北京时间）",
    "设备时间（北京时间）",
    "经度",
    "纬度",
    "定位精度（米）",
    "照片数",
    "审核意见",
    "备注",
];

/// One inspection as export cells (text; numbers stay parseable).
pub fn inspection_cells(r: &InspectionRecord, site_name: &str) -> [String; 14] {
    let i = &r.inspection;
    let pos = i.position.as_ref();
    [
        i.id.to_string(),
        i.version.to_string(),
        r.status.as_str().to_string(),
        i.kind().as_str().to_string(),
        site_name.to_string(),
        String::new(),
        beijing(r.received_at),
        beijing(i.device_time),
        pos.map(|p| format!("{:.6}", p.point.lng())).unwrap_or_default(),
        pos.map(|p| format!("{:.6}", p.point.lat())).unwrap_or_default(),
        pos.and_then(|p| p.accuracy_m).map(|a| format!("{a}")).unwrap_or_default(),
        i.photos.len().to_string(),
        r.review.as_ref().map(|n| n.comment.clone()).unwrap_or_default(),
        i.notes.clone(),
    ]
}

/// Site names looked up once each.
struct Names(HashMap<SiteId, (String, String)>);

impl Names {
    fn get(&mut self, tx: &mut dyn crate::store::Tx, id: &SiteId) -> (String, String) {
        if let Some(v) = self.0.get(id) {
            return v.clone();
        }
        let v = match tx.site(id) {
            Ok(Some(s)) => (s.name, s.village.to_string()),
            _ => (String::new(), String::new()),
        };
        self.0.insert(*id, v.clone());
        v
    }
}

pub fn inspections_csv(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let rq = record_query(actor, q, None)?;
    let mut buf = Vec::with_capacity(CHUNK * 2);
    buf.extend_from_slice("\u{feff}".as_bytes());
    buf.extend_from_slice(INSPECTION_HEADERS.join(",").as_bytes());
    buf.extend_from_slice(b"\r\n");
    let mut tx = store.read()?;
    let mut names_tx = store.read()?;
    let mut names = Names(HashMap::new());
    let mut open = true;
    tx.for_each_record(&rq, &mut |r| {
        let (name, village) = names.get(names_tx.as_mut(), &r.inspection.site_id);
        let mut cells = inspection_cells(r, &name);
        cells[5] = village;
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        buf.extend_from_slice(line.join(",").as_bytes());
        buf.extend_from_slice(b"\r\n");
        if buf.len() >= CHUNK {
            open = sink(std::mem::take(&mut buf));
        }
        open
    })?;
    if open && !buf.is_empty() {
        sink(buf);
    }
    Ok(())
}

pub fn inspections_geojson(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let rq = record_query(actor, q, None)?;
    let mut buf: Vec<u8> = br#"{"type":"FeatureCollection","features":["#.to_vec();
    let mut first = true;
    let mut tx = store.read()?;
    let mut names_tx = store.read()?;
    let mut names = Names(HashMap::new());
    let mut open = true;
    tx.for_each_record(&rq, &mut |r| {
        let i = &r.inspection;
        let (name, village) = names.get(names_tx.as_mut(), &i.site_id);
        let geometry = match &i.position {
            Some(p) => serde_json::json!({"type": "Point", "coordinates": [p.point.lng(), p.point.lat()]}),
            None => serde_json::Value::Null,
        };
        let feature = serde_json::json!({
            "type": "Feature",
            "id": i.id.to_string(),
            "geometry": geometry,
            "properties": {
                "version": i.version,
                "status": r.status,
                "kind": i.kind(),
                "site_id": i.site_id,
                "site_name": name,
                "village": village,
                "received_at": r.received_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "accuracy_m": i.position.as_ref().and_then(|p| p.accuracy_m),
                "photos": i.photos.len(),
            }
        });
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(feature.to_string().as_bytes());
        if buf.len() >= CHUNK {
            open = sink(std::mem::take(&mut buf));
        }
        open
    })?;
    if open {
        buf.extend_from_slice(b"]}");
        sink(buf);
    }
    Ok(())
}
