//! Document numbers (文书编号): blocks handed to devices while online, and the check that a
//! pushed record uses only numbers of its own device that no other record holds. The
//! documents themselves are made by `qingliu-documents` (the console's download and archive).

use shared::ErrorCode;
use shared::auth::Role;
use shared::documents::{MAX_BLOCK_SIZE, NumberBlockRequest, NumberBlockResponse};
use shared::error::{ApiError, FieldError};
use shared::ids::DeviceId;
use shared::inspection::Inspection;
use time::OffsetDateTime;

use crate::domain::Actor;
use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, Store, StoreResult, Tx};

/// Blocks beyond this many unused ones per kind are not handed out (a device asking in a loop
/// cannot drain the series).
pub const MAX_OPEN_BLOCKS: usize = 4;

/// Hand the caller's device one block of each kind asked for, unless it already holds
/// [`MAX_OPEN_BLOCKS`] blocks of that kind and year. Answers every block the device holds.
pub fn issue_blocks(
    store: &dyn Store,
    actor: &Actor,
    req: &NumberBlockRequest,
    now: OffsetDateTime,
) -> AppResult<NumberBlockResponse> {
    if actor.user.role != Role::Inspector {
        return Err(AppError::api(ErrorCode::Forbidden, "只有检查员的设备可以领取文书编号"));
    }
    let this_year = now.to_offset(shared::clock::BEIJING).year();
    if !(this_year - 1..=this_year + 1).contains(&req.year) {
        return Err(AppError::field(ErrorCode::OutOfRange, "year", "只能领取本年度前后一年的文书编号"));
    }
    if req.size == 0 || req.size > MAX_BLOCK_SIZE {
        return Err(AppError::field(
            ErrorCode::OutOfRange,
            "size",
            &format!("每段编号 1–{MAX_BLOCK_SIZE} 个"),
        ));
    }
    if req.kinds.is_empty() || req.kinds.len() > shared::documents::DocumentKind::ALL.len() {
        return Err(AppError::field(ErrorCode::InvalidValue, "kinds", "请指明文书种类"));
    }
    let device_id = &req.device_id;
    let mut tx = store.write()?;
    let device = tx
        .device(device_id)?
        .ok_or_else(|| AppError::api(ErrorCode::DeviceNotRegistered, "设备未登记，请先登记设备"))?;
    if device.user_id != actor.user.id {
        return Err(AppError::api(ErrorCode::DeviceOwnedByOtherUser, "该设备已登记给其他用户"));
    }
    let held = tx.number_blocks(device_id)?;
    let mut kinds = req.kinds.clone();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let open = held.iter().filter(|b| b.kind == kind && b.year == req.year).count();
        if open >= MAX_OPEN_BLOCKS {
            continue;
        }
        let block = tx.issue_number_block(kind, req.year, req.size, device_id, now)?;
        tx.append_audit(&AuditEntry {
            at: now,
            user_id: Some(actor.user.id),
            device_id: Some(*device_id),
            action: "document_numbers_issued".into(),
            entity: "document_number_block".into(),
            entity_id: format!("{}/{}/{}", kind.as_str(), block.year, block.first),
            detail: serde_json::json!({ "kind": kind, "year": block.year, "first": block.first, "last": block.last }),
        })?;
    }
    let blocks = tx.number_blocks(device_id)?;
    tx.commit()?;
    Ok(NumberBlockResponse { blocks })
}

/// Why a pushed record may not use its numbers, or `None` when it may: each must come from a
/// block of the pushing device and belong to no other record.
pub fn check_numbers(tx: &mut dyn Tx, i: &Inspection, device: &DeviceId) -> StoreResult<Option<ApiError>> {
    let Some(info) = &i.document else { return Ok(None) };
    let mut fields = Vec::new();
    for (n, num) in info.numbers.iter().enumerate() {
        let field = format!("document.numbers[{n}]");
        if tx.number_block_device(num)?.as_ref() != Some(device) {
            fields.push(FieldError::new(
                field,
                ErrorCode::DocumentNumberInvalid,
                format!("文书编号 {num} 不是发给本设备的"),
            ));
            continue;
        }
        if let Some(other) = tx.document_number_record(num)?
            && other != i.id
        {
            fields.push(FieldError::new(
                field,
                ErrorCode::DocumentNumberInvalid,
                format!("文书编号 {num} 已被另一条记录使用"),
            ));
        }
    }
    if fields.is_empty() {
        Ok(None)
    } else {
        Ok(Some(ApiError::new(ErrorCode::DocumentNumberInvalid, "文书编号无效").with_fields(fields)))
    }
}

/// Record (and audit) the numbers a stored version uses; a resubmission keeps its numbers.
pub fn record_numbers(
    tx: &mut dyn Tx,
    i: &Inspection,
    device: &DeviceId,
    user: &shared::ids::UserId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let Some(info) = &i.document else { return Ok(()) };
    for num in &info.numbers {
        if tx.use_document_number(num, &i.id, i.version, device, now)? {
            tx.append_audit(&AuditEntry {
                at: now,
                user_id: Some(*user),
                device_id: Some(*device),
                action: "document_number_used".into(),
                entity: "inspection".into(),
                entity_id: i.id.to_string(),
                detail: serde_json::json!({ "number": num.to_string(), "kind": num.kind, "version": i.version }),
            })?;
        }
    }
    Ok(())
}

/// A document made by the server, with how it compares with what the device signed.
pub struct MadeDocument {
    /// File name: the title and the number.
    pub name: String,
    pub pdf: Vec<u8>,
    /// Lower-case hex SHA-256 of `pdf`.
    pub sha256: String,
    pub check: shared::documents::DocumentCheck,
}

/// A document of one stored version, made as the device made it: the version's own
/// [`shared::documents::DocumentInfo`] and the blobs it names. Records made before documents
/// existed get the context the server knows and no number.
pub fn render_version(
    store: &dyn Store,
    blobs: &dyn crate::blobs::BlobStore,
    actor: &Actor,
    id: &shared::InspectionId,
    version: u32,
    kind: shared::documents::DocumentKind,
) -> AppResult<MadeDocument> {
    let mut tx = store.read()?;
    let row = tx
        .record(id)?
        .filter(|r| crate::domain::scope::can_read_record(actor, r))
        .ok_or_else(AppError::not_found)?;
    let v = tx.version(id, version)?.ok_or_else(AppError::not_found)?;
    let info = match &v.document {
        Some(info) => info.clone(),
        None => legacy_info(tx.as_mut(), &v, &row.submitted_by)?,
    };
    drop(tx);
    make(blobs, &v, &info, kind)
}

/// Make one document of a version from the stored blobs and compare it with the digest the
/// device signed.
pub fn make(
    blobs: &dyn crate::blobs::BlobStore,
    v: &Inspection,
    info: &shared::documents::DocumentInfo,
    kind: shared::documents::DocumentKind,
) -> AppResult<MadeDocument> {
    let source = |sha: &str| -> Option<Vec<u8>> {
        let hash = crate::blobs::BlobHash::parse(sha).ok()?;
        let (mut file, _) = blobs.open(&hash).ok()??;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut out).ok()?;
        Some(out)
    };
    let pdf = qingliu_documents::render(kind, v, info, &source).map_err(|e| match e {
        qingliu_documents::DocumentError::NotApplicable => AppError::not_found(),
        // A photo or signature still on its way from the tablet: the document waits for it.
        qingliu_documents::DocumentError::MissingBlob(_) => {
            AppError::api(ErrorCode::MissingBlobs, format!("{e}，稍后再试"))
        }
        other => AppError::Internal(format!("document of {} v{}: {other}", v.id, v.version)),
    })?;
    let sha256 = shared::documents::pdf_digest(&pdf);
    Ok(MadeDocument {
        name: qingliu_documents::file_name(kind, info, v),
        check: info.check(kind, &sha256),
        sha256,
        pdf,
    })
}

fn legacy_info(
    tx: &mut dyn Tx,
    v: &Inspection,
    submitted_by: &shared::ids::UserId,
) -> AppResult<shared::documents::DocumentInfo> {
    let site = tx.site(&v.site_id)?;
    let mut place = Vec::new();
    let mut code = site.as_ref().map(|s| s.village);
    while let Some(c) = code {
        match tx.region(&c)? {
            Some(r) => {
                place.push(r.name.clone());
                code = r.parent;
            }
            None => break,
        }
    }
    place.reverse();
    let inspector = tx.user_by_id(submitted_by)?.map(|u| u.info.display_name).unwrap_or_default();
    Ok(shared::documents::DocumentInfo {
        layout: shared::documents::LAYOUT_VERSION,
        numbers: Vec::new(),
        site_name: site.map(|s| s.name).unwrap_or_default(),
        place: place.concat(),
        inspector,
        authority: String::new(),
        digests: Vec::new(),
    })
}

/// The documents of every record a queue filter selects (one page, at most
/// `queue::MAX_PAGE` records), as a ZIP: each PDF stored as made (already compressed), named
/// by its title and number. Scope is the queue's.
pub fn archive(
    store: &dyn Store,
    blobs: &dyn crate::blobs::BlobStore,
    actor: &Actor,
    q: &crate::domain::queue::QueueQuery,
) -> AppResult<Vec<u8>> {
    use std::io::Write;
    let rq = crate::domain::queue::record_query(actor, q, None)?;
    let (records, _) = store.read()?.list_records(&rq)?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut names = std::collections::HashSet::new();
    for r in records {
        let v = &r.inspection;
        for kind in shared::documents::documents_for(v) {
            let MadeDocument { name, pdf, .. } = render_version(store, blobs, actor, &v.id, v.version, kind)?;
            // Records made before numbers share a title: the record id keeps names apart.
            let name = if names.insert(name.clone()) { name } else { format!("{}-{name}", v.id) };
            zip.start_file(name, opts).map_err(|e| AppError::Internal(format!("zip: {e}")))?;
            zip.write_all(&pdf)?;
        }
    }
    Ok(zip.finish().map_err(|e| AppError::Internal(format!("zip: {e}")))?.into_inner())
}
