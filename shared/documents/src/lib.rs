//! Official documents as PDF, made from one record version: the on-site inspection record
//! (现场检查（勘察）笔录), the rectification order (责令改正违法行为决定书) and the inspection
//! sheet (检查记录表) of every other kind.
//!
//! One crate for the app (offline, from its local store) and the server (console archive and
//! ZIP): a document is a pure function of the version, the blobs it names and
//! [`shared::documents::LAYOUT_VERSION`], so both sides make the same bytes. No I/O, no clock:
//! the caller hands in the blobs.
//!
//! PDF: `krilla` (maintained by the Typst authors; shapes with rustybuzz, embeds fonts as CID
//! subsets, and writes no random IDs or dates, so output is reproducible). Fonts: Noto Serif SC
//! cut to GB 2312 for values, Noto Sans SC Bold cut to the forms' labels; each document embeds
//! only the glyphs it uses.

mod draw;
mod forms;
pub mod labels;
mod layout;

use std::collections::HashMap;

use shared::documents::{DocumentInfo, DocumentKind, documents_for};
use shared::inspection::Inspection;

pub use layout::Fonts;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    #[error("这条记录没有这种文书")]
    NotApplicable,
    #[error("缺少文件 {0}（照片或签名尚未到达）")]
    MissingBlob(String),
    #[error("文件 {0} 不是 JPEG 或 PNG 图片")]
    BadImage(String),
    #[error("生成 PDF 失败：{0}")]
    Pdf(String),
}

/// Where the photos and signature images come from (content-addressed by SHA-256).
pub trait BlobSource {
    fn blob(&self, sha256: &str) -> Option<Vec<u8>>;
}

impl BlobSource for HashMap<String, Vec<u8>> {
    fn blob(&self, sha256: &str) -> Option<Vec<u8>> {
        self.get(sha256).cloned()
    }
}

impl<F: Fn(&str) -> Option<Vec<u8>>> BlobSource for F {
    fn blob(&self, sha256: &str) -> Option<Vec<u8>> {
        self(sha256)
    }
}

/// Make one document of a record version. `info` is the version's own
/// [`Inspection::document`] where it has one; for records made before documents existed the
/// server passes what it knows (and the document then shows no number).
pub fn render(
    kind: DocumentKind,
    inspection: &Inspection,
    info: &DocumentInfo,
    blobs: &dyn BlobSource,
) -> Result<Vec<u8>, DocumentError> {
    if !documents_for(inspection).contains(&kind) {
        return Err(DocumentError::NotApplicable);
    }
    let fonts = Fonts::load();
    let doc = forms::lay_out(kind, inspection, info, &fonts, blobs)?;
    draw::finish(&fonts, doc)
}

/// Characters of the record that the embedded font cannot print (outside GB 2312): the app
/// warns before signing so the inspector can rewrite them or add them by hand on paper.
pub fn uncovered_chars(inspection: &Inspection, info: &DocumentInfo) -> Vec<char> {
    let fonts = Fonts::load();
    let text = serde_json::to_string(&(inspection, info)).unwrap_or_default();
    let mut out: Vec<char> = text.chars().filter(|c| !fonts.covers(*c)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The file name a document is saved and downloaded under: its number where it has one.
pub fn file_name(kind: DocumentKind, info: &DocumentInfo, inspection: &Inspection) -> String {
    let title = kind.title_zh(inspection.kind());
    match info.number(kind) {
        Some(n) => format!("{title}-{n}.pdf"),
        None => format!("{title}-{}-v{}.pdf", inspection.id, inspection.version),
    }
}
