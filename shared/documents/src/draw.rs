//! Draw laid-out pages with krilla, adding what every page carries: the page number and, on an
//! on-site record, the party's signature.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;

use crate::DocumentError;
use crate::layout::{FontId, Fonts, MARGIN_X, Op, PAGE_H, PAGE_W};

/// What repeats at the foot of every page of a 笔录: the party signs each page.
pub enum FooterSignature {
    Image { image: usize },
    Text(String),
}

pub struct LaidOut {
    pub title: String,
    pub pages: Vec<Vec<Op>>,
    pub images: Vec<Image>,
    pub footer_signature: Option<FooterSignature>,
}

fn black() -> Fill {
    Fill { paint: rgb::Color::new(0, 0, 0).into(), ..Default::default() }
}

fn stroke(width: f32, grey: u8) -> Stroke {
    Stroke { paint: rgb::Color::new(grey, grey, grey).into(), width, ..Default::default() }
}

pub fn finish(fonts: &Fonts, doc: LaidOut) -> Result<Vec<u8>, DocumentError> {
    let mut pdf = Document::new();
    pdf.set_metadata(Metadata::new().title(doc.title.clone()).creator("清流 Qingliu".to_string()));
    let total = doc.pages.len();
    let settings = || PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid page size");
    for (n, ops) in doc.pages.iter().enumerate() {
        let mut footer = Vec::new();
        let size = 9.0;
        let text = format!("第 {} 页 共 {} 页", n + 1, total);
        let w = fonts.width(FontId::Body, &text, size);
        footer.push(Op::Text { x: (PAGE_W - w) / 2.0, y: PAGE_H - 30.0, size, font: FontId::Body, text });
        if let Some(sig) = &doc.footer_signature {
            let y = PAGE_H - 62.0;
            footer.push(Op::Text {
                x: MARGIN_X,
                y: y + 20.0,
                size,
                font: FontId::Label,
                text: "被检查人签名：".into(),
            });
            let x = MARGIN_X + fonts.width(FontId::Label, "被检查人签名：", size) + 4.0;
            match sig {
                FooterSignature::Image { image } => {
                    let (iw, ih) = doc.images[*image].size();
                    let h = 28.0;
                    let w = (h * iw as f32 / ih.max(1) as f32).min(110.0);
                    footer.push(Op::Image {
                        x,
                        y: y + 2.0,
                        w,
                        h: w * ih as f32 / iw.max(1) as f32,
                        image: *image,
                    });
                }
                FooterSignature::Text(t) => {
                    footer.push(Op::Text { x, y: y + 20.0, size, font: FontId::Body, text: t.clone() })
                }
            }
        }
        let mut page = pdf.start_page_with(settings());
        let mut s = page.surface();
        for op in ops.iter().chain(footer.iter()) {
            match op {
                Op::Text { x, y, size, font, text } => {
                    let font = match fonts.resolve(*font, text) {
                        FontId::Body => fonts.body.clone(),
                        FontId::Label => fonts.label.clone(),
                    };
                    s.set_stroke(None);
                    s.set_fill(Some(black()));
                    s.draw_text(Point::from_xy(*x, *y), font, *size, text, false, TextDirection::Auto);
                }
                Op::Line { x1, y1, x2, y2, width } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(stroke(*width, 0)));
                        s.draw_path(&path);
                    }
                }
                Op::Frame { x, y, w, h } => {
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        let mut pb = PathBuilder::new();
                        pb.push_rect(rect);
                        if let Some(path) = pb.finish() {
                            s.set_fill(None);
                            s.set_stroke(Some(stroke(0.5, 150)));
                            s.draw_path(&path);
                        }
                    }
                }
                Op::Image { x, y, w, h, image } => {
                    if let Some(size) = Size::from_wh(*w, *h) {
                        s.push_transform(&Transform::from_translate(*x, *y));
                        s.draw_image(doc.images[*image].clone(), size);
                        s.pop();
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    pdf.finish().map_err(|e| DocumentError::Pdf(format!("{e:?}")))
}
