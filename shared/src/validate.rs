//! Validation of what inspectors submit. Every field error is returned at once, with the same
//! codes on the server and in the app.

use time::{Duration, OffsetDateTime};

use crate::error::{ErrorCode, FieldError};
use crate::inspection::*;
use crate::site::{Site, SiteDetails, SiteKind};
use crate::sync::is_sha256_hex;

/// Size bounds. Kept here so that app forms and the server enforce the same numbers.
pub mod limits {
    pub const SHORT_TEXT: usize = 100;
    pub const MEDIUM_TEXT: usize = 500;
    pub const LONG_TEXT: usize = 2000;
    pub const MAX_PHOTOS: usize = 30;
    pub const MAX_CHECKLIST: usize = 100;
    pub const MAX_INSPECTORS: usize = 10;
    pub const MAX_VIOLATIONS: usize = 50;
    pub const MAX_READINGS: usize = 20;
    pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;
    pub const MAX_PHOTO_PIXELS_EDGE: u32 = 20_000;
    pub const MIN_ENFORCEMENT_INSPECTORS: usize = 2;
    pub const MAX_VERSION: u32 = 1000;
    /// Fixes averaged into one position.
    pub const MAX_FIXES: u32 = 10_000;
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, code: ErrorCode, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    fn text(&mut self, field: &str, value: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.push(field, ErrorCode::Required, "必填");
        } else if value.chars().count() > max {
            self.push(field, ErrorCode::TooLong, format!("不能超过 {max} 个字符"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
            self.push(field, ErrorCode::InvalidFormat, "含有控制字符");
        }
    }

    fn number(&mut self, field: &str, value: Option<f64>, min: f64, max: f64) {
        if let Some(v) = value
            && (!v.is_finite() || v < min || v > max)
        {
            self.push(field, ErrorCode::OutOfRange, format!("应在 {min} 到 {max} 之间"));
        }
    }

    fn uscc(&mut self, field: &str, code: &str) {
        if let Err(err) = crate::uscc::validate(code) {
            let c = match err {
                crate::uscc::UsccError::Checksum => ErrorCode::InvalidChecksum,
                _ => ErrorCode::InvalidFormat,
            };
            self.push(field, c, err.to_string());
        }
    }

    fn time(&mut self, field: &str, t: OffsetDateTime) {
        if t.year() < 2000 || t.year() > 2100 {
            self.push(field, ErrorCode::OutOfRange, "时间不在合理范围内");
        }
    }
}

/// Validate one inspection version against the site it names as the caller knows it: the
/// record's own rules, plus whether the proposed status can follow the site's current one. The
/// server checks this on every push; the app checks it before queueing, so a record the server
/// would refuse is caught while the inspector is still on site (the site may still have moved
/// on the server meanwhile, and then the server's answer wins).
pub fn validate_against_site(i: &Inspection, site: &Site) -> Vec<FieldError> {
    let mut errors = validate_inspection(i, Some(site.kind()));
    if let (Some(to), Some(from)) = (i.proposed_status, site.status)
        && to.applies_to(site.kind())
        && to != from
        && let Err(e) = crate::site::check_transition(site.kind(), from, to)
    {
        errors.push(FieldError::new("proposed_status", ErrorCode::IllegalTransition, e.to_string()));
    }
    errors
}

/// Validate one inspection version. `site_kind` is the kind of the site it names when the caller
/// knows it (the server always does; the app does for sites it holds).
pub fn validate_inspection(i: &Inspection, site_kind: Option<SiteKind>) -> Vec<FieldError> {
    let mut e = Errors(Vec::new());
    if i.schema_version == 0 || i.schema_version > INSPECTION_SCHEMA_VERSION {
        e.push("schema_version", ErrorCode::InvalidValue, "不支持的记录格式版本");
    }
    if i.id.0.get_version_num() != 7 {
        e.push("id", ErrorCode::InvalidFormat, "记录标识应为 UUIDv7");
    }
    if i.version == 0 || i.version > limits::MAX_VERSION {
        e.push("version", ErrorCode::OutOfRange, "版本号无效");
    }
    match (i.version, i.replaces_version) {
        (1, Some(_)) => e.push("replaces_version", ErrorCode::Inconsistent, "首个版本不能替代其他版本"),
        (v, None) if v > 1 => e.push("replaces_version", ErrorCode::Required, "须注明被替代的版本"),
        (v, Some(r)) if v > 1 && r.checked_add(1) != Some(v) => {
            e.push("replaces_version", ErrorCode::Inconsistent, "被替代的版本应为上一版本")
        }
        _ => {}
    }
    if let Some(kind) = site_kind {
        if i.kind().site_kind() != kind {
            e.push("body.kind", ErrorCode::Inconsistent, "检查类型与点位类型不符");
        }
        if let Some(s) = i.proposed_status
            && !s.applies_to(kind)
        {
            e.push("proposed_status", ErrorCode::InvalidValue, "该状态不适用于此类点位");
        }
    }
    e.time("device_time", i.device_time);
    e.text("notes", &i.notes, false, limits::LONG_TEXT);
    if let Some(p) = &i.position {
        if !p.point.is_valid() {
            e.push("position.point", ErrorCode::OutOfRange, "坐标超出 WGS-84 范围");
        }
        e.number("position.accuracy_m", p.accuracy_m, 0.0, 100_000.0);
        e.number("position.hdop", p.hdop, 0.0, 100.0);
        if p.fix_count > limits::MAX_FIXES {
            e.push(
                "position.fix_count",
                ErrorCode::OutOfRange,
                format!("应在 0 到 {} 之间", limits::MAX_FIXES),
            );
        }
        if let Some(t) = p.fix_time {
            e.time("position.fix_time", t);
        }
        let reason = p.manual_reason.as_deref().unwrap_or("");
        // A typed position is the weakest evidence there is: the inspector says why.
        let required = p.source == PositionSource::Manual;
        if required && reason.trim().is_empty() {
            e.push("position.manual_reason", ErrorCode::Required, "手动输入位置须说明原因");
        } else {
            e.text("position.manual_reason", reason, false, limits::MEDIUM_TEXT);
        }
    }
    validate_photos(&mut e, &i.photos);
    match &i.body {
        InspectionBody::SewageFacility(b) => validate_sewage(&mut e, b),
        InspectionBody::WaterBody(b) => validate_water(&mut e, b),
        InspectionBody::Enforcement(b) => validate_enforcement(&mut e, b),
        InspectionBody::VillageRemediation(b) => {
            validate_checklist(&mut e, "body.checklist", &b.checklist);
            e.text("body.summary", &b.summary, false, limits::LONG_TEXT);
        }
    }
    validate_documents(&mut e, i);
    e.0
}

fn validate_photos(e: &mut Errors, photos: &[PhotoRef]) {
    if photos.len() > limits::MAX_PHOTOS {
        e.push("photos", ErrorCode::TooMany, format!("照片不能超过 {} 张", limits::MAX_PHOTOS));
    }
    let mut seen = std::collections::HashSet::new();
    for (n, p) in photos.iter().enumerate() {
        let f = |s: &str| format!("photos[{n}].{s}");
        if !is_sha256_hex(&p.sha256) {
            e.push(f("sha256"), ErrorCode::InvalidFormat, "应为 64 位小写十六进制 SHA-256");
        } else if !seen.insert(p.sha256.as_str()) {
            e.push(f("sha256"), ErrorCode::Inconsistent, "同一张照片重复出现");
        }
        if let Some(o) = &p.original_sha256
            && !is_sha256_hex(o)
        {
            e.push(f("original_sha256"), ErrorCode::InvalidFormat, "应为 64 位小写十六进制 SHA-256");
        }
        if p.bytes == 0 || p.bytes > limits::MAX_PHOTO_BYTES {
            e.push(f("bytes"), ErrorCode::OutOfRange, "照片大小无效");
        }
        let edge = limits::MAX_PHOTO_PIXELS_EDGE;
        if p.width == 0 || p.height == 0 || p.width > edge || p.height > edge {
            e.push(f("width"), ErrorCode::OutOfRange, "照片尺寸无效");
        }
        if let Some(t) = p.exif_time {
            e.time(&f("exif_time"), t);
        }
        if let Some(pt) = p.exif_position
            && !pt.is_valid()
        {
            e.push(f("exif_position"), ErrorCode::OutOfRange, "坐标超出 WGS-84 范围");
        }
        e.text(&f("caption"), &p.caption, false, limits::MEDIUM_TEXT);
    }
}

fn validate_sewage(e: &mut Errors, b: &SewageFacilityBody) {
    e.text("body.inlet_observation", &b.inlet_observation, false, limits::MEDIUM_TEXT);
    e.text("body.outlet_observation", &b.outlet_observation, false, limits::MEDIUM_TEXT);
    if b.readings.len() > limits::MAX_READINGS {
        e.push("body.readings", ErrorCode::TooMany, "读数过多");
    }
    for (n, r) in b.readings.iter().enumerate() {
        let max = if r.indicator == SewageIndicator::Ph { 14.0 } else { 100_000.0 };
        e.number(&format!("body.readings[{n}].value"), Some(r.value), 0.0, max);
    }
}

fn validate_water(e: &mut Errors, b: &WaterBodyBody) {
    e.number("body.water_depth_cm", b.water_depth_cm, 0.0, 10_000.0);
    e.number("body.transparency_cm", b.transparency_cm, 0.0, 1_000.0);
    e.number("body.dissolved_oxygen_mg_l", b.dissolved_oxygen_mg_l, 0.0, 50.0);
    e.number("body.orp_mv", b.orp_mv, -1_000.0, 1_000.0);
    e.number("body.ammonia_n_mg_l", b.ammonia_n_mg_l, 0.0, 1_000.0);
    e.number("body.public_survey_pct", b.public_survey_pct, 0.0, 100.0);
    if let (Some(t), Some(d)) = (b.transparency_cm, b.water_depth_cm)
        && t > d
        && d > 0.0
    {
        e.push("body.transparency_cm", ErrorCode::Inconsistent, "透明度不能大于水深");
    }
}

fn validate_checklist(e: &mut Errors, field: &str, items: &[ChecklistItem]) {
    if items.len() > limits::MAX_CHECKLIST {
        e.push(field, ErrorCode::TooMany, "检查项过多");
    }
    for (n, it) in items.iter().enumerate() {
        e.text(&format!("{field}[{n}].item"), &it.item, true, limits::SHORT_TEXT);
        let required = it.result == ChecklistResult::Problem;
        e.text(&format!("{field}[{n}].note"), &it.note, required, limits::MEDIUM_TEXT);
    }
}

fn validate_signature(e: &mut Errors, field: &str, s: &Signature) {
    match s {
        Signature::Signed { signer, blob, signed_at, covers } => {
            if let Some(t) = signed_at {
                e.time(&format!("{field}.signed_at"), *t);
            }
            if let Some(h) = covers
                && !is_sha256_hex(h)
            {
                e.push(format!("{field}.covers"), ErrorCode::InvalidFormat, "应为 SHA-256");
            }
            e.text(&format!("{field}.signer"), signer, false, limits::SHORT_TEXT);
            if let Some(h) = blob
                && !is_sha256_hex(h)
            {
                e.push(format!("{field}.blob"), ErrorCode::InvalidFormat, "应为 SHA-256");
            }
        }
        Signature::Refused { reason } => {
            e.text(&format!("{field}.reason"), reason, true, limits::MEDIUM_TEXT)
        }
    }
}

fn validate_enforcement(e: &mut Errors, b: &EnforcementBody) {
    e.time("body.started_at", b.started_at);
    e.time("body.ended_at", b.ended_at);
    if b.ended_at < b.started_at {
        e.push("body.ended_at", ErrorCode::Inconsistent, "结束时间早于开始时间");
    } else if b.ended_at - b.started_at > Duration::days(1) {
        e.push("body.ended_at", ErrorCode::OutOfRange, "一次现场检查不应超过 24 小时");
    }
    e.text("body.place", &b.place, true, limits::MEDIUM_TEXT);
    e.text("body.party.name", &b.party.name, true, limits::SHORT_TEXT);
    e.uscc("body.party.uscc", &b.party.uscc);
    e.text("body.party.legal_representative", &b.party.legal_representative, false, limits::SHORT_TEXT);
    e.text("body.person_present", &b.person_present, true, limits::SHORT_TEXT);
    e.text("body.recorder", &b.recorder, true, limits::SHORT_TEXT);
    if b.inspectors.len() < limits::MIN_ENFORCEMENT_INSPECTORS {
        e.push("body.inspectors", ErrorCode::TooFew, "执法人员不少于两人");
    } else if b.inspectors.len() > limits::MAX_INSPECTORS {
        e.push("body.inspectors", ErrorCode::TooMany, "执法人员过多");
    }
    let mut creds = std::collections::HashSet::new();
    for (n, o) in b.inspectors.iter().enumerate() {
        e.text(&format!("body.inspectors[{n}].name"), &o.name, true, limits::SHORT_TEXT);
        let f = format!("body.inspectors[{n}].credential_no");
        e.text(&f, &o.credential_no, true, 50);
        if !o.credential_no.trim().is_empty() && !creds.insert(o.credential_no.trim()) {
            e.push(f, ErrorCode::Inconsistent, "执法证号重复");
        }
    }
    validate_checklist(e, "body.checklist", &b.checklist);
    e.text("body.findings", &b.findings, false, limits::LONG_TEXT);
    if b.violations.len() > limits::MAX_VIOLATIONS {
        e.push("body.violations", ErrorCode::TooMany, "违法行为条目过多");
    }
    for (n, v) in b.violations.iter().enumerate() {
        e.text(&format!("body.violations[{n}]"), v, true, limits::MEDIUM_TEXT);
    }
    if !b.violations.is_empty() && b.rectification_deadline.is_none() {
        e.push("body.rectification_deadline", ErrorCode::Required, "有违法行为时须责令限期改正");
    }
    if let Some(d) = b.rectification_deadline
        && d < b.started_at.date()
    {
        e.push("body.rectification_deadline", ErrorCode::Inconsistent, "改正期限早于检查日期");
    }
    validate_signature(e, "body.party_signature", &b.party_signature);
    if b.inspector_signatures.len() != b.inspectors.len() {
        e.push("body.inspector_signatures", ErrorCode::Inconsistent, "每名执法人员须签字或注明原因");
    }
    for (n, s) in b.inspector_signatures.iter().enumerate() {
        validate_signature(e, &format!("body.inspector_signatures[{n}]"), s);
    }
    if let Some(w) = &b.witness_signature {
        validate_signature(e, "body.witness_signature", w);
    }
    if let Some(r) = &b.recorder_signature {
        validate_signature(e, "body.recorder_signature", r);
    }
}

/// A record made with documents (it carries [`crate::documents::DocumentInfo`]) is the legal
/// document: its numbers match the documents it gets, and an on-site record is signed by both
/// inspectors and the recorder, and by the party or, where the party refuses, by a witness, each
/// signature an image over the content as it stands.
fn validate_documents(e: &mut Errors, i: &Inspection) {
    use crate::documents::{documents_for, stale_signatures};
    let Some(d) = &i.document else { return };
    e.text("document.site_name", &d.site_name, true, limits::SHORT_TEXT);
    e.text("document.place", &d.place, false, limits::MEDIUM_TEXT);
    e.text("document.inspector", &d.inspector, true, limits::SHORT_TEXT);
    e.text("document.authority", &d.authority, false, limits::SHORT_TEXT);
    let mut want = documents_for(i);
    want.sort();
    let mut have: Vec<_> = d.numbers.iter().map(|n| n.kind).collect();
    have.sort();
    if want != have {
        e.push("document.numbers", ErrorCode::Inconsistent, "文书编号与应出具的文书不符");
    }
    for (n, num) in d.numbers.iter().enumerate() {
        if !(2000..=2100).contains(&num.year) || num.serial == 0 {
            e.push(format!("document.numbers[{n}]"), ErrorCode::OutOfRange, "文书编号无效");
        }
    }
    for (n, digest) in d.digests.iter().enumerate() {
        let field = format!("document.digests[{n}]");
        if !want.contains(&digest.kind) || d.digests[..n].iter().any(|o| o.kind == digest.kind) {
            e.push(field, ErrorCode::Inconsistent, "文书摘要与应出具的文书不符");
        } else if !crate::sync::is_sha256_hex(&digest.sha256) {
            e.push(field, ErrorCode::InvalidFormat, "文书摘要应为 64 位十六进制 SHA-256");
        }
    }
    let InspectionBody::Enforcement(b) = &i.body else { return };
    let signed = |s: &Signature| matches!(s, Signature::Signed { blob: Some(_), .. });
    for (n, s) in b.inspector_signatures.iter().enumerate() {
        if !signed(s) {
            e.push(format!("body.inspector_signatures[{n}]"), ErrorCode::Required, "执法人员须在笔录上签名");
        }
    }
    if !b.recorder_signature.as_ref().is_some_and(signed) {
        e.push("body.recorder_signature", ErrorCode::Required, "记录人须签名");
    }
    match &b.party_signature {
        Signature::Refused { .. } if !b.witness_signature.as_ref().is_some_and(signed) => {
            e.push("body.witness_signature", ErrorCode::Required, "被检查人拒绝签字时须由见证人签名");
        }
        Signature::Refused { .. } => {}
        s if !signed(s) => {
            e.push("body.party_signature", ErrorCode::Required, "被检查单位现场负责人须签名或注明拒签理由")
        }
        _ => {}
    }
    let roles = b.signatures();
    for n in stale_signatures(i) {
        let field = match roles[n].0 {
            SignerRole::Party => "body.party_signature".to_string(),
            SignerRole::Inspector(k) => format!("body.inspector_signatures[{k}]"),
            SignerRole::Recorder => "body.recorder_signature".to_string(),
            SignerRole::Witness => "body.witness_signature".to_string(),
        };
        e.push(field, ErrorCode::SignatureStale, "签名后记录内容已修改，签名已失效，请重新签名");
    }
}

/// Validate a site as registered (by the seeder now, by provincial staff later).
pub fn validate_site(site: &Site) -> Vec<FieldError> {
    let mut e = Errors(Vec::new());
    e.text("name", &site.name, true, limits::SHORT_TEXT);
    if let Some(p) = site.position
        && !p.is_valid()
    {
        e.push("position", ErrorCode::OutOfRange, "坐标超出 WGS-84 范围");
    }
    if site.village.level() != crate::region::RegionLevel::Village {
        e.push("village", ErrorCode::InvalidValue, "应为行政村代码");
    }
    if let Some(m) = site.done_month
        && (!(200_001..=210_012).contains(&m) || !(1..=12).contains(&(m % 100)))
    {
        e.push("done_month", ErrorCode::OutOfRange, "完成月份无效");
    }
    let kind = site.kind();
    match (site.status, kind.initial_status()) {
        (None, None) => {}
        (Some(s), Some(_)) if s.applies_to(kind) => {}
        _ => e.push("status", ErrorCode::InvalidValue, "状态不适用于此类点位"),
    }
    match &site.details {
        SiteDetails::Village(v) => {
            if let Some(y) = v.task_year
                && !(2000..=2100).contains(&y)
            {
                e.push("details.task_year", ErrorCode::OutOfRange, "年份无效");
            }
        }
        SiteDetails::WaterBody(w) => {
            e.number("details.area_m2", w.area_m2, 0.0, 1.0e9);
            e.number("details.length_m", w.length_m, 0.0, 1.0e7);
            e.number("details.width_m", w.width_m, 0.0, 1.0e5);
            e.text("details.start_name", &w.start_name, false, limits::SHORT_TEXT);
            e.text("details.end_name", &w.end_name, false, limits::SHORT_TEXT);
            for (f, p) in [("details.start", w.start), ("details.end", w.end)] {
                if p.is_some_and(|p| !p.is_valid()) {
                    e.push(f, ErrorCode::OutOfRange, "坐标超出 WGS-84 范围");
                }
            }
            let pc = w.planned_completion.as_bytes();
            let quarter_ok = pc.len() == 6
                && pc[..4].iter().all(u8::is_ascii_digit)
                && pc[4] == b'Q'
                && (b'1'..=b'4').contains(&pc[5]);
            if !w.planned_completion.is_empty() && !quarter_ok {
                e.push("details.planned_completion", ErrorCode::InvalidFormat, "应为“2026Q3”格式");
            }
        }
        SiteDetails::Facility(f) => {
            if !f.design_capacity_tpd.is_finite() || f.design_capacity_tpd <= 0.0 {
                e.push("details.design_capacity_tpd", ErrorCode::OutOfRange, "设计处理能力应大于 0");
            }
        }
        SiteDetails::Enterprise(x) => {
            e.uscc("details.uscc", &x.uscc);
            e.text("details.legal_representative", &x.legal_representative, false, limits::SHORT_TEXT);
            e.text("details.address", &x.address, false, limits::MEDIUM_TEXT);
        }
    }
    e.0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geo::LngLat;
    use crate::ids::{InspectionId, SiteId};
    use time::macros::datetime;

    pub fn water_inspection() -> Inspection {
        Inspection {
            schema_version: 1,
            id: InspectionId::new(),
            version: 1,
            replaces_version: None,
            site_id: SiteId::new(),
            body: InspectionBody::WaterBody(WaterBodyBody {
                colour: ColourGrade::Dark,
                odour: OdourGrade::Noticeable,
                water_depth_cm: Some(80.0),
                transparency_cm: Some(20.0),
                dissolved_oxygen_mg_l: Some(1.5),
                orp_mv: None,
                ammonia_n_mg_l: None,
                public_survey_pct: None,
            }),
            position: Some(
                Position::new(LngLat::new(114.3, 30.6), PositionSource::Gps).with_accuracy(Some(8.0)),
            ),
            device_time: datetime!(2026-11-20 09:30 +08:00),
            photos: vec![],
            proposed_status: None,
            notes: String::new(),
            document: None,
        }
    }

    pub fn enforcement() -> EnforcementBody {
        EnforcementBody {
            started_at: datetime!(2026-11-20 09:00 +08:00),
            ended_at: datetime!(2026-11-20 10:30 +08:00),
            place: "某镇工业园".into(),
            party: InspectedParty {
                name: "某某化工有限公司".into(),
                uscc: "91350100M000100Y43".into(),
                legal_representative: "张三".into(),
            },
            person_present: "李四".into(),
            inspectors: vec![
                EnforcementOfficer { name: "王五".into(), credential_no: "42010001".into() },
                EnforcementOfficer { name: "赵六".into(), credential_no: "42010002".into() },
            ],
            recorder: "王五".into(),
            task_source: TaskSource::Routine,
            checklist: vec![ChecklistItem {
                item: "污染防治设施运行".into(),
                result: ChecklistResult::NoProblem,
                note: String::new(),
            }],
            findings: "现场检查未发现异常".into(),
            violations: vec![],
            rectification_deadline: None,
            party_signature: Signature::named("李四"),
            inspector_signatures: vec![Signature::named("王五"), Signature::named("赵六")],
            witness_signature: None,
            recorder_signature: None,
        }
    }

    fn codes(errs: &[FieldError]) -> Vec<(String, ErrorCode)> {
        errs.iter().map(|e| (e.field.clone(), e.code)).collect()
    }

    #[test]
    fn signing_slots_follow_the_form_and_a_refusal() {
        let roles = |b: &EnforcementBody| {
            b.signing_slots().iter().map(|s| (s.role, s.name.clone())).collect::<Vec<_>>()
        };
        let b = enforcement();
        assert_eq!(
            roles(&b),
            vec![
                (SignerRole::Party, "李四".to_string()),
                (SignerRole::Inspector(0), "王五".to_string()),
                (SignerRole::Inspector(1), "赵六".to_string()),
                (SignerRole::Recorder, "王五".to_string()),
                (SignerRole::Witness, String::new()),
            ]
        );
        assert_eq!(b.signing_slots()[2].signature, Some(Signature::named("赵六")));
        assert_eq!(b.signing_slots()[3].signature, None, "the recorder has not signed yet");
        // A refusal takes the party's place away (the refusal is shown; the witness signs);
        // an inspector added after signing has an empty place.
        let mut r = enforcement();
        r.party_signature = Signature::Refused { reason: "拒绝签字".into() };
        r.inspectors.push(EnforcementOfficer { name: "孙七".into(), credential_no: "42010003".into() });
        let slots = r.signing_slots();
        assert_eq!(slots[0].role, SignerRole::Inspector(0));
        assert_eq!((slots[2].role, slots[2].signature.clone()), (SignerRole::Inspector(2), None));
    }

    #[test]
    fn valid_records_pass() {
        assert_eq!(validate_inspection(&water_inspection(), Some(SiteKind::WaterBody)), vec![]);
        let mut i = water_inspection();
        i.body = InspectionBody::Enforcement(Box::new(enforcement()));
        assert_eq!(validate_inspection(&i, Some(SiteKind::Enterprise)), vec![]);
    }

    #[test]
    fn every_error_at_once() {
        let mut b = enforcement();
        b.inspectors.truncate(1);
        b.inspector_signatures.truncate(1);
        b.party.uscc = "91350100M000100Y44".into();
        b.findings = "字".repeat(2001);
        b.party_signature = Signature::Refused { reason: " ".into() };
        b.violations = vec!["未批先建".into()];
        let mut i = water_inspection();
        i.body = InspectionBody::Enforcement(Box::new(b));
        i.version = 2;
        let errs = codes(&validate_inspection(&i, Some(SiteKind::Enterprise)));
        for expected in [
            ("replaces_version", ErrorCode::Required),
            ("body.inspectors", ErrorCode::TooFew),
            ("body.party.uscc", ErrorCode::InvalidChecksum),
            ("body.findings", ErrorCode::TooLong),
            ("body.party_signature.reason", ErrorCode::Required),
            ("body.rectification_deadline", ErrorCode::Required),
        ] {
            assert!(errs.contains(&(expected.0.to_string(), expected.1)), "missing {expected:?} in {errs:?}");
        }
    }

    #[test]
    fn kind_mismatch_and_bad_numbers() {
        let mut i = water_inspection();
        i.proposed_status = Some(crate::site::SiteStatus::Completed);
        if let InspectionBody::WaterBody(w) = &mut i.body {
            w.dissolved_oxygen_mg_l = Some(f64::NAN);
            w.transparency_cm = Some(100.0);
        }
        i.position.as_mut().unwrap().point = LngLat::new(200.0, 30.0);
        let errs = codes(&validate_inspection(&i, Some(SiteKind::Facility)));
        assert!(errs.contains(&("body.kind".into(), ErrorCode::Inconsistent)));
        assert!(errs.contains(&("proposed_status".into(), ErrorCode::InvalidValue)));
        assert!(errs.contains(&("body.dissolved_oxygen_mg_l".into(), ErrorCode::OutOfRange)));
        assert!(errs.contains(&("body.transparency_cm".into(), ErrorCode::Inconsistent)));
        assert!(errs.contains(&("position.point".into(), ErrorCode::OutOfRange)));
    }

    #[test]
    fn manual_positions_need_a_reason() {
        let mut i = water_inspection();
        i.position = Some(Position::new(LngLat::new(114.3, 30.6), PositionSource::Manual));
        let errs = codes(&validate_inspection(&i, Some(SiteKind::WaterBody)));
        assert_eq!(errs, vec![("position.manual_reason".to_string(), ErrorCode::Required)]);
        i.position = Some(Position::manual(LngLat::new(114.3, 30.6), "  "));
        let errs = codes(&validate_inspection(&i, Some(SiteKind::WaterBody)));
        assert_eq!(errs, vec![("position.manual_reason".to_string(), ErrorCode::Required)]);
        i.position = Some(Position::manual(LngLat::new(114.3, 30.6), "字".repeat(501)));
        let errs = codes(&validate_inspection(&i, Some(SiteKind::WaterBody)));
        assert_eq!(errs, vec![("position.manual_reason".to_string(), ErrorCode::TooLong)]);
        i.position = Some(Position::manual(LngLat::new(114.3, 30.6), "林下无卫星信号，按村委会门牌位置"));
        assert_eq!(validate_inspection(&i, Some(SiteKind::WaterBody)), vec![]);
        // A live fix needs no reason; its capture details are bounded.
        let mut p = Position::new(LngLat::new(114.3, 30.6), PositionSource::Receiver);
        p.fix_count = limits::MAX_FIXES + 1;
        p.hdop = Some(-1.0);
        i.position = Some(p);
        let errs = codes(&validate_inspection(&i, Some(SiteKind::WaterBody)));
        assert_eq!(
            errs,
            vec![
                ("position.hdop".to_string(), ErrorCode::OutOfRange),
                ("position.fix_count".to_string(), ErrorCode::OutOfRange)
            ]
        );
    }

    #[test]
    fn sites_checked() {
        use crate::site::*;
        let mut s = Site {
            id: crate::ids::SiteId::new(),
            village: "420102101201".parse().unwrap(),
            name: "测试化工".into(),
            position: Some(LngLat::new(114.3, 30.6)),
            status: None,
            details: SiteDetails::Enterprise(EnterpriseDetails {
                uscc: "91350100M000100Y43".into(),
                legal_representative: String::new(),
                address: String::new(),
            }),
            version: 0,
            generated: false,
            done_month: None,
        };
        assert_eq!(validate_site(&s), vec![]);
        s.details = SiteDetails::Enterprise(EnterpriseDetails {
            uscc: "91350100M000100Y40".into(),
            legal_representative: String::new(),
            address: String::new(),
        });
        s.status = Some(crate::site::SiteStatus::Running);
        s.village = "420102101000".parse().unwrap();
        let errs = codes(&validate_site(&s));
        assert!(errs.contains(&("details.uscc".into(), ErrorCode::InvalidChecksum)));
        assert!(errs.contains(&("status".into(), ErrorCode::InvalidValue)));
        assert!(errs.contains(&("village".into(), ErrorCode::InvalidValue)));
    }

    #[test]
    fn photo_refs_checked() {
        let mut i = water_inspection();
        let good = PhotoRef {
            sha256: "ab".repeat(32),
            bytes: 1000,
            width: 1920,
            height: 1080,
            exif_time: None,
            exif_position: None,
            original_sha256: None,
            caption: String::new(),
        };
        let mut bad = good.clone();
        bad.sha256 = "../../x".into();
        i.photos = vec![good.clone(), good, bad];
        let errs = codes(&validate_inspection(&i, None));
        assert!(errs.contains(&("photos[1].sha256".into(), ErrorCode::Inconsistent)));
        assert!(errs.contains(&("photos[2].sha256".into(), ErrorCode::InvalidFormat)));
    }

    #[test]
    fn proposed_status_must_follow_the_site_status() {
        use crate::site::*;
        let site = Site {
            id: crate::ids::SiteId::new(),
            village: "420102101201".parse().unwrap(),
            name: "测试塘".into(),
            position: Some(LngLat::new(114.3, 30.6)),
            status: Some(SiteStatus::Identified),
            details: SiteDetails::WaterBody(WaterBodyDetails {
                water_type: WaterType::Pond,
                area_m2: Some(2500.0),
                length_m: None,
                width_m: None,
                start_name: String::new(),
                start: None,
                end_name: String::new(),
                end: None,
                pollution_causes: vec![PollutionCause::DomesticSewage],
                planned_completion: "2026Q4".into(),
                holds_water_all_year: true,
                judged_by: JudgementMethod::Sensory,
                listed: true,
            }),
            version: 0,
            generated: false,
            done_month: None,
        };
        let mut i = water_inspection();
        i.site_id = site.id;
        i.proposed_status = Some(SiteStatus::Eliminated);
        let errs = codes(&validate_against_site(&i, &site));
        assert_eq!(errs, vec![("proposed_status".into(), ErrorCode::IllegalTransition)]);
        i.proposed_status = Some(SiteStatus::Remediating);
        assert!(validate_against_site(&i, &site).is_empty());
        i.proposed_status = Some(SiteStatus::Identified);
        assert!(validate_against_site(&i, &site).is_empty(), "staying put is no transition");
    }
}
