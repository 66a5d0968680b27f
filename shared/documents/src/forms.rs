//! The three forms: what goes where.

use krilla::image::Image;
use shared::documents::{DocumentInfo, DocumentKind};
use shared::inspection::{EnforcementBody, Inspection, InspectionBody, Signature};
use shared::thresholds::{BlackOdorousThresholds, SewageLimits};

use crate::draw::{FooterSignature, LaidOut};
use crate::labels::{self, date, minute, num, second};
use crate::layout::{CONTENT_W, FontId, Fonts, LINE, MARGIN_X, Pager, label, value};
use crate::{BlobSource, DocumentError};

/// Images of one document, loaded once each (a signature repeated on every page is one object).
struct Images<'b> {
    blobs: &'b dyn BlobSource,
    loaded: Vec<(String, Image)>,
}

impl Images<'_> {
    fn get(&mut self, sha256: &str) -> Result<usize, DocumentError> {
        if let Some(i) = self.loaded.iter().position(|(s, _)| s == sha256) {
            return Ok(i);
        }
        let bytes = self.blobs.blob(sha256).ok_or_else(|| DocumentError::MissingBlob(sha256.to_string()))?;
        let image = if bytes.starts_with(&[0xFF, 0xD8]) {
            Image::from_jpeg(bytes.into(), false)
        } else if bytes.starts_with(b"\x89PNG") {
            Image::from_png(bytes.into(), false)
        } else {
            return Err(DocumentError::BadImage(sha256.to_string()));
        }
        .map_err(|_| DocumentError::BadImage(sha256.to_string()))?;
        self.loaded.push((sha256.to_string(), image));
        Ok(self.loaded.len() - 1)
    }
}

pub fn lay_out(
    kind: DocumentKind,
    i: &Inspection,
    info: &DocumentInfo,
    fonts: &Fonts,
    blobs: &dyn BlobSource,
) -> Result<LaidOut, DocumentError> {
    let mut p = Pager::new(fonts);
    let mut images = Images { blobs, loaded: Vec::new() };
    let title = kind.title_zh(i.kind());
    p.centered(20.0, FontId::Label, title);
    let number = match info.number(kind) {
        Some(n) => format!("文书编号：{n}"),
        None => "文书编号：（无）".to_string(),
    };
    p.right(10.5, FontId::Body, &number);
    p.gap(4.0);
    let mut footer_signature = None;
    match (&i.body, kind) {
        (InspectionBody::Enforcement(e), DocumentKind::InspectionRecord) => {
            footer_signature = Some(match &e.party_signature {
                Signature::Signed { blob: Some(h), .. } => FooterSignature::Image { image: images.get(h)? },
                Signature::Signed { signer, .. } => FooterSignature::Text(signer.clone()),
                Signature::Refused { .. } => FooterSignature::Text("拒绝签字（理由见签名栏）".into()),
            });
            record(&mut p, &mut images, i, info, e)?;
        }
        (InspectionBody::Enforcement(e), DocumentKind::RectificationOrder) => {
            order(&mut p, &mut images, info, e)?
        }
        (_, DocumentKind::InspectionSheet) => sheet(&mut p, &mut images, i, info)?,
        _ => return Err(DocumentError::NotApplicable),
    }
    Ok(LaidOut {
        title: title.to_string(),
        pages: p.pages,
        images: images.loaded.into_iter().map(|(_, i)| i).collect(),
        footer_signature,
    })
}

fn pair(p: &mut Pager, a: &str, av: String, b: &str, bv: String) {
    p.row(&[label(a, 0.2), value(av, 0.3), label(b, 0.2), value(bv, 0.3)]);
}

fn one(p: &mut Pager, a: &str, av: impl Into<String>) {
    p.row(&[label(a, 0.2), value(av, 0.8)]);
}

fn or_none(s: &str) -> String {
    if s.trim().is_empty() { "无".into() } else { s.to_string() }
}

/// 现场检查（勘察）笔录
fn record(
    p: &mut Pager,
    images: &mut Images,
    i: &Inspection,
    info: &DocumentInfo,
    e: &EnforcementBody,
) -> Result<(), DocumentError> {
    one(p, "检查时间", format!("{} 至 {}", minute(e.started_at), minute(e.ended_at)));
    one(p, "检查地点", e.place.clone());
    one(p, "检查对象", format!("{}（{}）", info.site_name, info.place));
    pair(p, "被检查单位", e.party.name.clone(), "统一社会信用代码", e.party.uscc.clone());
    pair(p, "法定代表人", or_none(&e.party.legal_representative), "现场负责人", e.person_present.clone());
    let officers: Vec<String> =
        e.inspectors.iter().map(|o| format!("{}（执法证号：{}）", o.name, o.credential_no)).collect();
    one(p, "执法人员", officers.join("、"));
    pair(p, "记录人", e.recorder.clone(), "任务来源", e.task_source.label_zh().into());
    if let Some(pos) = &i.position {
        one(p, "现场位置", labels::position(pos));
    }
    one(
        p,
        "告知事项",
        "执法人员已出示执法证件，表明身份，告知被检查单位依法享有陈述、申辩的权利；如认为执法人员与本案有直接利害关系，可以申请回避。被检查单位应当如实回答询问，协助检查，不得拒绝、阻挠。",
    );
    if !e.checklist.is_empty() {
        p.row(&[label("序号", 0.08), label("检查内容", 0.42), label("检查结果", 0.16), label("说明", 0.34)]);
        for (n, c) in e.checklist.iter().enumerate() {
            p.row(&[
                value((n + 1).to_string(), 0.08),
                value(c.item.clone(), 0.42),
                value(c.result.label_zh(), 0.16),
                value(c.note.clone(), 0.34),
            ]);
        }
    }
    one(p, "检查情况", or_none(&e.findings));
    let violations = if e.violations.is_empty() {
        "现场检查未发现环境违法行为。".to_string()
    } else {
        e.violations.iter().enumerate().map(|(n, v)| format!("{}. {v}", n + 1)).collect::<Vec<_>>().join("\n")
    };
    one(p, "发现的问题", violations);
    if let Some(d) = e.rectification_deadline {
        one(
            p,
            "责令改正",
            format!("责令被检查单位于{}前改正上述环境违法行为，并书面报告整改情况。", date(d)),
        );
    }
    if !i.notes.trim().is_empty() {
        one(p, "备注", i.notes.clone());
    }
    p.gap(8.0);
    p.paragraph(
        10.5,
        FontId::Body,
        21.0,
        "以上笔录已交被检查单位现场负责人核对（或已向其宣读），经核对与现场情况一致。",
    );
    p.gap(6.0);
    let mut signers: Vec<(String, &Signature)> = vec![("被检查单位现场负责人".into(), &e.party_signature)];
    signers.extend(inspector_signers(e));
    if let Some(s) = &e.recorder_signature {
        signers.push(("记录人".into(), s));
    }
    if let Some(s) = &e.witness_signature {
        signers.push(("见证人".into(), s));
    }
    signatures(p, images, &signers)?;
    photos(p, images, i, info)?;
    Ok(())
}

/// Each inspector's signature, with the credential number as the role's second line.
fn inspector_signers(e: &EnforcementBody) -> impl Iterator<Item = (String, &Signature)> {
    e.inspector_signatures.iter().enumerate().map(|(n, s)| {
        let who = e
            .inspectors
            .get(n)
            .map(|o| format!("执法人员|执法证号 {}", o.credential_no))
            .unwrap_or("执法人员".into());
        (who, s)
    })
}

/// 责令改正违法行为决定书
fn order(
    p: &mut Pager,
    images: &mut Images,
    info: &DocumentInfo,
    e: &EnforcementBody,
) -> Result<(), DocumentError> {
    let size = 12.0;
    p.gap(6.0);
    p.paragraph(size, FontId::Body, 0.0, &format!("{}：", e.party.name));
    p.paragraph(size, FontId::Body, 0.0, &format!("统一社会信用代码：{}", e.party.uscc));
    if !e.party.legal_representative.trim().is_empty() {
        p.paragraph(
            size,
            FontId::Body,
            0.0,
            &format!("法定代表人（负责人）：{}", e.party.legal_representative),
        );
    }
    p.paragraph(size, FontId::Body, 0.0, &format!("地址：{}", e.place));
    p.gap(6.0);
    let officers: Vec<&str> = e.inspectors.iter().map(|o| o.name.as_str()).collect();
    p.paragraph(
        size,
        FontId::Body,
        2.0 * size,
        &format!(
            "我机关执法人员{}于{}对你单位进行了现场检查（现场检查笔录编号：{}），发现你单位存在以下环境违法行为：",
            officers.join("、"),
            minute(e.started_at),
            info.number(DocumentKind::InspectionRecord).map(|n| n.to_string()).unwrap_or("无".into()),
        ),
    );
    for (n, v) in e.violations.iter().enumerate() {
        p.paragraph(size, FontId::Body, 2.0 * size, &format!("{}. {v}", n + 1));
    }
    let deadline = e.rectification_deadline.map(date).unwrap_or_default();
    p.paragraph(
        size,
        FontId::Body,
        2.0 * size,
        &format!(
            "上述行为违反了生态环境保护法律法规的有关规定。依据《中华人民共和国环境保护法》及相关法律法规，我机关责令你单位于{deadline}前改正上述环境违法行为，并将整改情况书面报告我机关。"
        ),
    );
    p.paragraph(
        size,
        FontId::Body,
        2.0 * size,
        "如不服本决定，可在收到本决定书之日起六十日内依法申请行政复议，或者六个月内依法向人民法院提起行政诉讼。申请行政复议或者提起行政诉讼期间，本决定不停止执行。",
    );
    p.gap(18.0);
    p.ensure(3.0 * size * LINE);
    let authority =
        if info.authority.trim().is_empty() { "（作出决定的行政机关）" } else { &info.authority };
    p.right(size, FontId::Body, &format!("{authority}（印章）"));
    p.right(size, FontId::Body, &date(e.started_at.to_offset(shared::clock::BEIJING).date()));
    p.gap(10.0);
    let mut signers: Vec<(String, &Signature)> = Vec::new();
    signers.extend(inspector_signers(e));
    signers.push(("被送达人签收".into(), &e.party_signature));
    if let Some(s) = &e.witness_signature {
        signers.push(("见证人".into(), s));
    }
    signatures(p, images, &signers)?;
    Ok(())
}

/// 检查记录表
fn sheet(
    p: &mut Pager,
    images: &mut Images,
    i: &Inspection,
    info: &DocumentInfo,
) -> Result<(), DocumentError> {
    one(p, "检查对象", info.site_name.clone());
    one(p, "所在地", info.place.clone());
    pair(p, "检查时间", minute(i.device_time), "检查人员", info.inspector.clone());
    match &i.position {
        Some(pos) => one(p, "现场位置", labels::position(pos)),
        None => one(p, "现场位置", "未定位"),
    }
    match &i.body {
        InspectionBody::WaterBody(w) => {
            pair(p, "水体颜色", w.colour.label_zh().into(), "异味", w.odour.label_zh().into());
            let m =
                |v: Option<f64>, unit: &str| v.map(|v| format!("{} {unit}", num(v))).unwrap_or("未测".into());
            pair(p, "水深", m(w.water_depth_cm, "cm"), "透明度", m(w.transparency_cm, "cm"));
            pair(p, "溶解氧", m(w.dissolved_oxygen_mg_l, "mg/L"), "氧化还原电位", m(w.orp_mv, "mV"));
            pair(p, "氨氮", m(w.ammonia_n_mg_l, "mg/L"), "公众调查认为黑臭", m(w.public_survey_pct, "%"));
            one(p, "黑臭判定", BlackOdorousThresholds::default().judge(w).text_zh());
        }
        InspectionBody::SewageFacility(s) => {
            one(p, "运行状态", s.running_state.label_zh());
            one(p, "进水情况", or_none(&s.inlet_observation));
            one(p, "出水情况", or_none(&s.outlet_observation));
            if !s.readings.is_empty() {
                let limits = SewageLimits::default();
                p.row(&[label("指标", 0.4), label("读数", 0.3), label("是否超标", 0.3)]);
                for r in &s.readings {
                    let over = if limits.exceeds(r.indicator, r.value) { "超标" } else { "达标" };
                    p.row(&[
                        value(labels::indicator(r.indicator), 0.4),
                        value(num(r.value), 0.3),
                        value(over, 0.3),
                    ]);
                }
            }
        }
        InspectionBody::VillageRemediation(v) => {
            if !v.checklist.is_empty() {
                p.row(&[
                    label("序号", 0.08),
                    label("检查内容", 0.42),
                    label("检查结果", 0.16),
                    label("说明", 0.34),
                ]);
                for (n, c) in v.checklist.iter().enumerate() {
                    p.row(&[
                        value((n + 1).to_string(), 0.08),
                        value(c.item.clone(), 0.42),
                        value(c.result.label_zh(), 0.16),
                        value(c.note.clone(), 0.34),
                    ]);
                }
            }
            if let Some(t) = v.sewage_treated {
                one(p, "生活污水治理", if t { "已治理" } else { "未治理" });
            }
            one(p, "整治情况", or_none(&v.summary));
        }
        InspectionBody::Enforcement(_) => return Err(DocumentError::NotApplicable),
    }
    if let Some(s) = i.proposed_status {
        one(p, "建议状态", s.label_zh());
    }
    one(p, "备注", or_none(&i.notes));
    p.gap(10.0);
    p.ensure(30.0);
    p.paragraph(
        10.5,
        FontId::Body,
        0.0,
        &format!("检查人员：{}        记录日期：{}", info.inspector, minute(i.device_time)),
    );
    photos(p, images, i, info)
}

/// The signature block: role, the signature (or the refusal and its reason), the time. A role
/// may carry a second line after `|` (an inspector's credential number).
fn signatures(
    p: &mut Pager,
    images: &mut Images,
    signers: &[(String, &Signature)],
) -> Result<(), DocumentError> {
    const H: f32 = 46.0;
    p.ensure(signers.len().min(3) as f32 * H + 20.0);
    for (role, s) in signers {
        p.ensure(H);
        let top = p.y;
        let role_w = 0.3 * CONTENT_W;
        let (role, detail) = role.split_once('|').unwrap_or((role, ""));
        if detail.is_empty() {
            p.text(MARGIN_X, top + 26.0, 10.5, FontId::Label, &format!("{role}签名："));
        } else {
            p.text(MARGIN_X, top + 19.0, 10.5, FontId::Label, &format!("{role}签名："));
            p.text(MARGIN_X, top + 34.0, 9.0, FontId::Body, detail);
        }
        let x = MARGIN_X + role_w;
        match s {
            Signature::Signed { signer, blob, signed_at, .. } => {
                match blob {
                    Some(h) => {
                        let img = images.get(h)?;
                        p.frame(x, top + 2.0, 150.0, H - 6.0);
                        let (iw, ih) = image_size(images, img);
                        let (w, hh) = fit(iw, ih, 146.0, H - 10.0);
                        p.image(x + 2.0 + (146.0 - w) / 2.0, top + 4.0 + (H - 10.0 - hh) / 2.0, w, hh, img);
                    }
                    None => p.text(x, top + 26.0, 10.5, FontId::Body, "（未留签名图像）"),
                }
                let mut right = signer.clone();
                if let Some(t) = signed_at {
                    right = format!("{right}  {}", minute(*t));
                }
                p.text(x + 158.0, top + 26.0, 9.5, FontId::Body, &right);
            }
            Signature::Refused { reason } => {
                let lines = p.fonts.wrap(
                    FontId::Body,
                    &format!("拒绝签字。理由：{reason}"),
                    10.5,
                    CONTENT_W - role_w,
                );
                for (k, l) in lines.iter().take(2).enumerate() {
                    p.text(x, top + 20.0 + k as f32 * 15.0, 10.5, FontId::Body, l);
                }
            }
        }
        p.line(x, top + H - 2.0, MARGIN_X + CONTENT_W, top + H - 2.0, 0.3);
        p.y = top + H;
    }
    Ok(())
}

fn image_size(images: &Images, i: usize) -> (u32, u32) {
    images.loaded[i].1.size()
}

fn fit(w: u32, h: u32, max_w: f32, max_h: f32) -> (f32, f32) {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let s = (max_w / w).min(max_h / h);
    (w * s, h * s)
}

/// 附：现场照片, two to a row, each with what it proves and how, when, where and by whom it was
/// made (the watermark data).
fn photos(
    p: &mut Pager,
    images: &mut Images,
    i: &Inspection,
    info: &DocumentInfo,
) -> Result<(), DocumentError> {
    if i.photos.is_empty() {
        return Ok(());
    }
    const COL_W: f32 = (CONTENT_W - 14.0) / 2.0;
    const IMG_H: f32 = 170.0;
    const CAPTION: f32 = 9.0;
    p.ensure(IMG_H + 90.0);
    p.gap(12.0);
    p.text(MARGIN_X, p.y + 12.0, 12.0, FontId::Label, "附：现场照片");
    p.gap(22.0);
    for (row, pair) in i.photos.chunks(2).enumerate() {
        let captions: Vec<Vec<String>> = pair
            .iter()
            .enumerate()
            .map(|(k, ph)| {
                let n = row * 2 + k + 1;
                let mut lines = vec![format!(
                    "图{n}  证明内容：{}",
                    if ph.caption.trim().is_empty() { "现场情况" } else { ph.caption.trim() }
                )];
                if let Some(t) = ph.exif_time {
                    lines.push(format!("拍摄时间：{}", second(t)));
                }
                match (ph.exif_position, &i.position) {
                    (Some(pt), _) => lines.push(format!("拍摄位置：{:.6}，{:.6}", pt.lng(), pt.lat())),
                    (None, Some(pos)) => {
                        lines.push(format!("记录位置：{:.6}，{:.6}", pos.point.lng(), pos.point.lat()))
                    }
                    _ => {}
                }
                lines.push(format!(
                    "拍摄人：{}  文件 SHA-256：{}…",
                    info.inspector,
                    &ph.sha256[..16.min(ph.sha256.len())]
                ));
                lines.iter().flat_map(|l| p.fonts.wrap(FontId::Body, l, CAPTION, COL_W)).collect()
            })
            .collect();
        let cap_h = captions.iter().map(|c| c.len()).max().unwrap_or(0) as f32 * CAPTION * 1.35;
        p.ensure(IMG_H + cap_h + 12.0);
        let top = p.y;
        for (k, ph) in pair.iter().enumerate() {
            let x = MARGIN_X + k as f32 * (COL_W + 14.0);
            let img = images.get(&ph.sha256)?;
            let (iw, ih) = image_size(images, img);
            let (w, h) = fit(iw, ih, COL_W, IMG_H);
            p.frame(x, top, COL_W, IMG_H);
            p.image(x + (COL_W - w) / 2.0, top + (IMG_H - h) / 2.0, w, h, img);
            for (l, line) in captions[k].iter().enumerate() {
                p.text(
                    x,
                    top + IMG_H + 4.0 + CAPTION + l as f32 * CAPTION * 1.35,
                    CAPTION,
                    FontId::Body,
                    line,
                );
            }
        }
        p.y = top + IMG_H + cap_h + 14.0;
    }
    Ok(())
}
