//! Exports scoped to the caller, written row by row into a sink so that memory stays bounded
//! whatever the size: CSV with a UTF-8 BOM (Excel opens Chinese correctly) and GeoJSON
//! (RFC 7946, WGS-84 lng/lat).

use crate::domain::queue::{QueueQuery, record_query};
use crate::domain::{Actor, scope, tracking};
use crate::error::{AppError, AppResult};
use crate::store::{ExportFlags, ExportRow, SiteFilter, Store, VersionExport};

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
            #[derive(serde::Serialize)]
            struct Geometry {
                r#type: &'static str,
                coordinates: [f64; 2],
            }
            #[derive(serde::Serialize)]
            struct Properties<'a> {
                name: &'a str,
                kind: shared::site::SiteKind,
                status: &'a Option<shared::site::SiteStatus>,
                village: &'a shared::region::RegionCode,
            }
            #[derive(serde::Serialize)]
            struct Feature<'a> {
                r#type: &'static str,
                id: String,
                geometry: Option<Geometry>,
                properties: Properties<'a>,
            }
            let feature = Feature {
                r#type: "Feature",
                id: site.id.to_string(),
                geometry: site
                    .position
                    .map(|p| Geometry { r#type: "Point", coordinates: [p.lng(), p.lat()] }),
                properties: Properties {
                    name: &site.name,
                    kind: site.kind(),
                    status: &site.status,
                    village: &site.village,
                },
            };
            if !first {
                buf.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut buf, &feature).map_err(|e| AppError::Internal(e.to_string()))?;
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

/// Columns of the inspection list, shared by CSV and XLSX: what people read (Chinese labels,
/// Beijing times) first, then the machine codes in their own columns.
pub const INSPECTION_HEADERS: [&str; 23] = [
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
    "照片链接",
    "status",
    "kind",
    "position_source",
    "flag_kinds",
    "site_id",
];

/// Where the photo links of an export point: `{base}/api/v1/blobs/{sha256}` (downloads need the
/// reader's login, as in the console).
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub base: String,
}

impl Links {
    fn write(&self, photos: &str, out: &mut Vec<u8>) {
        for (n, sha) in photos.split(' ').filter(|s| !s.is_empty()).enumerate() {
            if n > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(self.base.as_bytes());
            out.extend_from_slice(b"/api/v1/blobs/");
            out.extend_from_slice(sha.as_bytes());
        }
    }

    fn text(&self, photos: &str) -> String {
        let mut out = Vec::new();
        self.write(photos, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn status_label(code: &str) -> &str {
    let all = shared::review::ReviewStatus::ALL;
    all.iter().find(|s| s.as_str() == code).map(|s| s.label_zh()).unwrap_or(code)
}

fn kind_label(code: &str) -> &str {
    let all = shared::inspection::InspectionKind::ALL;
    all.iter().find(|k| k.as_str() == code).map(|k| k.label_zh()).unwrap_or(code)
}

fn source_label(code: &str) -> &str {
    let all = shared::inspection::PositionSource::ALL;
    all.iter().find(|s| s.as_str() == code).map(|s| s.label_zh()).unwrap_or(code)
}

fn photo_count(photos: &str) -> usize {
    photos.split(' ').filter(|s| !s.is_empty()).count()
}

/// A stored UTC time (RFC 3339) as Beijing time `YYYY-MM-DD HH:MM:SS`, without the general
/// parser on the common shape (a million rows per export).
fn beijing_text(utc: &str) -> Option<time::PrimitiveDateTime> {
    let b = utc.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        s.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let fast = (b.len() >= 20 && b[4] == b'-' && b[10] == b'T' && b[b.len() - 1] == b'Z')
        .then(|| {
            let date = time::Date::from_calendar_date(
                num(0..4)? as i32,
                time::Month::try_from(num(5..7)? as u8).ok()?,
                num(8..10)? as u8,
            )
            .ok()?;
            let t = time::Time::from_hms(num(11..13)? as u8, num(14..16)? as u8, num(17..19)? as u8).ok()?;
            Some(time::PrimitiveDateTime::new(date, t))
        })
        .flatten();
    let utc_time = match fast {
        Some(t) => t,
        None => {
            let t = time::OffsetDateTime::parse(utc, &time::format_description::well_known::Rfc3339).ok()?;
            let t = t.to_offset(time::UtcOffset::UTC);
            time::PrimitiveDateTime::new(t.date(), t.time())
        }
    };
    utc_time.checked_add(time::Duration::hours(8))
}

fn write_beijing(utc: &str, out: &mut Vec<u8>) {
    use std::io::Write;
    if let Some(t) = beijing_text(utc) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
    }
}

/// One CSV cell: quoted only when it must be (RFC 4180).
fn write_csv_field(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for c in s.bytes() {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// One exported row as CSV, straight from the stored columns into the buffer.
fn write_csv_row(r: &ExportRow<'_>, links: &Links, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{},{},", r.id, r.version);
    write_csv_field(status_label(r.status), out);
    out.push(b',');
    write_csv_field(kind_label(r.kind), out);
    out.push(b',');
    write_csv_field(r.site_name, out);
    out.push(b',');
    write_csv_field(r.village, out);
    out.push(b',');
    write_beijing(r.received_at, out);
    out.push(b',');
    write_beijing(r.device_time, out);
    out.push(b',');
    if let (Some(lng), Some(lat)) = (r.lng, r.lat) {
        let _ = write!(out, "{lng:.6},{lat:.6},");
    } else {
        out.extend_from_slice(b",,");
    }
    if let Some(a) = r.accuracy_m {
        let _ = write!(out, "{a}");
    }
    let _ = write!(out, ",{},", photo_count(r.photos));
    write_csv_field(r.comment.unwrap_or(""), out);
    out.push(b',');
    write_csv_field(r.notes, out);
    out.push(b',');
    write_csv_field(source_label(r.position_source), out);
    out.push(b',');
    write_csv_field(r.manual_reason, out);
    out.push(b',');
    write_csv_field(r.flags_zh, out);
    out.push(b',');
    links.write(r.photos, out);
    out.push(b',');
    for code in [r.status, r.kind, r.position_source, r.flag_kinds] {
        write_csv_field(code, out);
        out.push(b',');
    }
    write_csv_field(r.site_id, out);
    out.extend_from_slice(b"\r\n");
}

/// Visit the caller's records newest first as their stored export columns until `f` answers
/// false; refused (before any row) when the query is outside the caller's scope.
fn for_each_row(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    f: &mut dyn FnMut(&ExportRow<'_>) -> bool,
) -> AppResult<()> {
    let rq = record_query(actor, q, None)?;
    let mut tx = store.read()?;
    tx.for_each_export_row(&rq, f)?;
    Ok(())
}

pub fn inspections_csv(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    links: &Links,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let mut buf = Vec::with_capacity(CHUNK * 2);
    buf.extend_from_slice("\u{feff}".as_bytes());
    buf.extend_from_slice(INSPECTION_HEADERS.join(",").as_bytes());
    buf.extend_from_slice(b"\r\n");
    let mut open = true;
    for_each_row(store, actor, q, &mut |r| {
        write_csv_row(r, links, &mut buf);
        if buf.len() >= CHUNK {
            open = sink(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK * 2)));
        }
        open
    })?;
    if open && !buf.is_empty() {
        sink(buf);
    }
    Ok(())
}

/// The records as JSON Lines: one `InspectionRecord` (the versioned DTO the sync protocol and
/// the API carry: the current version as signed, its review state, author and device) per line,
/// newest first. The exchange format for systems that want the records rather than a table.
pub fn inspections_jsonl(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let rq = record_query(actor, q, None)?;
    let mut buf = Vec::with_capacity(CHUNK * 2);
    let mut open = true;
    let mut failed = None;
    store.read()?.for_each_record(&rq, &mut |r| {
        if let Err(e) = serde_json::to_writer(&mut buf, r) {
            failed = Some(e);
            return false;
        }
        buf.push(b'\n');
        if buf.len() >= CHUNK {
            open = sink(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK * 2)));
        }
        open
    })?;
    if let Some(e) = failed {
        return Err(AppError::Internal(format!("record as JSON: {e}")));
    }
    if open && !buf.is_empty() {
        sink(buf);
    }
    Ok(())
}

/// A JSON string literal.
fn write_json_str(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly as JSON requires; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_geojson_feature(r: &ExportRow<'_>, links: &Links, out: &mut Vec<u8>) {
    use std::io::Write;
    out.extend_from_slice(br#"{"type":"Feature","id":"#);
    write_json_str(r.id, out);
    match (r.lng, r.lat) {
        (Some(lng), Some(lat)) if lng.is_finite() && lat.is_finite() => {
            let _ = write!(out, r#","geometry":{{"type":"Point","coordinates":[{lng},{lat}]}}"#);
        }
        _ => out.extend_from_slice(br#","geometry":null"#),
    }
    let _ = write!(out, r#","properties":{{"version":{},"status":"#, r.version);
    write_json_str(r.status, out);
    out.extend_from_slice(br#","status_zh":"#);
    write_json_str(status_label(r.status), out);
    out.extend_from_slice(br#","kind":"#);
    write_json_str(r.kind, out);
    out.extend_from_slice(br#","kind_zh":"#);
    write_json_str(kind_label(r.kind), out);
    out.extend_from_slice(br#","site_id":"#);
    write_json_str(r.site_id, out);
    out.extend_from_slice(br#","site_name":"#);
    write_json_str(r.site_name, out);
    out.extend_from_slice(br#","village":"#);
    write_json_str(r.village, out);
    out.extend_from_slice(br#","received_at":"#);
    write_json_str(r.received_at, out);
    out.extend_from_slice(br#","device_time":"#);
    write_json_str(r.device_time, out);
    out.extend_from_slice(br#","accuracy_m":"#);
    match r.accuracy_m {
        Some(a) if a.is_finite() => {
            let _ = write!(out, "{a}");
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","position_source":"#);
    match r.position_source {
        "" => out.extend_from_slice(b"null"),
        s => write_json_str(s, out),
    }
    out.extend_from_slice(br#","fix_count":"#);
    match r.fix_count {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","manual_reason":"#);
    match r.manual_reason {
        "" => out.extend_from_slice(b"null"),
        s => write_json_str(s, out),
    }
    let _ = write!(out, r#","photos":{},"photo_links":["#, photo_count(r.photos));
    for (n, sha) in r.photos.split(' ').filter(|s| !s.is_empty()).enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json_str(&links.text(sha), out);
    }
    out.extend_from_slice(br#"],"flags":"#);
    out.extend_from_slice(if r.flags_json.is_empty() { b"[]" } else { r.flags_json.as_bytes() });
    out.extend_from_slice(b"}}");
}

pub fn inspections_geojson(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    links: &Links,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    let mut buf: Vec<u8> = br#"{"type":"FeatureCollection","features":["#.to_vec();
    let mut first = true;
    let mut open = true;
    for_each_row(store, actor, q, &mut |r| {
        if !first {
            buf.push(b',');
        }
        first = false;
        write_geojson_feature(r, links, &mut buf);
        if buf.len() >= CHUNK {
            open = sink(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK * 2)));
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

/// A Beijing wall-clock time as an Excel date cell.
fn excel_time(
    t: time::PrimitiveDateTime,
) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    rust_xlsxwriter::ExcelDateTime::from_ymd(t.year() as u16, u8::from(t.month()), t.day())?.and_hms(
        u16::from(t.hour()),
        t.minute(),
        f64::from(t.second()),
    )
}

/// Data rows per worksheet: Excel's 1,048,576 rows less the header.
const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

/// The inspection list as XLSX: Chinese headers, number and date cells, rows streamed through
/// constant-memory worksheets, a new sheet (检查记录 2, 3, …) each time one is full.
pub fn inspections_xlsx(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    links: &Links,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    inspections_xlsx_sheets(store, actor, q, links, XLSX_ROWS_PER_SHEET, sink)
}

/// [`inspections_xlsx`] with `rows_per_sheet` data rows on each sheet (tests use a few).
pub fn inspections_xlsx_sheets(
    store: &dyn Store,
    actor: &Actor,
    q: &QueueQuery,
    links: &Links,
    rows_per_sheet: u32,
    sink: &mut Sink<'_>,
) -> AppResult<()> {
    use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
    // Refuse before building anything.
    record_query(actor, q, None)?;
    let mut wb = Workbook::new();
    // A million rows: the fastest deflate level takes a third off the time of the default (21 s
    // to 14 s) for a file half as large again (BENCHMARKS.md, exports at a million rows).
    wb.set_zip_compression_level(1);
    let bold = Format::new().set_bold();
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let coord = Format::new().set_num_format("0.000000");
    let add_sheet = |wb: &mut Workbook, n: usize| -> Result<(), XlsxError> {
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(if n == 1 { "检查记录".to_string() } else { format!("检查记录 {n}") })?;
        for (c, h) in INSPECTION_HEADERS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        ws.set_freeze_panes(1, 0)?;
        Ok(())
    };
    add_sheet(&mut wb, 1).map_err(xlsx_err)?;
    let mut sheets = 1usize;
    let mut row = 0u32;
    let mut failure = None;
    let write_row = |ws: &mut Worksheet, row: u32, r: &ExportRow<'_>| -> Result<(), XlsxError> {
        ws.write_string(row, 0, r.id)?;
        ws.write_number(row, 1, r.version as f64)?;
        ws.write_string(row, 2, status_label(r.status))?;
        ws.write_string(row, 3, kind_label(r.kind))?;
        ws.write_string(row, 4, r.site_name)?;
        ws.write_string(row, 5, r.village)?;
        if let Some(t) = beijing_text(r.received_at) {
            ws.write_datetime_with_format(row, 6, excel_time(t)?, &when)?;
        }
        if let Some(t) = beijing_text(r.device_time) {
            ws.write_datetime_with_format(row, 7, excel_time(t)?, &when)?;
        }
        if let (Some(lng), Some(lat)) = (r.lng, r.lat) {
            ws.write_number_with_format(row, 8, lng, &coord)?;
            ws.write_number_with_format(row, 9, lat, &coord)?;
        }
        if let Some(a) = r.accuracy_m {
            ws.write_number(row, 10, a)?;
        }
        ws.write_number(row, 11, photo_count(r.photos) as f64)?;
        if let Some(c) = r.comment.filter(|c| !c.is_empty()) {
            ws.write_string(row, 12, c)?;
        }
        if !r.notes.is_empty() {
            ws.write_string(row, 13, r.notes)?;
        }
        if !r.position_source.is_empty() {
            ws.write_string(row, 14, source_label(r.position_source))?;
        }
        if !r.manual_reason.is_empty() {
            ws.write_string(row, 15, r.manual_reason)?;
        }
        if !r.flags_zh.is_empty() {
            ws.write_string(row, 16, r.flags_zh)?;
        }
        if !r.photos.is_empty() {
            ws.write_string(row, 17, links.text(r.photos))?;
        }
        ws.write_string(row, 18, r.status)?;
        ws.write_string(row, 19, r.kind)?;
        if !r.position_source.is_empty() {
            ws.write_string(row, 20, r.position_source)?;
        }
        if !r.flag_kinds.is_empty() {
            ws.write_string(row, 21, r.flag_kinds)?;
        }
        ws.write_string(row, 22, r.site_id)?;
        Ok(())
    };
    for_each_row(store, actor, q, &mut |r| {
        let res = (|| -> Result<(), XlsxError> {
            if row == rows_per_sheet {
                sheets += 1;
                add_sheet(&mut wb, sheets)?;
                row = 0;
            }
            row += 1;
            write_row(wb.worksheet_from_index(sheets - 1)?, row, r)
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
    let mut w = SinkWriter { sink, buf: Vec::with_capacity(CHUNK * 2) };
    wb.save_to_writer(&mut w).map_err(xlsx_err)?;
    std::io::Write::flush(&mut w)?;
    Ok(())
}

/// A progress table (`tracking::tracking`'s answer) as XLSX.
pub fn progress_xlsx(t: &shared::console::Tracking, sink: &mut Sink<'_>) -> AppResult<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let (year, month) = (t.year, t.month);
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

/// Export columns for versions stored before they existed (and any a crash left without):
/// computed from the stored JSON and flags, a page at a time. Run before serving, so that an
/// export never misses a record. Versions never checked at push get the flags computed from
/// the record alone, as the record detail shows them.
pub fn backfill(store: &dyn Store) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let mut tx = store.write()?;
        let page = tx.versions_without_export(500)?;
        if page.is_empty() {
            return Ok(done);
        }
        for i in &page {
            let flags = export_flags(tx.as_mut(), i)?;
            tx.put_version_export(&VersionExport::of(i), &ExportFlags::of(&flags))?;
        }
        tx.commit()?;
        done += page.len();
    }
}

/// The flags an export prints for a version: those stored with it, or for versions never
/// checked at push, those computed from the record alone (as the record detail shows them).
pub fn export_flags(
    tx: &mut dyn crate::store::Tx,
    i: &shared::inspection::Inspection,
) -> AppResult<Vec<shared::flags::Flag>> {
    Ok(match tx.flags_of(&i.id, i.version)? {
        Some(flags) => flags,
        None => {
            let site = tx.site(&i.site_id)?;
            shared::flags::flags(i, site.and_then(|s| s.position), &Default::default())
        }
    })
}
