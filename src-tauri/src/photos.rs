//! The device photo pipeline (DESIGN §7): refuse what is not a sane image, read EXIF (time,
//! position, orientation), decode (JPEG with DCT-domain downscaling when the target is much
//! smaller), apply the orientation, resize the long edge, stamp a legible Chinese watermark
//! (time to the second in Asia/Shanghai, WGS-84 coordinates, site, inspector), encode JPEG.
//! The derivative is what travels; the original's hash and EXIF are kept in its `PhotoRef`.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use image::RgbImage;
use sha2::{Digest, Sha256};
use shared::ErrorCode;
use shared::geo::LngLat;
use shared::inspection::PhotoRef;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{CoreError, CoreResult};

#[derive(Clone)]
pub struct PipelineConfig {
    /// Long edge of the derivative in pixels.
    pub long_edge: u32,
    /// JPEG quality (1–100).
    pub quality: u8,
    /// Largest input file accepted.
    pub max_input_bytes: usize,
    /// Largest input in pixels (guards memory before decoding).
    pub max_pixels: u64,
    /// Font for the watermark; `None` finds a CJK font on the system.
    pub font: Option<FontArc>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            long_edge: 1920,
            quality: 80,
            max_input_bytes: 40 * 1024 * 1024,
            max_pixels: 50_000_000,
            font: None,
        }
    }
}

/// What the watermark says.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// When the photo was taken (EXIF time if the caller prefers it, else now).
    pub time: OffsetDateTime,
    pub position: Option<LngLat>,
    pub accuracy_m: Option<f64>,
    pub site_name: String,
    pub inspector: String,
}

/// EXIF facts of the original.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifFacts {
    pub orientation: u8,
    pub time: Option<OffsetDateTime>,
    pub position: Option<LngLat>,
}

#[derive(Debug)]
pub struct Processed {
    /// The derivative JPEG.
    pub jpeg: Vec<u8>,
    pub photo: PhotoRef,
    pub exif: ExifFacts,
    /// "jpg" or "png": how the original is kept on the device.
    pub original_ext: &'static str,
}

fn refuse(code: ErrorCode, msg: &str) -> CoreError {
    CoreError::new(code, msg)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Read orientation, capture time and GPS position from EXIF. Missing or broken EXIF is not an
/// error: the facts are simply absent. EXIF times without an offset are taken as Asia/Shanghai
/// (the devices this serves keep local time).
pub fn read_exif(bytes: &[u8]) -> ExifFacts {
    let mut facts = ExifFacts { orientation: 1, ..Default::default() };
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return facts;
    };
    let field = |tag| exif.get_field(tag, exif::In::PRIMARY);
    if let Some(o) = field(exif::Tag::Orientation).and_then(|f| f.value.get_uint(0)) {
        facts.orientation = if (1..=8).contains(&o) { o as u8 } else { 1 };
    }
    let ascii = |f: &exif::Field| match &f.value {
        exif::Value::Ascii(v) => v.first().cloned(),
        _ => None,
    };
    let dt = field(exif::Tag::DateTimeOriginal).or_else(|| field(exif::Tag::DateTime));
    if let Some(raw) = dt.and_then(ascii)
        && let Ok(mut d) = exif::DateTime::from_ascii(&raw)
    {
        if let Some(off) = field(exif::Tag::OffsetTimeOriginal).and_then(ascii) {
            let _ = d.parse_offset(&off);
        }
        facts.time = exif_time(&d);
    }
    let coord = |v: exif::Tag, r: exif::Tag, neg: u8| -> Option<f64> {
        let f = field(v)?;
        let exif::Value::Rational(parts) = &f.value else { return None };
        if parts.len() < 3 || parts.iter().any(|p| p.denom == 0) {
            return None;
        }
        let deg = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = match field(r).and_then(ascii) {
            Some(s) if s.first().map(u8::to_ascii_uppercase) == Some(neg) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg)
    };
    if let (Some(lat), Some(lng)) = (
        coord(exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef, b'S'),
        coord(exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef, b'W'),
    ) {
        let p = LngLat::new(lng, lat);
        if p.is_valid() && !(lat == 0.0 && lng == 0.0) {
            facts.position = Some(p);
        }
    }
    facts
}

fn exif_time(d: &exif::DateTime) -> Option<OffsetDateTime> {
    let month = time::Month::try_from(d.month).ok()?;
    let date = time::Date::from_calendar_date(i32::from(d.year), month, d.day).ok()?;
    let t = time::Time::from_hms(d.hour, d.minute, d.second).ok()?;
    let offset = match d.offset {
        Some(m) => UtcOffset::from_whole_seconds(i32::from(m) * 60).ok()?,
        None => shared::clock::BEIJING,
    };
    Some(PrimitiveDateTime::new(date, t).assume_offset(offset).to_offset(UtcOffset::UTC))
}

/// Decode to RGB, asking the JPEG decoder for the smallest DCT scale that still covers
/// `min_long_edge` (1/2, 1/4, 1/8 of the work for large camera images).
fn decode(bytes: &[u8], min_long_edge: u32, cfg: &PipelineConfig) -> CoreResult<(RgbImage, &'static str)> {
    let format = image::guess_format(bytes)
        .map_err(|_| refuse(ErrorCode::InvalidFormat, "不是可识别的图片（仅支持 JPEG 和 PNG）"))?;
    match format {
        image::ImageFormat::Jpeg => {
            let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
            d.read_info().map_err(|_| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            let info = d.info().ok_or_else(|| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            let (w, h) = (u32::from(info.width), u32::from(info.height));
            if w == 0 || h == 0 || u64::from(w) * u64::from(h) > cfg.max_pixels {
                return Err(refuse(ErrorCode::OutOfRange, "图片尺寸过大或无效"));
            }
            // Scale so that the long edge stays >= the target; orientation may swap axes, so
            // ask in the image's own axes.
            let (rw, rh) = if w >= h {
                (min_long_edge.min(w), ((u64::from(min_long_edge) * u64::from(h)) / u64::from(w)) as u32)
            } else {
                (((u64::from(min_long_edge) * u64::from(w)) / u64::from(h)) as u32, min_long_edge.min(h))
            };
            d.scale(rw.clamp(1, 65535) as u16, rh.clamp(1, 65535) as u16)
                .map_err(|_| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            let pixels = d.decode().map_err(|_| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            let info = d.info().ok_or_else(|| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            let (w, h) = (u32::from(info.width), u32::from(info.height));
            let rgb = match info.pixel_format {
                jpeg_decoder::PixelFormat::RGB24 => pixels,
                jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
                jpeg_decoder::PixelFormat::L16 => pixels
                    .chunks_exact(2)
                    .flat_map(|c| {
                        let l = (u16::from_ne_bytes([c[0], c[1]]) >> 8) as u8;
                        [l, l, l]
                    })
                    .collect(),
                jpeg_decoder::PixelFormat::CMYK32 => pixels
                    .chunks_exact(4)
                    .flat_map(|c| {
                        // jpeg-decoder un-inverts Adobe CMYK; convert as the image crate does.
                        let k = u16::from(255 - c[3]);
                        let f = |x: u8| ((u16::from(255 - x) * k) / 255) as u8;
                        [f(c[0]), f(c[1]), f(c[2])]
                    })
                    .collect(),
            };
            let img = RgbImage::from_raw(w, h, rgb)
                .ok_or_else(|| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            Ok((img, "jpg"))
        }
        image::ImageFormat::Png => {
            let reader = image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Png);
            let (w, h) = reader
                .into_dimensions()
                .map_err(|_| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            if w == 0 || h == 0 || u64::from(w) * u64::from(h) > cfg.max_pixels {
                return Err(refuse(ErrorCode::OutOfRange, "图片尺寸过大或无效"));
            }
            let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
                .map_err(|_| refuse(ErrorCode::InvalidFormat, "图片已损坏或不完整"))?;
            Ok((img.to_rgb8(), "png"))
        }
        _ => Err(refuse(ErrorCode::InvalidFormat, "仅支持 JPEG 和 PNG 图片")),
    }
}

/// Turn the pixels so that they display upright (EXIF orientation 1–8).
pub fn orient(img: RgbImage, orientation: u8) -> RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate90, rotate180, rotate270};
    match orientation {
        2 => flip_horizontal(&img),
        3 => rotate180(&img),
        4 => flip_vertical(&img),
        5 => flip_horizontal(&rotate90(&img)),
        6 => rotate90(&img),
        7 => flip_horizontal(&rotate270(&img)),
        8 => rotate270(&img),
        _ => img,
    }
}

fn resize(img: RgbImage, long_edge: u32) -> CoreResult<RgbImage> {
    use fast_image_resize as fr;
    let (w, h) = img.dimensions();
    if w.max(h) <= long_edge {
        return Ok(img);
    }
    let (nw, nh) = if w >= h {
        (long_edge, ((u64::from(long_edge) * u64::from(h) + u64::from(w) / 2) / u64::from(w)).max(1) as u32)
    } else {
        (((u64::from(long_edge) * u64::from(w) + u64::from(h) / 2) / u64::from(h)).max(1) as u32, long_edge)
    };
    let src = fr::images::Image::from_vec_u8(w, h, img.into_raw(), fr::PixelType::U8x3)
        .map_err(|e| CoreError::internal(format!("resize source: {e}")))?;
    let mut dst = fr::images::Image::new(nw, nh, fr::PixelType::U8x3);
    let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    fr::Resizer::new()
        .resize(&src, &mut dst, &opts)
        .map_err(|e| CoreError::internal(format!("resize: {e}")))?;
    RgbImage::from_raw(nw, nh, dst.into_vec()).ok_or_else(|| CoreError::internal("resize output"))
}

/// Candidate CJK fonts: `QINGLIU_FONT` (path, optionally `path#index`), then common locations.
fn font_candidates() -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    if let Ok(spec) = std::env::var("QINGLIU_FONT") {
        let (p, i) = match spec.rsplit_once('#') {
            Some((p, i)) => (p.to_string(), i.parse().unwrap_or(0)),
            None => (spec, 0),
        };
        out.push((PathBuf::from(p), i));
    }
    for (p, i) in [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
        ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
        ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
        ("/system/fonts/NotoSansCJK-Regular.ttc", 2),
        ("/System/Library/Fonts/PingFang.ttc", 0),
    ] {
        out.push((PathBuf::from(p), i));
    }
    out
}

/// The system CJK font, loaded once per process.
pub fn system_font() -> Option<FontArc> {
    static FONT: OnceLock<Option<FontArc>> = OnceLock::new();
    FONT.get_or_init(|| {
        for (path, index) in font_candidates() {
            if let Ok(data) = std::fs::read(&path)
                && let Ok(f) = ab_glyph::FontVec::try_from_vec_and_index(data, index)
                && f.glyph_id('检').0 != 0
            {
                return Some(FontArc::new(f));
            }
        }
        None
    })
    .clone()
}

/// The watermark's lines.
pub fn stamp_lines(s: &Stamp) -> Vec<String> {
    let mut lines = vec![format!("{} 北京时间", shared::clock::beijing(s.time))];
    match s.position {
        Some(p) => {
            let acc = s.accuracy_m.map(|a| format!(" ±{a:.0}m")).unwrap_or_default();
            lines.push(format!("经度 {:.6} 纬度 {:.6}{acc} (WGS-84)", p.lng(), p.lat()))
        }
        None => lines.push("位置：未获取".into()),
    }
    lines.push(format!("点位：{}", s.site_name));
    lines.push(format!("检查员：{}", s.inspector));
    lines
}

/// Darken a band at the bottom and write the lines in white.
pub fn draw_stamp(img: &mut RgbImage, lines: &[String], font: &FontArc) {
    let (w, h) = img.dimensions();
    let size = (w.min(h) as f32 / 30.0).clamp(14.0, 64.0);
    let scale = PxScale::from(size);
    let scaled = font.as_scaled(scale);
    let line_h = (scaled.ascent() - scaled.descent() + scaled.line_gap()).ceil();
    let pad = (size * 0.5).ceil();
    let band = (line_h * lines.len() as f32 + 2.0 * pad).min(h as f32) as u32;
    let top = h - band;
    for y in top..h {
        for x in 0..w {
            let p = img.get_pixel_mut(x, y);
            for c in p.0.iter_mut() {
                *c = (u16::from(*c) * 2 / 5) as u8;
            }
        }
    }
    for (n, line) in lines.iter().enumerate() {
        let baseline = top as f32 + pad + scaled.ascent() + n as f32 * line_h;
        let mut caret = pad;
        for ch in line.chars() {
            let id = font.glyph_id(ch);
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += scaled.h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let x = b.min.x as i64 + i64::from(gx);
                    let y = b.min.y as i64 + i64::from(gy);
                    if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                        let p = img.get_pixel_mut(x as u32, y as u32);
                        for c in p.0.iter_mut() {
                            *c = (f32::from(*c) * (1.0 - cov) + 255.0 * cov) as u8;
                        }
                    }
                });
            }
        }
    }
}

fn encode(img: &RgbImage, quality: u8) -> CoreResult<Vec<u8>> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    let (w, h) = img.dimensions();
    if w > 65535 || h > 65535 {
        return Err(refuse(ErrorCode::OutOfRange, "图片尺寸过大"));
    }
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(img.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| CoreError::internal(format!("jpeg encode: {e}")))?;
    Ok(out)
}

/// Run the whole pipeline on one original.
pub fn process(original: &[u8], stamp: &Stamp, cfg: &PipelineConfig) -> CoreResult<Processed> {
    if original.is_empty() {
        return Err(refuse(ErrorCode::InvalidFormat, "文件为空"));
    }
    if original.len() > cfg.max_input_bytes {
        return Err(refuse(ErrorCode::OutOfRange, "图片文件过大"));
    }
    let font = match &cfg.font {
        Some(f) => f.clone(),
        None => system_font().ok_or_else(|| refuse(ErrorCode::Unavailable, "未找到中文字体，无法加水印"))?,
    };
    let exif = read_exif(original);
    let (img, original_ext) = decode(original, cfg.long_edge, cfg)?;
    let img = orient(img, exif.orientation);
    let mut img = resize(img, cfg.long_edge)?;
    draw_stamp(&mut img, &stamp_lines(stamp), &font);
    let jpeg = encode(&img, cfg.quality)?;
    let photo = PhotoRef {
        sha256: sha256_hex(&jpeg),
        bytes: jpeg.len() as u64,
        width: img.width(),
        height: img.height(),
        exif_time: exif.time,
        exif_position: exif.position,
        original_sha256: Some(sha256_hex(original)),
        caption: String::new(),
    };
    Ok(Processed { jpeg, photo, exif, original_ext })
}

/// A small JPEG (long edge `edge`) of an already processed photo, without a new watermark.
pub fn thumbnail(jpeg: &[u8], edge: u32) -> CoreResult<Vec<u8>> {
    let cfg = PipelineConfig::default();
    let (img, _) = decode(jpeg, edge, &cfg)?;
    encode(&resize(img, edge)?, 70)
}

/// A shared handle for callers that process on worker threads.
pub type SharedConfig = Arc<PipelineConfig>;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn testdata(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/photos").join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn stamp() -> Stamp {
        Stamp {
            time: datetime!(2026-11-29 06:03:21 UTC),
            position: Some(LngLat::new(114.305_5, 30.592_8)),
            accuracy_m: Some(8.0),
            site_name: "青山塘".into(),
            inspector: "王检查".into(),
        }
    }

    /// A JPEG `w`×`h` whose top-left quadrant is red and the rest blue, with optional EXIF.
    fn quadrant_jpeg(w: u32, h: u32, exif: Option<Vec<u8>>) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            if x < w / 2 && y < h / 2 { image::Rgb([230, 20, 20]) } else { image::Rgb([20, 20, 230]) }
        });
        let jpeg = encode(&img, 90).unwrap();
        match exif {
            None => jpeg,
            Some(app1) => {
                let mut out = jpeg[..2].to_vec();
                out.extend(app1);
                out.extend(&jpeg[2..]);
                out
            }
        }
    }

    /// A big-endian EXIF APP1 segment with orientation, DateTime and a GPS position.
    fn exif_app1(
        orientation: u16,
        datetime: &str,
        lat: (u32, u32, u32),
        lng: (u32, u32, u32),
        lng_ref: u8,
    ) -> Vec<u8> {
        let mut t: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
        // IFD0: 3 entries; data area follows.
        let ifd0_len = 2 + 3 * 12 + 4;
        let dt_off = 8 + ifd0_len;
        let gps_off = dt_off + 20;
        let be16 = |v: u16| v.to_be_bytes();
        let be32 = |v: u32| v.to_be_bytes();
        t.extend(be16(3));
        t.extend(be16(0x0112));
        t.extend(be16(3));
        t.extend(be32(1));
        t.extend(be16(orientation));
        t.extend([0, 0]);
        t.extend(be16(0x0132));
        t.extend(be16(2));
        t.extend(be32(20));
        t.extend(be32(dt_off as u32));
        t.extend(be16(0x8825));
        t.extend(be16(4));
        t.extend(be32(1));
        t.extend(be32(gps_off as u32));
        t.extend(be32(0));
        let mut dt = datetime.as_bytes().to_vec();
        dt.resize(20, 0);
        t.extend(dt);
        // GPS IFD: 4 entries, then two rational triples.
        let gps_len = 2 + 4 * 12 + 4;
        let lat_off = gps_off + gps_len;
        let lng_off = lat_off + 24;
        t.extend(be16(4));
        t.extend(be16(1));
        t.extend(be16(2));
        t.extend(be32(2));
        t.extend([b'N', 0, 0, 0]);
        t.extend(be16(2));
        t.extend(be16(5));
        t.extend(be32(3));
        t.extend(be32(lat_off as u32));
        t.extend(be16(3));
        t.extend(be16(2));
        t.extend(be32(2));
        t.extend([lng_ref, 0, 0, 0]);
        t.extend(be16(4));
        t.extend(be16(5));
        t.extend(be32(3));
        t.extend(be32(lng_off as u32));
        t.extend(be32(0));
        for (d, m, s100) in [lat, lng] {
            for (n, den) in [(d, 1), (m, 1), (s100, 100)] {
                t.extend(be32(n));
                t.extend(be32(den));
            }
        }
        let mut seg = vec![0xFF, 0xE1];
        seg.extend(be16((2 + 6 + t.len()) as u16));
        seg.extend(b"Exif\0\0");
        seg.extend(t);
        seg
    }

    fn is_red(p: &image::Rgb<u8>) -> bool {
        p.0[0] > 150 && p.0[2] < 100
    }

    #[test]
    fn generated_orientations_end_upright() {
        // Stored landscape 400×200 with red top-left; each orientation says how to display it.
        // Expected: where the red quadrant ends up, and the displayed size.
        type Case = (u16, (u32, u32), (bool, bool));
        let cases: [Case; 4] = [
            (1, (400, 200), (true, true)),   // red at top-left
            (3, (400, 200), (false, false)), // 180°: red at bottom-right
            (6, (200, 400), (false, true)),  // 90° CW: red at top-right
            (8, (200, 400), (true, false)),  // 90° CCW: red at bottom-left
        ];
        let cfg = PipelineConfig::default();
        for (o, (w, h), (left, top)) in cases {
            let src = quadrant_jpeg(
                400,
                200,
                Some(exif_app1(o, "2026:11:29 14:03:21", (30, 35, 0), (114, 18, 0), b'E')),
            );
            let out = process(&src, &stamp(), &cfg).unwrap();
            let img = image::load_from_memory(&out.jpeg).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (w, h), "orientation {o}");
            // Sample the middle of the quadrant that should be red (top quadrants only are
            // clear of the watermark band; for bottom ones sample just above the band).
            let x = if left { w / 4 } else { 3 * w / 4 };
            let y = if top { h / 8 } else { h / 2 + h / 16 };
            let ox = if left { 3 * w / 4 } else { w / 4 };
            assert!(is_red(img.get_pixel(x, y)), "orientation {o}: expected red at ({x},{y})");
            assert!(!is_red(img.get_pixel(ox, y)), "orientation {o}: expected blue at ({ox},{y})");
            assert_eq!(out.exif.orientation, o as u8);
        }
    }

    #[test]
    fn exif_time_and_position_are_kept_and_absent_exif_is_fine() {
        let src = quadrant_jpeg(
            300,
            300,
            Some(exif_app1(1, "2026:11:29 14:03:21", (30, 35, 3000), (114, 18, 1800), b'E')),
        );
        let out = process(&src, &stamp(), &PipelineConfig::default()).unwrap();
        assert_eq!(
            out.photo.exif_time,
            Some(datetime!(2026-11-29 06:03:21 UTC)),
            "local EXIF time read as Asia/Shanghai"
        );
        let p = out.photo.exif_position.unwrap();
        assert!((p.lat() - (30.0 + 35.0 / 60.0 + 30.0 / 3600.0)).abs() < 1e-9);
        assert!((p.lng() - (114.0 + 18.0 / 60.0 + 18.0 / 3600.0)).abs() < 1e-9);
        assert_eq!(out.photo.original_sha256.as_deref(), Some(sha256_hex(&src).as_str()));
        assert_eq!(out.photo.sha256, sha256_hex(&out.jpeg));
        assert_eq!(out.photo.bytes, out.jpeg.len() as u64);

        let bare = quadrant_jpeg(300, 300, None);
        let out = process(&bare, &stamp(), &PipelineConfig::default()).unwrap();
        assert_eq!(out.exif, ExifFacts { orientation: 1, time: None, position: None });
        assert_eq!(out.photo.exif_time, None);
    }

    #[test]
    fn real_camera_photos() {
        let cfg = PipelineConfig::default();
        let out = process(&testdata("iphone6-gps-8mp.jpg"), &stamp(), &cfg).unwrap();
        assert_eq!((out.photo.width, out.photo.height), (1920, 1440));
        let p = out.photo.exif_position.unwrap();
        assert!((p.lat() - 40.446_972).abs() < 1e-5, "{}", p.lat());
        assert!((p.lng() + 3.724_753).abs() < 1e-5, "{}", p.lng());
        let out = process(&testdata("nokia83-gps-9mp.jpg"), &stamp(), &cfg).unwrap();
        assert_eq!(out.photo.width, 1920);
        assert_eq!(out.photo.height, 823);
        let small = process(&testdata("coolpix-gps-small.jpg"), &stamp(), &cfg).unwrap();
        assert_eq!((small.photo.width, small.photo.height), (640, 480), "small images are not enlarged");
        // The three orientation samples display upright as the same landscape picture.
        let upright: Vec<RgbImage> = ["orientation-3.jpg", "orientation-6.jpg", "orientation-8.jpg"]
            .iter()
            .map(|f| {
                image::load_from_memory(&process(&testdata(f), &stamp(), &cfg).unwrap().jpeg)
                    .unwrap()
                    .to_rgb8()
            })
            .collect();
        for img in &upright {
            assert_eq!(img.dimensions(), (600, 450));
        }
        let diff = |a: &RgbImage, b: &RgbImage| -> f64 {
            let mut sum = 0u64;
            let mut n = 0u64;
            for y in 0..200 {
                for x in 0..600 {
                    for c in 0..3 {
                        sum += u64::from(a.get_pixel(x, y).0[c].abs_diff(b.get_pixel(x, y).0[c]));
                        n += 1;
                    }
                }
            }
            sum as f64 / n as f64
        };
        assert!(diff(&upright[0], &upright[1]) < 12.0, "3 vs 6: {}", diff(&upright[0], &upright[1]));
        assert!(diff(&upright[0], &upright[2]) < 12.0, "3 vs 8: {}", diff(&upright[0], &upright[2]));
        // Without orientation the same comparison is far off, so the check has teeth.
        let raw6 = orient(image::load_from_memory(&testdata("orientation-6.jpg")).unwrap().to_rgb8(), 1);
        assert_ne!(raw6.dimensions(), (600, 450));
    }

    #[test]
    fn bad_input_is_refused_clearly() {
        let cfg = PipelineConfig::default();
        for (name, bytes) in [
            ("empty", Vec::new()),
            ("text", b"this is not an image at all".to_vec()),
            ("truncated", testdata("iphone6-gps-8mp.jpg")[..5000].to_vec()),
            ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ] {
            let err = process(&bytes, &stamp(), &cfg).err().unwrap_or_else(|| panic!("{name} accepted"));
            assert!(matches!(err.code(), ErrorCode::InvalidFormat), "{name}: {err}");
            assert!(!err.0.message.is_empty());
        }
        // The damaged camera file: refused with a clear error, or decoded — never a crash.
        match process(&testdata("corrupted.jpg"), &stamp(), &cfg) {
            Ok(out) => assert!(out.photo.width > 0),
            Err(e) => assert_eq!(e.code(), ErrorCode::InvalidFormat),
        }
        // Huge dimensions are refused before decoding.
        let tiny = PipelineConfig { max_pixels: 1000, ..PipelineConfig::default() };
        assert_eq!(
            process(&quadrant_jpeg(100, 100, None), &stamp(), &tiny).unwrap_err().code(),
            ErrorCode::OutOfRange
        );
        let small = PipelineConfig { max_input_bytes: 100, ..PipelineConfig::default() };
        assert_eq!(
            process(&quadrant_jpeg(100, 100, None), &stamp(), &small).unwrap_err().code(),
            ErrorCode::OutOfRange
        );
    }

    #[test]
    fn watermark_is_legible_chinese() {
        let lines = stamp_lines(&stamp());
        assert_eq!(lines[0], "2026-11-29 14:03:21 北京时间");
        assert_eq!(lines[1], "经度 114.305500 纬度 30.592800 ±8m (WGS-84)");
        assert_eq!(lines[2], "点位：青山塘");
        let font = system_font().expect("a CJK font (fonts-noto-cjk) must be installed");
        for ch in "检查员点位北京时间经纬度青山塘王".chars() {
            assert_ne!(font.glyph_id(ch).0, 0, "font lacks {ch}");
        }
        // The stamp changes pixels in the bottom band only, and writes light text there.
        let plain = quadrant_jpeg(800, 600, None);
        let out = process(&plain, &stamp(), &PipelineConfig::default()).unwrap();
        let img = image::load_from_memory(&out.jpeg).unwrap().to_rgb8();
        let bright_in_band = (0..800).flat_map(|x| (480..600).map(move |y| (x, y))).filter(|&(x, y)| {
            let p = img.get_pixel(x, y).0;
            p[0] > 200 && p[1] > 200 && p[2] > 200
        });
        assert!(bright_in_band.count() > 500, "white text in the band");
        assert!(is_red(img.get_pixel(100, 100)), "top of the picture untouched");
    }
}
