//! Records made for documents: a full enforcement visit with drawn signatures and photos, and
//! the poppler tools that read a PDF back.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use image::{Rgba, RgbaImage};
use shared::documents::{
    DocumentInfo, DocumentKind, DocumentNumber, LAYOUT_VERSION, documents_for, signed_content_hash,
};
use shared::inspection::*;
use shared::{InspectionId, SiteId};
use time::macros::datetime;

use crate::photos::tablet_photo;

/// A handwritten-looking signature as the pad saves it: dark strokes on a transparent PNG.
/// `seed` varies the strokes so that each signer's image (and hash) differs.
pub fn signature_png(seed: u32) -> Vec<u8> {
    let (w, h) = (600u32, 200u32);
    let mut img = RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 0]));
    let ink = Rgba([20, 24, 60, 255]);
    let strokes = 3 + seed % 3;
    for s in 0..strokes {
        let x0 = 60.0 + s as f32 * 160.0;
        let phase = (seed * 7 + s * 13) as f32 * 0.37;
        for k in 0..400 {
            let t = k as f32 / 400.0;
            let x = x0 + t * 140.0;
            let y = 100.0 + 55.0 * (t * 9.0 + phase).sin() * (1.0 - t * 0.5) + 20.0 * (t * 23.0).cos();
            for dx in -3i32..=3 {
                for dy in -3i32..=3 {
                    if dx * dx + dy * dy <= 9 {
                        let (px, py) = (x as i32 + dx, y as i32 + dy);
                        if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                            img.put_pixel(px as u32, py as u32, ink);
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

/// Blobs by hash, as the device's store or the server's blob store hold them.
#[derive(Default)]
pub struct Blobs(pub HashMap<String, Vec<u8>>);

impl Blobs {
    pub fn add(&mut self, bytes: Vec<u8>) -> String {
        let h = crate::client::sha256_hex(&bytes);
        self.0.insert(h.clone(), bytes);
        h
    }
}

pub fn photo_ref(blobs: &mut Blobs, name: &str, caption: &str) -> PhotoRef {
    let jpeg = tablet_photo(name);
    let (w, h) = {
        let i = image::load_from_memory(&jpeg).expect("decodes");
        (i.width(), i.height())
    };
    let bytes = jpeg.len() as u64;
    let sha256 = blobs.add(jpeg);
    PhotoRef {
        sha256,
        bytes,
        width: w,
        height: h,
        exif_time: Some(datetime!(2026-11-20 01:35:12 UTC)),
        exif_position: Some(shared::geo::LngLat::new(114.871_234, 30.451_987)),
        original_sha256: None,
        caption: caption.into(),
    }
}

pub fn info(i: &Inspection, serial: u32) -> DocumentInfo {
    DocumentInfo {
        layout: LAYOUT_VERSION,
        numbers: documents_for(i)
            .into_iter()
            .map(|kind| DocumentNumber { kind, year: 2026, serial })
            .collect(),
        site_name: "鄂州市华容区某某化工有限公司".into(),
        place: "湖北省鄂州市华容区葛店镇".into(),
        inspector: "王五".into(),
        authority: "鄂州市生态环境局华容分局".into(),
        digests: Vec::new(),
    }
}

/// An enforcement visit as the law wants it: two inspectors, violations with a deadline, a long
/// account of what was found (the 笔录 runs over several pages), photos, and signatures by the
/// party, both inspectors, the recorder and a witness, each over the final content.
pub fn enforcement_record(blobs: &mut Blobs, photos: &[&str]) -> Inspection {
    let findings = "经现场检查，该公司主要从事精细化工产品生产，现场正在生产。\
        污水处理站调节池、生化池运行，在线监测设备正常联网。厂区东侧雨水排放口有浑浊废水外排，\
        经现场采样快速检测，化学需氧量明显偏高；雨水管网与生产废水管网存在混接。\
        危险废物贮存间未按规定设置标识，台账记录不完整，最近一次记录为上月十五日。"
        .repeat(4);
    let start = datetime!(2026-11-20 01:30 UTC);
    let mut i = Inspection {
        schema_version: 1,
        id: InspectionId::new(),
        version: 1,
        replaces_version: None,
        site_id: SiteId::new(),
        body: InspectionBody::Enforcement(Box::new(EnforcementBody {
            started_at: start,
            ended_at: start + time::Duration::minutes(95),
            place: "鄂州市华容区葛店经济技术开发区创业大道 18 号".into(),
            party: InspectedParty {
                name: "湖北某某精细化工有限公司".into(),
                uscc: format!("91420700MA49XY712{}", shared::uscc::check_char(b"91420700MA49XY712").unwrap()),
                legal_representative: "陈建国".into(),
            },
            person_present: "刘海波".into(),
            inspectors: vec![
                EnforcementOfficer { name: "王五".into(), credential_no: "42070019001".into() },
                EnforcementOfficer { name: "赵六".into(), credential_no: "42070019002".into() },
            ],
            recorder: "赵六".into(),
            task_source: TaskSource::SpecialCampaign,
            checklist: [
                ("环境影响评价及“三同时”执行情况", ChecklistResult::NoProblem, ""),
                ("排污许可证及执行报告", ChecklistResult::NoProblem, ""),
                ("污染防治设施运行情况", ChecklistResult::Problem, "雨污管网混接"),
                ("自动监测设备联网情况", ChecklistResult::NoProblem, ""),
                ("危险废物规范化管理", ChecklistResult::Problem, "贮存间无标识，台账不全"),
                ("突发环境事件应急预案", ChecklistResult::NotApplicable, "已备案，未抽查"),
            ]
            .into_iter()
            .map(|(item, result, note)| ChecklistItem { item: item.into(), result, note: note.into() })
            .collect(),
            findings,
            violations: vec![
                "通过雨水排放口排放生产废水，逃避监管".into(),
                "危险废物贮存场所未设置识别标志".into(),
            ],
            rectification_deadline: Some(time::macros::date!(2026 - 12 - 20)),
            party_signature: Signature::named("刘海波"),
            inspector_signatures: vec![Signature::named("王五"), Signature::named("赵六")],
            witness_signature: Some(Signature::named("孙七")),
            recorder_signature: Some(Signature::named("赵六")),
        })),
        position: Some(
            Position::new(shared::geo::LngLat::new(114.871_234, 30.451_987), PositionSource::Gps)
                .with_accuracy(Some(6.0)),
        ),
        device_time: start,
        photos: photos
            .iter()
            .enumerate()
            .map(|(n, p)| photo_ref(blobs, p, &format!("雨水排放口外排废水（第 {} 处）", n + 1)))
            .collect(),
        proposed_status: None,
        notes: String::new(),
        document: None,
    };
    i.document = Some(info(&i, 12));
    sign_all(blobs, &mut i);
    i
}

/// Every signer signs the content as it stands (the pad's images, the time, the content hash).
pub fn sign_all(blobs: &mut Blobs, i: &mut Inspection) {
    let covers = signed_content_hash(i);
    let InspectionBody::Enforcement(e) = &mut i.body else { return };
    for (n, s) in e.signatures_mut().into_iter().enumerate() {
        if let Signature::Signed { signer, .. } = s {
            let blob = blobs.add(signature_png(n as u32 + signer.chars().count() as u32 * 5));
            *s = Signature::Signed {
                signer: signer.clone(),
                blob: Some(blob),
                signed_at: Some(datetime!(2026-11-20 03:02 UTC) + time::Duration::minutes(n as i64)),
                covers: Some(covers.clone()),
            };
        }
    }
}

/// The kinds a record's documents are made in, for file names of artifacts.
pub fn artifact_name(kind: DocumentKind, what: &str) -> String {
    format!("document-{}-{what}", kind.as_str().replace('_', "-"))
}

/// Run a poppler tool on a PDF and return its standard output.
pub fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (poppler-utils)"));
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The page count `pdfinfo` reads.
pub fn page_count(pdf: &Path) -> usize {
    poppler("pdfinfo", &[], pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().expect("number")))
        .expect("Pages line")
}

/// Render page `n` (1-based) to `tests/artifacts/{name}.png` at 100 dpi; returns the path.
pub fn render_page(pdf: &Path, n: usize, name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    let stem = dir.join(name);
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "100", "-singlefile", "-f", &n.to_string(), "-l", &n.to_string()])
        .arg(pdf)
        .arg(&stem)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(status.success(), "pdftoppm failed on page {n}");
    stem.with_extension("png")
}
