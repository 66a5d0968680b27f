//! Exports scoped to the caller, written row by row into a sink so that memory stays bounded
//! whatever the size: CSV with a UTF-8 BOM (Excel opens Chinese correctly) and GeoJSON
//! (RFC 7946, WGS-84 lng/lat).

use std::collections::HashMap;

use shared::SiteId;
use shared::ids::InspectionId;
use shared::sync::InspectionRecord;

use crate::domain::queue::{QueueQuery, record_query};
use crate::domain::{Actor, scope, tracking};
use crate::error::{AppError, AppResult};
use crate::store::{SiteFilter, Store, StoreError};

/// Receives chunks; answers false when the reader went away.
pub type Sink<'a> = dyn FnMut(Vec<u8>) -> bool + Send + 'a;

const CHUNK: usize = 64 * 1024;

/// Which sites a caller may export: their scope (inspectors: their villages), optionally narrowed
/// to a region inside it. Checked before streaming, so a refusal still gets its status. Sites
/// without a registered position have a null geometry in the GeoJSON.
pub fn sites_filter(actor: &Actor, area: Option<shared::region::RegionCode>) -> AppResult<SiteFilter> {
    match (scope::site_filter(actor), area) {
        (f, None) => Ok(f),
        (SiteFilter::VillageRange(..), Some(a)) if scope::region_covers(actor, &a) => {
            let (lo, hi) = a.descendant_range();
            Ok(SiteFilter::VillageRange(lo, hi))
        }
        // Inspectors have no areas to choose from; others only inside their region.
        (_, Some(_)) => Err(AppError::not_found()),
    }
}

/// The sites a filter from `sites_filter` selects, streamed as GeoJSON.
pub fn sites_geojson(store: &dyn Store, filter: &SiteFilter, sink: &mut Sink<'_>) -> AppResult<()> {
    let mut tx = store.read()?;
    let mut buf: Vec<u8> = br#"{"type":"FeatureCollection","features":["#.to_vec();
    let mut first = true;
    let mut after = 0;
    loop {
        let page = tx.sites_changed(filter, after, 1000)?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, site) in &page {
            let geometry = match &site.position {
                Some(p) => serde_json::json!({"type": "Point", "coordinates": [p.lng(), p.lat()]}),
                None => serde_json::Value::Null,
            };
            let feature = serde_json::json!({
                "type": "Feature",
                "id": site.id.to_string(),
                "geometry": geometry,
                "properties": {
                    "name": site.name,
                    "kind": site.kind(),
                    "status": site.status,
                    "village": site.village,
                }
            });
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(feature.to_string().as_bytes());
            if buf.len() >= CHUNK && !sink(std::mem::take(&mut buf)) {
                return Ok(());
            }
        }
    }
    buf.extend_from_slice(b"]}");
    sink(buf);
    Ok(())
}

/// The supervision list (regions behind plan, most behind first) as CSV with a BOM.
pub fn supervision_csv(
    store: &dyn Store,
    actor: &Actor,
    level: shared::region::RegionLevel,
    year: i32,
    month: u8,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let rows = tracking::supervision(store, actor, level, year, month)?;
    let mut out = "\u{feff}区划代码,区划名称,缺口,整治村目标,已完成,计划,完成率%,黑臭水体目标,已消除,计划,完成率%,污水治理率%,目标%\r\n".to_string();
    for r in rows {
        let p = &r.progress;
        let cells = [
            p.region.code.to_string(),
            csv_field(&p.region.name),
            format!("{:.0}", r.shortfall),
            format!("{:.0}", p.villages.target),
            p.villages.done.to_string(),
            format!("{:.1}", p.villages.planned),
            format!("{:.1}", p.villages.pct),
            format!("{:.0}", p.water_bodies.target),
            p.water_bodies.done.to_string(),
            format!("{:.1}", p.water_bodies.planned),
            format!("{:.1}", p.water_bodies.pct),
            format!("{:.2}", p.sewage.rate_pct),
            format!("{:.2}", p.sewage.target_pct),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    sink(out.into_bytes());
    Ok(())
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Columns of the inspection list, shared by CSV and XLSX.
pub const INSPECTION_HEADERS: [&str; 17] = [
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
    "定位来源",
    "手动定位原因",
    "预警",
];

/// One inspection as export cells (text; numbers stay parseable).
pub fn inspection_cells(r: &InspectionRecord, site_name: &str, flags: &str) -> [String; 17] {
    let i = &r.inspection;
    let pos = i.position.as_ref();
    [
        i.id.to_string(),
        i.version.to_string(),
        r.status.as_str().to_string(),
        i.kind().as_str().to_string(),
        site_name.to_string(),
        String::new(),
        shared::clock::beijing(r.received_at),
        shared::clock::beijing(i.device_time),
        pos.map(|p| format!("{:.6}", p.point.lng())).unwrap_or_default(),
        pos.map(|p| format!("{:.6}", p.point.lat())).unwrap_or_default(),
        pos.and_then(|p| p.accuracy_m).map(|a| format!("{a}")).unwrap_or_default(),
        i.photos.len().to_string(),
        r.review.as_ref().map(|n| n.comment.clone()).unwrap_or_default(),
        i.notes.clone(),
        pos.map(|p| p.source.as_str().to_string()).unwrap_or_default(),
        pos.and_then(|p| p.manual_reason.clone()).unwrap_or_default(),
        flags.to_string(),
    ]
}

/// A record's flags as one cell: their Chinese texts.
fn flags_text(flags: &[shared::flags::Flag]) -> String {
    flags.iter().map(|f| f.message_zh()).collect::<Vec<_>>().join("；")
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

/// Receives a record, its site name, its village code and its flags; answers false to stop.
type RowVisitor<'a> = dyn FnMut(&InspectionRecord, &str, &str, &[shared::flags::Flag]) -> bool + 'a;

/// Records read ahead of their flags: one flags look-up per this many rows.
const FLAGS_BATCH: usize = 500;

/// Visit the caller's records newest first with each one's site name, village code and flags
/// (looked up through a second snapshot, a batch of rows at a time; site names once each),
/// until `f` answers false.
fn for_each_named(store: &dyn Store, actor: &Actor, q: &QueueQuery, f: &mut RowVisitor<'_>) -> AppResult<()> {
    let rq = record_query(actor, q, None)?;
    let mut tx = store.read()?;
    let mut names_tx = store.read()?;
    let mut names = Names(HashMap::new());
    let mut batch: Vec<InspectionRecord> = Vec::with_capacity(FLAGS_BATCH);
    // Whether `f` asked to stop, or the error that stopped the walk.
    let mut stopped = false;
    let mut failed = None;
    // Hands a batch to `f`; false when the walk must stop.
    let mut emit =
        |batch: &mut Vec<InspectionRecord>, stopped: &mut bool, failed: &mut Option<StoreError>| {
            let keys: Vec<(InspectionId, u32)> =
                batch.iter().map(|r| (r.inspection.id, r.inspection.version)).collect();
            let flags = match names_tx.flags_of_many(&keys) {
                Ok(flags) => flags,
                Err(e) => {
                    *failed = Some(e);
                    return false;
                }
            };
            for (r, flags) in batch.drain(..).zip(flags) {
                let (name, village) = names.get(names_tx.as_mut(), &r.inspection.site_id);
                let flags = flags.unwrap_or_else(|| {
                    let site = names_tx.site(&r.inspection.site_id).ok().flatten();
                    shared::flags::flags(&r.inspection, site.and_then(|s| s.position), &Default::default())
                });
                if !f(&r, &name, &village, &flags) {
                    *stopped = true;
                    return false;
                }
            }
            true
        };
    tx.for_each_record(&rq, &mut |r| {
        batch.push(r.clone());
        batch.len() < FLAGS_BATCH || emit(&mut batch, &mut stopped, &mut failed)
    })?;
    if !stopped && failed.is_none() && !batch.is_empty() {
        emit(&mut batch, &mut stopped, &mut failed);
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

pub fn inspections_csv(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let mut buf = Vec::with_capacity(CHUNK * 2);
    buf.extend_from_slice("\u{feff}".as_bytes());
    buf.extend_from_slice(INSPECTION_HEADERS.join(",").as_bytes());
    buf.extend_from_slice(b"\r\n");
    let mut open = true;
    for_each_named(store, actor, q, &mut |r, name, village, flags| {
        let mut cells = inspection_cells(r, name, &flags_text(flags));
        cells[5] = village.to_string();
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
    let mut buf: Vec<u8> = br#"{"type":"FeatureCollection","features":["#.to_vec();
    let mut first = true;
    let mut open = true;
    for_each_named(store, actor, q, &mut |r, name, village, flags| {
        let i = &r.inspection;
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
                "position_source": i.position.as_ref().map(|p| p.source),
                "fix_count": i.position.as_ref().map(|p| p.fix_count),
                "manual_reason": i.position.as_ref().and_then(|p| p.manual_reason.clone()),
                "photos": i.photos.len(),
                "flags": flags,
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

/// Adapts a chunk sink to `std::io::Write`, so the XLSX writer streams straight out.
struct SinkWriter<'a, 'b> {
    sink: &'a mut Sink<'b>,
    buf: Vec<u8>,
}

impl std::io::Write for SinkWriter<'_, '_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK && !(self.sink)(std::mem::take(&mut self.buf)) {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reader went away"));
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() && !(self.sink)(std::mem::take(&mut self.buf)) {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reader went away"));
        }
        Ok(())
    }
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> crate::error::AppError {
    crate::error::AppError::Internal(format!("xlsx: {e}"))
}

fn excel_time(t: time::OffsetDateTime) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    let t = t.to_offset(time::macros::offset!(+8));
    rust_xlsxwriter::ExcelDateTime::from_ymd(t.year() as u16, u8::from(t.month()), t.day())?.and_hms(
        u16::from(t.hour()),
        t.minute(),
        f64::from(t.second()),
    )
}

/// The inspection list as XLSX: Chinese headers, number and date cells, rows streamed through a
/// constant-memory worksheet.
pub fn inspections_xlsx(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    use rust_xlsxwriter::{Format, Workbook};
    // Refuse before building anything.
    record_query(actor, q, None)?;
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let coord = Format::new().set_num_format("0.000000");
    let ws = wb.add_worksheet_with_constant_memory().map_err(xlsx_err)?;
    ws.set_name("检查记录").map_err(xlsx_err)?;
    for (c, h) in INSPECTION_HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(xlsx_err)?;
    }
    let mut row = 0u32;
    let mut failure = None;
    for_each_named(store, actor, q, &mut |r, name, village, flags| {
        row += 1;
        let i = &r.inspection;
        let res = (|| -> Result<(), rust_xlsxwriter::XlsxError> {
            ws.write_string(row, 0, i.id.to_string())?;
            ws.write_number(row, 1, i.version)?;
            ws.write_string(row, 2, r.status.as_str())?;
            ws.write_string(row, 3, i.kind().as_str())?;
            ws.write_string(row, 4, name)?;
            ws.write_string(row, 5, village)?;
            ws.write_datetime_with_format(row, 6, excel_time(r.received_at)?, &when)?;
            ws.write_datetime_with_format(row, 7, excel_time(i.device_time)?, &when)?;
            if let Some(p) = &i.position {
                ws.write_number_with_format(row, 8, p.point.lng(), &coord)?;
                ws.write_number_with_format(row, 9, p.point.lat(), &coord)?;
                if let Some(a) = p.accuracy_m {
                    ws.write_number(row, 10, a)?;
                }
            }
            ws.write_number(row, 11, i.photos.len() as u32)?;
            if let Some(n) = &r.review {
                ws.write_string(row, 12, &n.comment)?;
            }
            ws.write_string(row, 13, &i.notes)?;
            if let Some(p) = &i.position {
                ws.write_string(row, 14, p.source.as_str())?;
                if let Some(reason) = &p.manual_reason {
                    ws.write_string(row, 15, reason)?;
                }
            }
            if !flags.is_empty() {
                ws.write_string(row, 16, flags_text(flags))?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(xlsx_err(e));
    }
    ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
    let mut w = SinkWriter { sink, buf: Vec::with_capacity(CHUNK * 2) };
    wb.save_to_writer(&mut w).map_err(xlsx_err)?;
    std::io::Write::flush(&mut w)?;
    Ok(())
}

/// The progress table of a region's children as XLSX.
pub fn progress_xlsx(
    store: &dyn Store,
    actor: &Actor,
    region: &shared::region::RegionCode,
    year: i32,
    month: u8,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let t = crate::domain::tracking::tracking(store, actor, region, year, month)?;
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.00");
    let ws = wb.add_worksheet();
    ws.set_name(format!("{}年{}月进度", year, month)).map_err(xlsx_err)?;
    let headers = [
        "区划代码",
        "名称",
        "村庄整治目标",
        "已完成",
        "完成率（%）",
        "计划完成",
        "是否滞后",
        "黑臭水体目标",
        "已消除",
        "消除率（%）",
        "污水治理率（%）",
        "治理率目标（%）",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(xlsx_err)?;
    }
    for (n, p) in std::iter::once(&t.region).chain(t.children.iter()).enumerate() {
        let r = n as u32 + 1;
        let w = |e: Result<&mut rust_xlsxwriter::Worksheet, rust_xlsxwriter::XlsxError>| {
            e.map(|_| ()).map_err(xlsx_err)
        };
        w(ws.write_string(r, 0, p.region.code.to_string()))?;
        w(ws.write_string(r, 1, &p.region.name))?;
        w(ws.write_number(r, 2, p.villages.target))?;
        w(ws.write_number(r, 3, p.villages.done as f64))?;
        w(ws.write_number_with_format(r, 4, p.villages.pct, &pct))?;
        w(ws.write_number_with_format(r, 5, p.villages.planned, &pct))?;
        w(ws.write_string(r, 6, if p.behind { "是" } else { "否" }))?;
        w(ws.write_number(r, 7, p.water_bodies.target))?;
        w(ws.write_number(r, 8, p.water_bodies.done as f64))?;
        w(ws.write_number_with_format(r, 9, p.water_bodies.pct, &pct))?;
        w(ws.write_number_with_format(r, 10, p.sewage.rate_pct, &pct))?;
        w(ws.write_number_with_format(r, 11, p.sewage.target_pct, &pct))?;
    }
    let mut out = SinkWriter { sink, buf: Vec::new() };
    wb.save_to_writer(&mut out).map_err(xlsx_err)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}
