//! Documents on the device, offline: document numbers from the blocks the server handed out,
//! handwritten signatures over the record's content, and the PDFs themselves, kept beside the
//! record (the same bytes the server makes of the same version).

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};
use shared::ErrorCode;
use shared::documents::{
    DocumentDigest, DocumentInfo, DocumentKind, DocumentNumber, LAYOUT_VERSION, NumberBlock,
    clear_signatures, documents_for, pdf_digest, signed_content_hash,
};
use shared::ids::InspectionId;
use shared::inspection::{Inspection, InspectionBody, PhotoRef, Signature, SignerRole};

use crate::core::{AppCore, load_record};
use crate::error::{CoreError, CoreResult};

/// Below this many unused numbers of a kind the next sync asks for another block.
pub const LOW_WATER: u32 = 20;
/// Serials per block asked for.
pub const BLOCK_SIZE: u32 = 50;
/// Largest signature image kept (a PNG of the pad).
pub const MAX_SIGNATURE_BYTES: usize = 2 << 20;

/// The Beijing year a record's numbers are taken in.
fn year_of(t: time::OffsetDateTime) -> i32 {
    t.to_offset(shared::clock::BEIJING).year()
}

fn unused(c: &Connection, kind: DocumentKind, year: i32) -> CoreResult<u32> {
    let total: i64 = c.query_row(
        "SELECT COALESCE(SUM(last - first + 1), 0) FROM number_blocks WHERE kind = ?1 AND year = ?2",
        params![kind.as_str(), year],
        |r| r.get(0),
    )?;
    let used: i64 = c.query_row(
        "SELECT COUNT(*) FROM used_numbers WHERE kind = ?1 AND year = ?2",
        params![kind.as_str(), year],
        |r| r.get(0),
    )?;
    Ok((total - used).max(0) as u32)
}

/// The lowest serial of (kind, year) in a held block that no record has spent.
fn next_free(c: &Connection, kind: DocumentKind, year: i32) -> CoreResult<Option<DocumentNumber>> {
    let mut st = c.prepare_cached(
        "SELECT first, last FROM number_blocks WHERE kind = ?1 AND year = ?2 ORDER BY first",
    )?;
    let blocks: Vec<(u32, u32)> = st
        .query_map(params![kind.as_str(), year], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut used =
        c.prepare_cached("SELECT 1 FROM used_numbers WHERE kind = ?1 AND year = ?2 AND serial = ?3")?;
    for (first, last) in blocks {
        for serial in first..=last {
            if used.query_row(params![kind.as_str(), year, serial], |_| Ok(())).optional()?.is_none() {
                return Ok(Some(DocumentNumber { kind, year, serial }));
            }
        }
    }
    Ok(None)
}

impl AppCore {
    /// Kinds (for this year) whose unused numbers have run low: what the next sync asks for.
    pub fn number_kinds_wanted(&self) -> CoreResult<Vec<DocumentKind>> {
        let year = year_of(self.now());
        self.store.read(|c| {
            let mut out = Vec::new();
            for k in DocumentKind::ALL {
                if unused(c, k, year)? < LOW_WATER {
                    out.push(k);
                }
            }
            Ok(out)
        })
    }

    /// Keep the blocks the server answered (all blocks this device holds).
    pub fn store_number_blocks(&self, blocks: &[NumberBlock]) -> CoreResult<()> {
        self.store.write(|tx| {
            for b in blocks {
                tx.execute(
                    "INSERT OR IGNORE INTO number_blocks (kind, year, first, last) VALUES (?1, ?2, ?3, ?4)",
                    params![b.kind.as_str(), b.year, b.first, b.last],
                )?;
            }
            Ok(())
        })
    }

    /// Unused numbers per kind for this year.
    pub fn numbers_left(&self) -> CoreResult<Vec<(DocumentKind, u32)>> {
        let year = year_of(self.now());
        self.store.read(|c| DocumentKind::ALL.into_iter().map(|k| Ok((k, unused(c, k, year)?))).collect())
    }

    /// Give a draft what its documents print: a number for each document it gets (kept when it
    /// already has one; spent in the same transaction), the site's name and the inspector.
    /// Answers the record as saved.
    pub fn prepare_documents(&self, id: &InspectionId) -> CoreResult<shared::inspection::Inspection> {
        let inspector = self.user()?.map(|u| u.display_name).unwrap_or_default();
        let now_s = self.now_rfc3339();
        let authority = self.meta("document_authority")?.unwrap_or_default();
        self.store.write(|tx| {
            let row = load_record(tx, id)?.ok_or_else(|| CoreError::not_found("记录"))?;
            let mut i = row.inspection;
            let site: Option<(String, String)> = tx
                .query_row("SELECT name, data FROM sites WHERE id = ?1", [i.site_id.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (site_name, place) = match site {
                Some((name, data)) => {
                    let site: Option<shared::site::Site> = serde_json::from_str(&data).ok();
                    let place = match site.map(|s| s.details) {
                        Some(shared::site::SiteDetails::Enterprise(e)) => e.address,
                        _ => String::new(),
                    };
                    (name, place)
                }
                None => return Err(CoreError::not_found("点位")),
            };
            let mut info = i.document.clone().unwrap_or(DocumentInfo {
                layout: LAYOUT_VERSION,
                numbers: Vec::new(),
                site_name,
                place,
                inspector,
                authority,
                digests: Vec::new(),
            });
            let year = year_of(shared::documents::document_time(&i));
            for kind in documents_for(&i) {
                if info.number(kind).is_some() {
                    continue;
                }
                let n = next_free(tx, kind, year)?.ok_or_else(|| {
                    CoreError::new(
                        ErrorCode::DocumentNumberInvalid,
                        format!("本机没有可用的“{}”文书编号，请联网同步后再试", kind.title_zh(i.kind())),
                    )
                })?;
                tx.execute(
                    "INSERT INTO used_numbers (kind, year, serial, record_id, used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![kind.as_str(), n.year, n.serial, id.to_string(), now_s],
                )?;
                info.numbers.push(n);
            }
            // A number the record no longer needs (its violations were removed) stays spent.
            let wanted = documents_for(&i);
            info.numbers.retain(|n| wanted.contains(&n.kind));
            i.document = Some(info);
            tx.execute(
                "UPDATE records SET data = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.to_string(), serde_json::to_string(&i)?, now_s],
            )?;
            Ok(i)
        })
    }

    /// Put a signature drawn on the pad (a PNG) in its place on the record: kept as a blob
    /// like a photo (it uploads, resumes and deduplicates the same way), with the time and the
    /// hash of the content it covers.
    pub fn sign_record(
        &self,
        id: &InspectionId,
        role: SignerRole,
        signer: &str,
        png: &[u8],
    ) -> CoreResult<shared::inspection::Inspection> {
        if png.len() > MAX_SIGNATURE_BYTES || !png.starts_with(b"\x89PNG") {
            return Err(CoreError::new(ErrorCode::InvalidFormat, "签名应为不超过 2 MB 的 PNG 图片"));
        }
        let (w, h) =
            png_size(png).ok_or_else(|| CoreError::new(ErrorCode::InvalidFormat, "签名图片无法读取"))?;
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(png))
        };
        let r = PhotoRef {
            sha256: sha256.clone(),
            bytes: png.len() as u64,
            width: w,
            height: h,
            exif_time: None,
            exif_position: None,
            original_sha256: None,
            caption: String::new(),
        };
        self.keep_photo(png, &r, None)?;
        let now = self.now();
        self.update_signatures(id, |i| {
            let covers = signed_content_hash(i);
            let InspectionBody::Enforcement(e) = &mut i.body else {
                return Err(CoreError::new(ErrorCode::InvalidValue, "只有执法检查笔录需要签名"));
            };
            let signed = Signature::Signed {
                signer: signer.to_string(),
                blob: Some(sha256.clone()),
                signed_at: Some(now),
                covers: Some(covers),
            };
            match role {
                SignerRole::Party => e.party_signature = signed,
                SignerRole::Inspector(n) => {
                    let slot = e
                        .inspector_signatures
                        .get_mut(n)
                        .ok_or_else(|| CoreError::new(ErrorCode::OutOfRange, "没有这名执法人员"))?;
                    *slot = signed;
                }
                SignerRole::Recorder => e.recorder_signature = Some(signed),
                SignerRole::Witness => e.witness_signature = Some(signed),
            }
            Ok(())
        })
    }

    /// The party refuses to sign: the reason is kept, and a witness signs instead.
    pub fn refuse_signature(
        &self,
        id: &InspectionId,
        reason: &str,
    ) -> CoreResult<shared::inspection::Inspection> {
        if reason.trim().is_empty() {
            return Err(CoreError::new(ErrorCode::Required, "请填写拒签理由"));
        }
        self.update_signatures(id, |i| {
            let InspectionBody::Enforcement(e) = &mut i.body else {
                return Err(CoreError::new(ErrorCode::InvalidValue, "只有执法检查笔录需要签名"));
            };
            e.party_signature = Signature::Refused { reason: reason.trim().to_string() };
            Ok(())
        })
    }

    fn update_signatures(
        &self,
        id: &InspectionId,
        f: impl FnOnce(&mut shared::inspection::Inspection) -> CoreResult<()>,
    ) -> CoreResult<shared::inspection::Inspection> {
        let now_s = self.now_rfc3339();
        self.store.write(|tx| {
            let row = load_record(tx, id)?.ok_or_else(|| CoreError::not_found("记录"))?;
            if !matches!(row.state, shared::app::LocalState::Draft | shared::app::LocalState::Refused) {
                return Err(CoreError::new(ErrorCode::IllegalTransition, "已提交的记录不能再签名"));
            }
            let mut i = row.inspection;
            f(&mut i)?;
            tx.execute(
                "UPDATE records SET data = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.to_string(), serde_json::to_string(&i)?, now_s],
            )?;
            Ok(i)
        })
    }

    /// Where a record's document is kept: built from the record id and the kind, never from
    /// free input.
    pub fn document_path(&self, id: &InspectionId, version: u32, kind: DocumentKind) -> PathBuf {
        self.photo_dir.with_file_name("documents").join(format!("{id}-v{version}-{}.pdf", kind.as_str()))
    }

    /// Make (or read back) one document of a record's current version from the device's own
    /// store, and keep it beside the record.
    pub fn document(&self, id: &InspectionId, kind: DocumentKind) -> CoreResult<(PathBuf, Vec<u8>)> {
        let i = self.inspection(id)?;
        let info = i
            .document
            .clone()
            .ok_or_else(|| CoreError::new(ErrorCode::Required, "记录还没有文书编号，请先生成文书"))?;
        self.make_document(&i, &info, kind)
    }

    fn make_document(
        &self,
        i: &Inspection,
        info: &DocumentInfo,
        kind: DocumentKind,
    ) -> CoreResult<(PathBuf, Vec<u8>)> {
        let path = self.document_path(&i.id, i.version, kind);
        let source = |sha: &str| -> Option<Vec<u8>> { std::fs::read(self.photo_path(sha).ok()?).ok() };
        let pdf = qingliu_documents::render(kind, i, info, &source).map_err(|e| match e {
            qingliu_documents::DocumentError::NotApplicable => {
                CoreError::new(ErrorCode::NotFound, e.to_string())
            }
            qingliu_documents::DocumentError::MissingBlob(_) => {
                CoreError::new(ErrorCode::MissingBlobs, e.to_string())
            }
            other => CoreError::new(ErrorCode::Internal, other.to_string()),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::core::write_synced(&path, &pdf)?;
        Ok((path, pdf))
    }

    /// Pin the documents of a version about to be submitted: make each one from the device's
    /// own store, keep it beside the record and put its SHA-256 in the record, so the signature
    /// the device makes next covers the documents shown on site. A document that cannot be made
    /// here (a photo of a record pulled from the server is not on this device) gets no digest:
    /// that never stops a submission, and the reviewer sees the document as unsigned.
    pub(crate) fn seal_documents(&self, i: &mut Inspection) -> CoreResult<()> {
        let Some(mut info) = i.document.clone() else { return Ok(()) };
        info.digests.clear();
        for kind in documents_for(i) {
            match self.make_document(i, &info, kind) {
                Ok((_, pdf)) => info.digests.push(DocumentDigest { kind, sha256: pdf_digest(&pdf) }),
                Err(e) if e.code() == ErrorCode::MissingBlobs => {
                    tracing::info!(record = %i.id, kind = kind.as_str(), "document not sealed: {e}");
                }
                Err(e) if e.code() == ErrorCode::Internal => {
                    tracing::warn!(record = %i.id, kind = kind.as_str(), "document not sealed: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        i.document = Some(info);
        Ok(())
    }

    /// Characters of the record the documents' font cannot print (asked before signing).
    pub fn uncovered_chars(&self, id: &InspectionId) -> CoreResult<Vec<char>> {
        let i = self.inspection(id)?;
        Ok(i.document.as_ref().map(|d| qingliu_documents::uncovered_chars(&i, d)).unwrap_or_default())
    }
}

/// Editing a signed record clears its signatures: `true` when something was cleared (the form
/// then says so).
pub fn clear_if_stale(i: &mut shared::inspection::Inspection) -> bool {
    if shared::documents::stale_signatures(i).is_empty() {
        return false;
    }
    clear_signatures(i)
}

fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    // IHDR follows the 8-byte signature: length, "IHDR", width, height (big-endian).
    if png.len() < 24 || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    (w > 0 && h > 0 && w <= 4096 && h <= 4096).then_some((w, h))
}
