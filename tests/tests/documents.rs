//! The official documents read back the way a person or an archive would: the text with
//! pdftotext, the fonts with pdffonts, each page rendered with pdftoppm (page 1 of every
//! document goes to tests/artifacts/ to be looked at).

use qingliu_documents::{DocumentError, render, uncovered_chars};
use qingliu_tests::documents::*;
use shared::documents::{DocumentKind, documents_for};
use shared::inspection::*;

/// Text with every whitespace removed: lines wrap anywhere in Chinese text.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

struct Pdf {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    text: String,
    pages: usize,
}

fn write(bytes: &[u8]) -> Pdf {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    // pdftotext writes to a file unless told "-".
    let out = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let pages = page_count(&path);
    Pdf { _dir: dir, path, text, pages }
}

/// Every font embedded, as a subset (the `XXXXXX+` name and `sub` = yes).
fn assert_fonts_are_embedded_subsets(pdf: &Pdf) {
    let fonts = poppler("pdffonts", &[], &pdf.path);
    let rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!rows.is_empty(), "no fonts listed:\n{fonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type [type…] encoding emb sub uni object ID
        let n = cols.len();
        let (emb, sub) = (cols[n - 5], cols[n - 4]);
        assert!(cols[0].len() > 7 && cols[0].as_bytes()[6] == b'+', "not a subset name: {row}");
        assert_eq!((emb, sub), ("yes", "yes"), "font not embedded as a subset: {row}");
    }
}

#[test]
fn the_on_site_record_holds_every_field_its_number_the_page_count_and_every_signer() {
    let mut blobs = Blobs::default();
    let i = enforcement_record(
        &mut blobs,
        &["iphone6-gps-8mp.jpg", "nokia83-gps-9mp.jpg", "coolpix-gps-small.jpg"],
    );
    let info = i.document.clone().unwrap();
    let bytes = render(DocumentKind::InspectionRecord, &i, &info, &blobs.0).unwrap();
    let pdf = write(&bytes);
    let text = squash(&pdf.text);
    let InspectionBody::Enforcement(e) = &i.body else { unreachable!() };
    assert!(pdf.pages >= 3, "a long record with photos runs over pages: {}", pdf.pages);
    let mut want: Vec<String> = vec![
        "现场检查（勘察）笔录".into(),
        "文书编号：鄂环现检〔2026〕00012号".into(),
        "2026年11月20日09时30分至2026年11月20日11时05分".into(),
        e.place.clone(),
        e.party.name.clone(),
        e.party.uscc.clone(),
        e.party.legal_representative.clone(),
        e.person_present.clone(),
        "专项检查".into(),
        info.site_name.clone(),
        info.place.clone(),
        "东经114.871234°，北纬30.451987°".into(),
        "责令被检查单位于2026年12月20日前改正".into(),
    ];
    for o in &e.inspectors {
        want.push(format!("{}（执法证号：{}）", o.name, o.credential_no));
    }
    for c in &e.checklist {
        want.push(c.item.clone());
        want.push(c.note.clone());
    }
    want.extend(["发现问题", "未发现问题", "不适用"].map(String::from));
    want.extend(e.violations.iter().cloned());
    // The whole account, not just its beginning.
    want.push(e.findings.chars().take(60).collect());
    want.push(e.findings.chars().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect());
    for p in &i.photos {
        want.push(p.caption.clone());
        want.push(p.sha256[..16].to_string());
    }
    want.push("拍摄时间：2026年11月20日09时35分12秒".into());
    for w in &want {
        assert!(text.contains(&squash(w)), "the 笔录 lacks {w:?}");
    }
    // Each signer's role, with the signer's name and time.
    for role in ["被检查单位现场负责人签名", "记录人签名", "见证人签名"] {
        assert!(text.contains(role), "no place for {role}");
    }
    assert_eq!(text.matches("执法人员签名：").count(), 2, "each inspector signs");
    for o in &e.inspectors {
        assert!(
            text.contains(&format!("执法证号{}", o.credential_no)),
            "the signer's credential is beside the signature"
        );
    }
    assert!(text.contains("孙七2026年11月20日11时06分"), "the witness's name and time");
    // Page numbers, and the party's signature at the foot of every page.
    for n in 1..=pdf.pages {
        assert!(text.contains(&format!("第{n}页共{}页", pdf.pages)), "page {n} is not numbered");
    }
    assert_eq!(text.matches("被检查人签名：").count(), pdf.pages, "the party signs every page");
    assert_fonts_are_embedded_subsets(&pdf);
    for n in 1..=pdf.pages {
        let png = render_page(&pdf.path, n, &artifact_name(DocumentKind::InspectionRecord, &format!("p{n}")));
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "page {n} renders");
    }
}

#[test]
fn a_refusal_keeps_its_reason_and_the_witness_signs() {
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &[]);
    let InspectionBody::Enforcement(e) = &mut i.body else { unreachable!() };
    e.party_signature = Signature::Refused { reason: "负责人称须请示总经理，拒绝签字".into() };
    sign_all(&mut blobs, &mut i);
    assert_eq!(shared::validate::validate_inspection(&i, None), vec![]);
    let info = i.document.clone().unwrap();
    let pdf = write(&render(DocumentKind::InspectionRecord, &i, &info, &blobs.0).unwrap());
    let text = squash(&pdf.text);
    assert!(text.contains("拒绝签字。理由：负责人称须请示总经理，拒绝签字"));
    assert!(text.contains("见证人签名"));
    assert_eq!(
        text.matches("拒绝签字（理由见签名栏）").count(),
        pdf.pages,
        "every page says the party refused"
    );

    // Without a witness the refusal is not enough.
    let InspectionBody::Enforcement(e) = &mut i.body else { unreachable!() };
    e.witness_signature = None;
    let errs = shared::validate::validate_inspection(&i, None);
    assert!(errs.iter().any(|f| f.field == "body.witness_signature"), "{errs:?}");
}

#[test]
fn the_rectification_order_names_the_party_the_violations_and_the_deadline() {
    let mut blobs = Blobs::default();
    let i = enforcement_record(&mut blobs, &[]);
    assert_eq!(documents_for(&i), vec![DocumentKind::InspectionRecord, DocumentKind::RectificationOrder]);
    let info = i.document.clone().unwrap();
    let pdf = write(&render(DocumentKind::RectificationOrder, &i, &info, &blobs.0).unwrap());
    let text = squash(&pdf.text);
    let InspectionBody::Enforcement(e) = &i.body else { unreachable!() };
    for w in [
        "责令改正违法行为决定书",
        "文书编号：鄂环责改〔2026〕00012号",
        &format!("{}：", e.party.name),
        &e.party.uscc,
        "现场检查笔录编号：鄂环现检〔2026〕00012号",
        "2026年12月20日前改正上述环境违法行为",
        "六十日内依法申请行政复议",
        &info.authority,
        "被送达人签收签名",
    ] {
        assert!(text.contains(&squash(w)), "the order lacks {w:?}");
    }
    for v in &e.violations {
        assert!(text.contains(&squash(v)));
    }
    assert!(text.contains(&format!("第1页共{}页", pdf.pages)));
    assert_fonts_are_embedded_subsets(&pdf);
    render_page(&pdf.path, 1, &artifact_name(DocumentKind::RectificationOrder, "p1"));

    // No violations, no order.
    let mut clean = i.clone();
    let InspectionBody::Enforcement(e) = &mut clean.body else { unreachable!() };
    e.violations.clear();
    e.rectification_deadline = None;
    assert_eq!(
        render(DocumentKind::RectificationOrder, &clean, &info, &blobs.0),
        Err(DocumentError::NotApplicable)
    );
}

#[test]
fn each_other_kind_gets_an_inspection_sheet_with_its_fields_and_judgement() {
    let mut blobs = Blobs::default();
    let base = {
        let mut i = qingliu_tests::records::water_body(shared::SiteId::new(), vec![], None);
        i.body = InspectionBody::WaterBody(WaterBodyBody {
            colour: ColourGrade::Dark,
            odour: OdourGrade::Noticeable,
            water_depth_cm: Some(80.0),
            transparency_cm: Some(20.0),
            dissolved_oxygen_mg_l: Some(1.5),
            orp_mv: None,
            ammonia_n_mg_l: None,
            public_survey_pct: None,
        });
        i.position = Some(
            Position::new(shared::geo::LngLat::new(114.3, 30.6), PositionSource::Gps)
                .with_accuracy(Some(8.0)),
        );
        i.device_time = time::macros::datetime!(2026-11-20 01:30 UTC);
        i.photos = vec![photo_ref(&mut blobs, "same-spot-21s-a.jpg", "塘口全景，水体发黑")];
        i.notes = "村民反映夏季异味明显".into();
        i
    };
    let sewage = {
        let mut i = base.clone();
        i.body = InspectionBody::SewageFacility(SewageFacilityBody {
            running_state: FacilityRunningState::Faulty,
            inlet_observation: "进水量偏小".into(),
            outlet_observation: "出水浑浊".into(),
            readings: vec![
                Reading { indicator: SewageIndicator::Cod, value: 180.0 },
                Reading { indicator: SewageIndicator::Ph, value: 7.2 },
            ],
        });
        i
    };
    let village = {
        let mut i = base.clone();
        i.body = InspectionBody::VillageRemediation(VillageRemediationBody {
            checklist: vec![ChecklistItem {
                item: "生活垃圾收运".into(),
                result: ChecklistResult::Problem,
                note: "村口堆放点未及时清运".into(),
            }],
            sewage_treated: Some(true),
            summary: "村庄整体整洁，污水管网已接入".into(),
        });
        i
    };
    let cases: Vec<(Inspection, &str, Vec<&str>)> = vec![
        (
            base,
            "water",
            vec!["农村黑臭水体现场检查记录表", "发黑", "明显", "20cm", "1.5mg/L", "轻度黑臭", "透明度"],
        ),
        (
            sewage,
            "sewage",
            vec![
                "农村生活污水处理设施检查记录表",
                "故障",
                "进水量偏小",
                "出水浑浊",
                "化学需氧量",
                "180",
                "7.2",
            ],
        ),
        (
            village,
            "village",
            vec![
                "行政村环境整治检查记录表",
                "生活垃圾收运",
                "村口堆放点未及时清运",
                "已治理",
                "污水管网已接入",
            ],
        ),
    ];
    for (mut i, name, want) in cases {
        i.document = Some(info(&i, 7));
        assert_eq!(documents_for(&i), vec![DocumentKind::InspectionSheet]);
        let info = i.document.clone().unwrap();
        let pdf = write(&render(DocumentKind::InspectionSheet, &i, &info, &blobs.0).unwrap());
        let text = squash(&pdf.text);
        for w in want.iter().chain(&[
            "文书编号：鄂环检表〔2026〕00007号",
            "检查人员王五",
            "2026年11月20日09时30分",
            "东经114.300000°，北纬30.600000°",
            "塘口全景，水体发黑",
            "村民反映夏季异味明显",
            "湖北省鄂州市华容区葛店镇",
        ]) {
            assert!(text.contains(&squash(w)), "the {name} sheet lacks {w:?}");
        }
        assert_fonts_are_embedded_subsets(&pdf);
        render_page(&pdf.path, 1, &artifact_name(DocumentKind::InspectionSheet, name));
    }
}

#[test]
fn the_same_version_gives_the_same_bytes_and_a_missing_blob_is_named() {
    let mut blobs = Blobs::default();
    let i = enforcement_record(&mut blobs, &["coolpix-gps-small.jpg"]);
    let info = i.document.clone().unwrap();
    let a = render(DocumentKind::InspectionRecord, &i, &info, &blobs.0).unwrap();
    let b = render(DocumentKind::InspectionRecord, &i, &info, &blobs.0).unwrap();
    assert!(a == b, "two renderings of one version differ");
    let mut other = i.clone();
    other.notes = "补充：企业已当场停止外排".into();
    assert_ne!(render(DocumentKind::InspectionRecord, &other, &info, &blobs.0).unwrap(), a);

    let photo = i.photos[0].sha256.clone();
    let mut missing = blobs.0.clone();
    missing.remove(&photo);
    assert_eq!(
        render(DocumentKind::InspectionRecord, &i, &info, &missing),
        Err(DocumentError::MissingBlob(photo))
    );
}

#[test]
fn editing_after_signing_makes_the_signatures_stale_and_clearing_says_so() {
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &[]);
    assert_eq!(shared::validate::validate_inspection(&i, None), vec![]);
    // Saving again (a new device time, a new version number) changes nothing that was signed.
    let mut resaved = i.clone();
    resaved.device_time += time::Duration::minutes(3);
    assert_eq!(shared::validate::validate_inspection(&resaved, None), vec![]);
    // Changing what the document prints does.
    let InspectionBody::Enforcement(e) = &mut i.body else { unreachable!() };
    e.findings.push_str("另查明该公司未按要求开展自行监测。");
    let errs = shared::validate::validate_inspection(&i, None);
    let stale: Vec<_> = errs
        .iter()
        .filter(|f| f.code == shared::ErrorCode::SignatureStale)
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(
        stale,
        [
            "body.party_signature",
            "body.inspector_signatures[0]",
            "body.inspector_signatures[1]",
            "body.recorder_signature",
            "body.witness_signature"
        ]
    );
    assert!(shared::documents::clear_signatures(&mut i));
    assert!(!shared::documents::clear_signatures(&mut i), "nothing left to clear");
    let errs = shared::validate::validate_inspection(&i, None);
    assert!(errs.iter().all(|f| f.code != shared::ErrorCode::SignatureStale));
    assert!(errs.iter().any(|f| f.field == "body.party_signature" && f.code == shared::ErrorCode::Required));
}

#[test]
fn characters_the_font_lacks_are_reported_before_signing() {
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &[]);
    let info = i.document.clone().unwrap();
    assert_eq!(uncovered_chars(&i, &info), Vec::<char>::new());
    let InspectionBody::Enforcement(e) = &mut i.body else { unreachable!() };
    // 堃 and 喆 are common in names but outside GB 2312.
    e.person_present = "刘堃".into();
    e.recorder = "王喆".into();
    assert_eq!(uncovered_chars(&i, &info), vec!['喆', '堃']);
}
