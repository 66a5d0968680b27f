//! Document benchmark: a three-page 现场检查笔录 with six photos and five signatures, made by
//! `qingliu-documents` as the tablet makes it. Prints generation time (median), the size with
//! and without its photos, and beside it, in the same run, the bare cost of the fonts: a page
//! holding only the record's distinct characters (shaping, subsetting and embedding both
//! fonts), which every document pays whatever its layout.
//!
//! cargo run --release -p qingliu-tests --bin document-bench

use std::time::Instant;

use clap::Parser;
use qingliu_tests::documents::{Blobs, enforcement_record, sign_all};

use shared::documents::DocumentKind;
use shared::inspection::InspectionBody;

#[derive(Parser)]
struct Args {
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 21)]
    reps: usize,
}

use qingliu_tests::photos::TEST_PHOTOS as PHOTOS;

fn median_ms(reps: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut size = f();
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            size = f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], size)
}

fn main() {
    let args = Args::parse();
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &PHOTOS);
    // Five signers: the party, two inspectors, the recorder and a witness.
    sign_all(&mut blobs, &mut i);
    let InspectionBody::Enforcement(e) = &i.body else { unreachable!() };
    assert_eq!(e.signatures().len(), 5);
    let info = i.document.clone().expect("numbers");
    let render = |i: &shared::inspection::Inspection| {
        qingliu_documents::render(DocumentKind::InspectionRecord, i, &info, &blobs.0).expect("render")
    };
    let pdf = render(&i);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("record.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let pages = qingliu_tests::documents::page_count(&path);
    let (full_ms, full_size) = median_ms(args.reps, || render(&i).len());
    let mut bare = i.clone();
    bare.photos.clear();
    let (bare_ms, bare_size) = median_ms(args.reps, || render(&bare).len());
    // The fonts alone: every distinct character of the record on one sheet.
    let mut chars: Vec<char> = serde_json::to_string(&(&i, &info)).unwrap_or_default().chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let mut glyphs = bare.clone();
    glyphs.document = Some(info.clone());
    if let InspectionBody::Enforcement(e) = &mut glyphs.body {
        e.findings = chars.iter().filter(|c| !c.is_control()).collect();
        e.checklist.clear();
        e.violations.truncate(1);
    }
    let (font_ms, font_size) = median_ms(args.reps, || render(&glyphs).len());
    let photo_bytes: usize = i.photos.iter().map(|p| p.bytes as usize).sum();
    println!("| 现场检查笔录, 5 signatures (median of {}) | time | size |", args.reps);
    println!("|---|---|---|");
    println!(
        "| with 6 photos ({} KB of JPEG), {pages} pages | {full_ms:.1} ms | {} KB |",
        photo_bytes / 1024,
        full_size / 1024
    );
    println!("| without photos | {bare_ms:.1} ms | {} KB |", bare_size / 1024);
    println!(
        "| baseline: fonts alone ({} distinct characters on one sheet) | {font_ms:.1} ms | {} KB |",
        chars.len(),
        font_size / 1024
    );
    println!(
        "| ratio without photos / fonts alone | {:.2} | {:.2} |",
        bare_ms / font_ms,
        bare_size as f64 / font_size as f64
    );
}
