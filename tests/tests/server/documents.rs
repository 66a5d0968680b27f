//! Document numbers handed out in blocks and used offline, and the server's documents equal to
//! the device's.

use std::collections::BTreeSet;

use qingliu_tests::ApiClient;
use qingliu_tests::documents::{Blobs, enforcement_record, info, sign_all};
use qingliu_tests::records::{self, batch, submit};
use shared::ErrorCode;
use shared::documents::{
    CHECK_HEADER, DocumentDigest, DocumentKind, DocumentNumber, NumberBlock, NumberBlockRequest,
    NumberBlockResponse, SHA256_HEADER,
};
use shared::ids::DeviceId;
use shared::inspection::Inspection;
use shared::sync::MutationOutcome;
use sync_server::domain::integrity::DocumentProblem;

use crate::{inspector, login, setup};

struct Tablet {
    client: ApiClient,
    device: DeviceId,
    seq: u64,
    blocks: Vec<NumberBlock>,
    /// Serials spent, as the app's store keeps them.
    used: BTreeSet<DocumentNumber>,
}

impl Tablet {
    async fn new(server: &qingliu_tests::TestServer, user: &str) -> Tablet {
        let (client, device) = inspector(server, user).await;
        Tablet { client, device, seq: 0, blocks: Vec::new(), used: BTreeSet::new() }
    }

    /// While online: one more block of each kind.
    async fn take_blocks(&mut self, size: u32) {
        let req = NumberBlockRequest {
            device_id: self.device,
            year: 2026,
            kinds: DocumentKind::ALL.to_vec(),
            size,
        };
        let resp: NumberBlockResponse = self
            .client
            .send_json(reqwest::Method::POST, "/api/v1/documents/number-blocks", &req)
            .await
            .expect("blocks");
        self.blocks = resp.blocks;
    }

    /// Offline: the next unused number of a kind.
    fn next_number(&mut self, kind: DocumentKind) -> DocumentNumber {
        let n = self
            .blocks
            .iter()
            .filter(|b| b.kind == kind)
            .flat_map(|b| (b.first..=b.last).map(move |serial| DocumentNumber { kind, year: b.year, serial }))
            .find(|n| !self.used.contains(n))
            .expect("a number left");
        self.used.insert(n);
        n
    }

    /// A record with numbers of its own, signed by everyone over its final content.
    fn make(&mut self, blobs: &mut Blobs, mut i: Inspection) -> Inspection {
        let mut doc = info(&i, 1);
        doc.numbers = shared::documents::documents_for(&i).into_iter().map(|k| self.next_number(k)).collect();
        i.document = Some(doc);
        sign_all(blobs, &mut i);
        i
    }

    async fn upload_all(&self, blobs: &Blobs, i: &Inspection) {
        for h in i.blob_hashes() {
            self.client.upload(&blobs.0[&h], 1 << 20).await.expect("upload");
        }
    }

    async fn send(&mut self, i: &Inspection) -> MutationOutcome {
        self.seq += 1;
        let resp = self.client.push(&batch(self.device, vec![submit(self.seq, i)])).await.expect("push");
        let outcome = resp.results[0].outcome.clone();
        if !outcome.consumes_seq() {
            self.seq -= 1;
        }
        outcome
    }
}

fn refused_code(o: &MutationOutcome) -> Option<ErrorCode> {
    match o {
        MutationOutcome::Rejected { error } => Some(error.code),
        _ => None,
    }
}

#[tokio::test]
async fn numbers_come_in_blocks_per_device_and_no_number_is_used_twice_across_tablets() {
    let (server, fx) = setup().await;
    let mut a1 = Tablet::new(&server, "inspector_a").await;
    let mut a2 = Tablet::new(&server, "inspector_a").await;
    let mut b = Tablet::new(&server, "inspector_b").await;
    for t in [&mut a1, &mut a2, &mut b] {
        t.take_blocks(3).await;
    }
    // Blocks never overlap, whoever holds them.
    let mut all: Vec<&NumberBlock> = a1.blocks.iter().chain(&a2.blocks).chain(&b.blocks).collect();
    all.sort_by_key(|b| (b.kind, b.first));
    for w in all.windows(2) {
        if w[0].kind == w[1].kind {
            assert!(w[0].last < w[1].first, "{:?} and {:?} overlap", w[0], w[1]);
        }
    }
    // Online again, each takes a second block; then offline, each makes more records than one
    // block holds, and syncs later.
    for t in [&mut a1, &mut a2, &mut b] {
        t.take_blocks(3).await;
    }
    let mut blobs = Blobs::default();
    let enterprise = fx.site("enterprise1").id;
    let mut made = Vec::new();
    for t in [&mut a1, &mut a2] {
        for _ in 0..4 {
            let mut i = enforcement_record(&mut Blobs::default(), &[]);
            i.site_id = enterprise;
            i.document = None;
            made.push((t.device, t.make(&mut blobs, i)));
        }
    }
    for _ in 0..3 {
        let i = records::water_body(fx.site("water2").id, vec![], None);
        made.push((b.device, b.make(&mut blobs, i)));
    }
    let mut numbers = BTreeSet::new();
    for (device, i) in &made {
        let t = [&mut a1, &mut a2, &mut b].into_iter().find(|t| t.device == *device).unwrap();
        t.upload_all(&blobs, i).await;
        let outcome = t.send(i).await;
        assert!(matches!(outcome, MutationOutcome::Applied { .. }), "{outcome:?}");
        for n in &i.document.as_ref().unwrap().numbers {
            assert!(numbers.insert(*n), "{n} used twice");
        }
    }
    assert_eq!(numbers.len(), 8 * 2 + 3);

    // A number from another tablet's block, or one already used, is refused and says which.
    let mut stolen = enforcement_record(&mut Blobs::default(), &[]);
    stolen.site_id = enterprise;
    stolen.document = None;
    let mut stolen = a2.make(&mut blobs, stolen);
    let a1_number = a1.next_number(DocumentKind::InspectionRecord);
    stolen.document.as_mut().unwrap().numbers[0] = a1_number;
    sign_all(&mut blobs, &mut stolen);
    a2.upload_all(&blobs, &stolen).await;
    let outcome = a2.send(&stolen).await;
    assert_eq!(refused_code(&outcome), Some(ErrorCode::DocumentNumberInvalid), "{outcome:?}");
    let mut reused = stolen.clone();
    reused.id = shared::InspectionId::new();
    reused.document.as_mut().unwrap().numbers = made[0].1.document.as_ref().unwrap().numbers.clone();
    sign_all(&mut blobs, &mut reused);
    let outcome = a1.send(&reused).await;
    let MutationOutcome::Rejected { error } = &outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, ErrorCode::DocumentNumberInvalid);
    assert!(error.fields.iter().any(|f| f.message.contains("已被另一条记录使用")), "{error:?}");

    // A corrected version keeps its numbers.
    let reviewer = login(&server, "reviewer_1").await;
    let first = &made[0].1;
    reviewer
        .review(first.id, 1, shared::review::ReviewDecision::Return, "请补充现场照片说明")
        .await
        .expect("return");
    let mut v2 = records::next_version(first);
    sign_all(&mut blobs, &mut v2);
    let outcome = a1.send(&v2).await;
    assert!(matches!(outcome, MutationOutcome::Applied { .. }), "{outcome:?}");

    // Every hand-out and every use is in the audit log.
    let store = server.state.store.as_ref();
    let mut tx = store.read().unwrap();
    let audit = tx.audit_page(0, 10_000).unwrap();
    let count = |action: &str| audit.iter().filter(|(_, a, _)| a.action == action).count();
    assert_eq!(count("document_numbers_issued"), 2 * 3 * 3);
    assert_eq!(count("document_number_used"), numbers.len(), "each number once, the resubmission adds none");
}

#[tokio::test]
async fn the_server_makes_the_same_pdf_as_the_device_and_keeps_it_in_scope() {
    let (server, fx) = setup().await;
    let mut a = Tablet::new(&server, "inspector_a").await;
    a.take_blocks(5).await;
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &["coolpix-gps-small.jpg", "nokia83-gps-9mp.jpg"]);
    i.site_id = fx.site("enterprise1").id;
    i.document = None;
    let mut i = a.make(&mut blobs, i);
    let info = i.document.clone().unwrap();
    let on_device = qingliu_documents::render(DocumentKind::InspectionRecord, &i, &info, &blobs.0).unwrap();
    // The device signs the 笔录's digest with the version; the order's digest is not the order
    // the server makes (as after a layout change), which the server must notice, not hide.
    let foreign = "0".repeat(64);
    i.document.as_mut().unwrap().digests = vec![
        DocumentDigest {
            kind: DocumentKind::InspectionRecord,
            sha256: qingliu_tests::client::sha256_hex(&on_device),
        },
        DocumentDigest { kind: DocumentKind::RectificationOrder, sha256: foreign.clone() },
    ];
    a.upload_all(&blobs, &i).await;
    assert!(matches!(a.send(&i).await, MutationOutcome::Applied { .. }));

    let reviewer = login(&server, "reviewer_1").await;
    let path = |kind: &str| format!("/api/v1/inspections/{}/versions/1/documents/{kind}", i.id);
    let (status, headers, body) = reviewer.get_bytes(&path("inspection_record")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert!(
        body == on_device,
        "the server's PDF differs from the device's ({} vs {} bytes)",
        body.len(),
        on_device.len()
    );
    assert_eq!(headers[CHECK_HEADER], "matches");
    assert_eq!(headers[SHA256_HEADER].to_str().unwrap(), qingliu_tests::client::sha256_hex(&body));
    let (status, headers, order) = reviewer.get_bytes(&path("rectification_order")).await;
    assert_eq!(status, 200);
    assert_eq!(
        order,
        qingliu_documents::render(DocumentKind::RectificationOrder, &i, &info, &blobs.0).unwrap()
    );
    assert_eq!(headers[CHECK_HEADER], "differs", "the order made now is not the one signed");
    // `sync-server verify --documents` finds the same, and only that.
    let report = sync_server::domain::integrity::verify_documents(
        server.state.store.as_ref(),
        server.state.blobs.as_ref(),
    )
    .unwrap();
    assert_eq!(report.checked, 2);
    assert_eq!(
        report.problems,
        vec![DocumentProblem::Differs {
            record: i.id.to_string(),
            version: 1,
            kind: "rectification_order",
            signed: foreign,
            made: qingliu_tests::client::sha256_hex(&order),
        }]
    );
    // A sheet is not among this record's documents; an unknown kind is a bad path.
    assert_eq!(reviewer.get_bytes(&path("inspection_sheet")).await.0, 404);
    assert_eq!(reviewer.get_bytes(&path("whatever")).await.0, 400);
    // Another township's reviewer cannot tell the record exists.
    let other = login(&server, "reviewer_2").await;
    assert_eq!(other.get_bytes(&path("inspection_record")).await.0, 404);
}

// ---- The field app's core: numbers, signatures and documents offline ----

use qingliu_app::sync as app_sync;
use qingliu_tests::documents::signature_png;
use shared::app::LocalState;
use shared::inspection::{InspectionBody, Signature, SignerRole};

/// An enforcement draft on the device, its documents prepared and signed by everyone the law
/// wants (the party refusing when `refuses`), as an inspector does on site with no signal.
fn sign_on_site(core: &qingliu_app::AppCore, site: shared::SiteId, refuses: bool) -> Inspection {
    let mut i = enforcement_record(&mut Blobs::default(), &[]);
    i.site_id = site;
    i.document = None;
    if let InspectionBody::Enforcement(e) = &mut i.body {
        for s in e.signatures_mut() {
            *s = Signature::named(match s {
                Signature::Signed { signer, .. } => signer.clone(),
                Signature::Refused { .. } => String::new(),
            });
        }
    }
    core.save_draft(&i).unwrap();
    let prepared = core.prepare_documents(&i.id).unwrap();
    assert_eq!(prepared.document.as_ref().unwrap().numbers.len(), 2, "a 笔录 and an order");
    let roles: Vec<(SignerRole, &str)> = vec![
        (SignerRole::Inspector(0), "王五"),
        (SignerRole::Inspector(1), "赵六"),
        (SignerRole::Recorder, "赵六"),
        (SignerRole::Witness, "孙七"),
    ];
    for (n, (role, who)) in roles.iter().enumerate() {
        core.sign_record(&i.id, *role, who, &signature_png(n as u32 * 3 + 1)).unwrap();
    }
    if refuses {
        core.refuse_signature(&i.id, "当事人称需请示上级，拒绝签字").unwrap();
    } else {
        core.sign_record(&i.id, SignerRole::Party, "刘海波", &signature_png(17)).unwrap();
    }
    core.inspection(&i.id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tablets_make_signed_documents_offline_and_the_server_holds_the_same_pdfs() {
    let (server, fx) = setup().await;
    let (_d1, core1, client1) = qingliu_tests::tablet(&server.base, "inspector_a").await;
    let (_d2, core2, client2) = qingliu_tests::tablet(&server.base, "inspector_a").await;
    // The first sync took a block of each kind while online.
    for core in [&core1, &core2] {
        assert!(core.numbers_left().unwrap().iter().all(|(_, n)| *n == qingliu_app::documents::BLOCK_SIZE));
    }
    let site = fx.site("enterprise1").id;

    // Offline on both tablets.
    let mut made = Vec::new();
    for (core, refuses) in [(&core1, false), (&core1, true), (&core2, false), (&core2, false)] {
        let i = sign_on_site(core, site, refuses);
        assert_eq!(shared::validate::validate_inspection(&i, None), vec![], "signed as the law wants");
        // Editing after signing clears the signatures and says so.
        let mut edited = i.clone();
        if let InspectionBody::Enforcement(e) = &mut edited.body {
            e.findings.push_str("（补记）");
        }
        let (_, errors) = core.save_draft(&edited).unwrap();
        assert_eq!(errors[0].code, ErrorCode::SignatureStale, "{errors:?}");
        let cleared = core.inspection(&i.id).unwrap();
        let InspectionBody::Enforcement(e) = &cleared.body else { unreachable!() };
        assert!(!e.has_signatures(), "signatures cleared");
        assert_eq!(cleared.document, i.document, "the numbers stay with the record");
        // Put back as signed (what the inspector does: sign again over the final text).
        core.save_draft(&i).unwrap();
        let (path, pdf) = core.document(&i.id, DocumentKind::InspectionRecord).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), pdf, "the PDF is kept with the record");
        core.submit(&i.id).unwrap();
        // Submitting pinned each document: its digest is in the version the device signed.
        let sealed = core.inspection(&i.id).unwrap();
        let digests = &sealed.document.as_ref().unwrap().digests;
        assert_eq!(digests.len(), 2, "{digests:?}");
        assert_eq!(
            sealed.document.as_ref().unwrap().digest(DocumentKind::InspectionRecord),
            Some(&*qingliu_tests::client::sha256_hex(&pdf))
        );
        assert_eq!(
            shared::documents::stale_signatures(&sealed),
            Vec::<usize>::new(),
            "sealing is not an edit"
        );
        made.push((core, sealed, pdf));
    }
    let mut numbers = BTreeSet::new();
    for (_, i, _) in &made {
        for n in &i.document.as_ref().unwrap().numbers {
            assert!(numbers.insert(*n), "{n} used twice across the tablets");
        }
    }

    // Later both sync; the server holds each version and makes the same document of it.
    for (core, client) in [(&core1, &client1), (&core2, &client2)] {
        app_sync::sync_once(core, client, &mut |_| {}).await.unwrap();
    }
    let reviewer = login(&server, "reviewer_1").await;
    for (core, i, pdf) in &made {
        assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
        let (status, headers, body) = reviewer
            .get_bytes(&format!("/api/v1/inspections/{}/versions/1/documents/inspection_record", i.id))
            .await;
        assert_eq!(status, 200);
        assert!(&body == pdf, "server and device documents differ for {}", i.id);
        assert_eq!(headers[CHECK_HEADER], "matches");
    }
    let report = sync_server::domain::integrity::verify_documents(
        server.state.store.as_ref(),
        server.state.blobs.as_ref(),
    )
    .unwrap();
    assert_eq!((report.checked, report.problems), (8, vec![]), "4 records, a 笔录 and an order each");
}

#[tokio::test]
async fn the_archive_of_a_filtered_list_holds_each_records_documents_as_the_device_made_them() {
    let (server, fx) = setup().await;
    let mut a = Tablet::new(&server, "inspector_a").await;
    a.take_blocks(5).await;
    let mut blobs = Blobs::default();
    let mut made = Vec::new();
    for _ in 0..2 {
        let mut i = enforcement_record(&mut Blobs::default(), &[]);
        i.site_id = fx.site("enterprise1").id;
        i.document = None;
        let i = a.make(&mut blobs, i);
        a.upload_all(&blobs, &i).await;
        assert!(matches!(a.send(&i).await, MutationOutcome::Applied { .. }));
        made.push(i);
    }
    let reviewer = login(&server, "reviewer_1").await;
    let (status, headers, body) = reviewer.get_bytes("/api/v1/documents/archive.zip?kind=enforcement").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).expect("a zip");
    assert_eq!(zip.len(), 4, "a 笔录 and an order per record");
    for i in &made {
        let info = i.document.clone().unwrap();
        for kind in shared::documents::documents_for(i) {
            let name = qingliu_documents::file_name(kind, &info, i);
            let mut entry = zip.by_name(&name).unwrap_or_else(|_| panic!("{name} missing"));
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            assert!(bytes == qingliu_documents::render(kind, i, &info, &blobs.0).unwrap(), "{name} differs");
        }
    }
    // Inspectors have no queue, so no archive; another township's reviewer gets an empty one.
    let (status, _, _) = a.client.get_bytes("/api/v1/documents/archive.zip").await;
    assert_eq!(status, 403);
    let other = login(&server, "reviewer_2").await;
    let (_, _, body) = other.get_bytes("/api/v1/documents/archive.zip?kind=enforcement").await;
    assert_eq!(zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap().len(), 0);
}
