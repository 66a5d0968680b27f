//! Real camera photos from `tests/data/photos`, as the tablet uploads them, and the derivatives
//! a cheater makes of an uploaded photo to pass it off as new.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, RgbImage, imageops};
use qingliu_app::photos::{PipelineConfig, Stamp, process};
use shared::geo::LngLat;

/// The project's test photos (tests/data/photos); the last two are different photos of one
/// subject from one spot 21 s apart.
pub const TEST_PHOTOS: [&str; 6] = [
    "olympus-ep3-12mp.jpg",
    "iphone6-gps-8mp.jpg",
    "nokia83-gps-9mp.jpg",
    "coolpix-gps-small.jpg",
    "same-spot-21s-a.jpg",
    "same-spot-21s-b.jpg",
];

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos").join(name)).expect("test photo")
}

fn stamp(site: &str, inspector: &str, minutes: i64) -> Stamp {
    Stamp {
        time: time::macros::datetime!(2026-11-20 02:00 UTC) + time::Duration::minutes(minutes),
        position: Some(LngLat::new(114.871_234, 30.451_987)),
        accuracy_m: Some(6.0),
        site_name: site.into(),
        inspector: inspector.into(),
    }
}

/// A camera photo as the tablet uploads it: oriented, resized, watermarked, re-encoded.
pub fn tablet_photo(name: &str) -> Vec<u8> {
    process(&photo(name), &stamp("王家湾黑臭水体", "张三", 0), &PipelineConfig::default())
        .expect("pipeline")
        .jpeg
}

pub fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory(jpeg).expect("decodes").to_rgb8()
}

pub fn encode(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), quality);
    DynamicImage::ImageRgb8(img.clone()).write_with_encoder(enc).expect("encode");
    out
}

/// What a cheater does to an uploaded photo before uploading it again, by name.
pub fn derivatives(jpeg: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let img = decode(jpeg);
    let (w, h) = img.dimensions();
    let resized = {
        let (nw, nh) = if w >= h { (1280, h * 1280 / w) } else { (w * 1280 / h, 1280) };
        imageops::resize(&img, nw.min(w), nh.min(h), imageops::FilterType::Triangle)
    };
    let cropped = imageops::crop_imm(&img, w / 40, h / 40, w - w / 20, h - h / 20).to_image();
    // 5 % of the area off one corner (2.5 % of each edge), and 5 % of each dimension around
    // the centre (about 10 % of the area).
    let cropped_corner = imageops::crop_imm(&img, w / 40, 0, w - w / 40, h - h / 40).to_image();
    let brighter = imageops::brighten(&img, 40);
    let contrast = imageops::contrast(&img, 15.0);
    let rewatermarked = process(jpeg, &stamp("李家塘", "李四", 60 * 24 * 9), &PipelineConfig::default())
        .expect("pipeline")
        .jpeg;
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(img.clone()).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("png");
    vec![
        ("re-encoded at quality 55", encode(&img, 55)),
        ("resized to 1280 px", encode(&resized, 85)),
        ("cropped 5 % around", encode(&cropped, 85)),
        ("cropped 5 % of the area off one corner", encode(&cropped_corner, 85)),
        ("brightened", encode(&brighter, 85)),
        ("more contrast", encode(&contrast, 85)),
        ("re-stamped with a new watermark by the tablet", rewatermarked),
    ]
}
