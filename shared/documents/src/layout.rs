//! A small flow layout for forms: rows of bordered cells, wrapped paragraphs, images, page
//! breaks. Pages are laid out first into a display list and drawn afterwards, so that every
//! page can print the page count (第 x 页 共 y 页) and what must repeat on each page.

use krilla::text::Font;
use rustybuzz::{Face, UnicodeBuffer};

/// A4 in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
pub const MARGIN_X: f32 = 62.0;
pub const MARGIN_TOP: f32 = 60.0;
/// Room kept free at the bottom of each page for the footer.
pub const FOOTER_H: f32 = 70.0;
pub const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

static BODY_FONT: &[u8] = include_bytes!("../fonts/NotoSerifSC-Regular-GB2312.otf");
static LABEL_FONT: &[u8] = include_bytes!("../fonts/NotoSansSC-Bold-Labels.otf");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FontId {
    /// 宋体 (Noto Serif SC): values and running text.
    Body,
    /// 黑体 bold (Noto Sans SC Bold): titles and labels.
    Label,
}

pub struct Fonts {
    pub body: Font,
    pub label: Font,
    body_face: Face<'static>,
    label_face: Face<'static>,
}

impl Fonts {
    pub fn load() -> Fonts {
        // The fonts are part of the binary and parsed by tests; failure is a build defect.
        Fonts {
            body: Font::new(BODY_FONT.into(), 0).expect("embedded body font"),
            label: Font::new(LABEL_FONT.into(), 0).expect("embedded label font"),
            body_face: Face::from_slice(BODY_FONT, 0).expect("embedded body font"),
            label_face: Face::from_slice(LABEL_FONT, 0).expect("embedded label font"),
        }
    }

    fn face(&self, f: FontId) -> &Face<'static> {
        match f {
            FontId::Body => &self.body_face,
            FontId::Label => &self.label_face,
        }
    }

    /// The label font holds only the forms' fixed labels; anything else falls back to the body
    /// font so that nothing prints as a missing glyph.
    pub fn resolve(&self, f: FontId, text: &str) -> FontId {
        if f == FontId::Label
            && !text.chars().all(|c| c.is_whitespace() || self.label_face.glyph_index(c).is_some())
        {
            FontId::Body
        } else {
            f
        }
    }

    pub fn covers(&self, c: char) -> bool {
        c.is_control() || self.body_face.glyph_index(c).is_some()
    }

    pub fn label_covers(&self, c: char) -> bool {
        c.is_whitespace() || self.label_face.glyph_index(c).is_some()
    }

    /// The advance of each character of `text` as krilla will draw it: shaped with rustybuzz
    /// (the glyphs of a cluster counted at its first character).
    fn advances(&self, f: FontId, text: &str, size: f32) -> Vec<f32> {
        let face = self.face(f);
        let scale = size / face.units_per_em() as f32;
        let mut buf = UnicodeBuffer::new();
        buf.push_str(text);
        buf.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buf);
        let mut by_byte = vec![0.0f32; text.len() + 1];
        for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            by_byte[info.cluster as usize] += pos.x_advance as f32 * scale;
        }
        text.char_indices().map(|(b, _)| by_byte[b]).collect()
    }

    pub fn width(&self, f: FontId, text: &str, size: f32) -> f32 {
        let f = self.resolve(f, text);
        self.advances(f, text, size).iter().sum()
    }

    /// Break `text` into lines no wider than `width`: at any character for Chinese, between
    /// words for Latin runs where a word fits on a line. Newlines are kept.
    pub fn wrap(&self, f: FontId, text: &str, size: f32, width: f32) -> Vec<String> {
        self.wrap_indented(f, text, size, width, 0.0)
    }

    /// [`Fonts::wrap`] with the first line `indent` points shorter (首行缩进).
    pub fn wrap_indented(&self, f: FontId, text: &str, size: f32, full: f32, indent: f32) -> Vec<String> {
        let f = self.resolve(f, text);
        let mut lines: Vec<String> = Vec::new();
        for para in text.split('\n') {
            let para_start = lines.len();
            let mut line = String::new();
            let mut w = 0.0;
            let chars: Vec<char> = para.chars().collect();
            let adv = self.advances(f, para, size);
            let mut i = 0;
            while i < chars.len() {
                let width = if lines.is_empty() { full - indent } else { full };
                // A Latin word or number moves as a whole when it fits on an empty line.
                let mut j = i + 1;
                if chars[i].is_ascii_alphanumeric() {
                    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
                        j += 1;
                    }
                }
                let word: String = chars[i..j].iter().collect();
                let ww: f32 = adv[i..j].iter().sum();
                if w + ww <= width || line.is_empty() && ww <= width {
                    line.push_str(&word);
                    w += ww;
                    i = j;
                } else if line.is_empty() {
                    // A word longer than the line: break it where it must.
                    line.push(chars[i]);
                    w += adv[i];
                    i += 1;
                } else {
                    // Closing punctuation never starts a line (避头点) and opening punctuation
                    // never ends one (避尾点).
                    if "，。、；：？！）》」』”’〕".contains(chars[i]) {
                        line.push(chars[i]);
                        i += 1;
                    } else if let Some(last) = line.chars().last()
                        && "（《「『“‘〔".contains(last)
                        && line.chars().count() > 1
                    {
                        line.pop();
                        i -= 1;
                    }
                    lines.push(std::mem::take(&mut line));
                    w = 0.0;
                    // A space at the break is swallowed.
                    if i < chars.len() && chars[i] == ' ' {
                        i += 1;
                    }
                }
            }
            // A paragraph that ended exactly at a break leaves no empty line behind.
            if !line.is_empty() || lines.len() == para_start {
                lines.push(line);
            }
        }
        lines
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        font: FontId,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    /// A light box (signature places, photo frames).
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: usize,
    },
}

/// Laid-out pages; images are referred to by index into the document's image list.
pub struct Pager<'f> {
    pub fonts: &'f Fonts,
    pub pages: Vec<Vec<Op>>,
    pub y: f32,
}

pub const LINE: f32 = 1.55;

impl<'f> Pager<'f> {
    pub fn new(fonts: &'f Fonts) -> Self {
        Pager { fonts, pages: vec![Vec::new()], y: MARGIN_TOP }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    pub fn bottom() -> f32 {
        PAGE_H - FOOTER_H
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
    }

    /// Start a new page unless `h` more points fit on this one.
    pub fn ensure(&mut self, h: f32) {
        if self.y + h > Self::bottom() {
            self.new_page();
        }
    }

    pub fn text(&mut self, x: f32, baseline: f32, size: f32, font: FontId, text: &str) {
        let font = self.fonts.resolve(font, text);
        self.ops().push(Op::Text { x, y: baseline, size, font, text: text.to_string() });
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        self.ops().push(Op::Line { x1, y1, x2, y2, width });
    }

    pub fn frame(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.ops().push(Op::Frame { x, y, w, h });
    }

    pub fn image(&mut self, x: f32, y: f32, w: f32, h: f32, image: usize) {
        self.ops().push(Op::Image { x, y, w, h, image });
    }

    pub fn gap(&mut self, h: f32) {
        self.y += h;
    }

    /// A centred line of text.
    pub fn centered(&mut self, size: f32, font: FontId, text: &str) {
        self.ensure(size * LINE);
        let w = self.fonts.width(font, text, size);
        let y = self.y + size;
        self.text((PAGE_W - w) / 2.0, y, size, font, text);
        self.y += size * LINE;
    }

    /// A right-aligned line of text.
    pub fn right(&mut self, size: f32, font: FontId, text: &str) {
        self.ensure(size * LINE);
        let w = self.fonts.width(font, text, size);
        let y = self.y + size;
        self.text(PAGE_W - MARGIN_X - w, y, size, font, text);
        self.y += size * LINE;
    }

    /// Wrapped running text across the content width, first line indented by `indent` points.
    pub fn paragraph(&mut self, size: f32, font: FontId, indent: f32, text: &str) {
        let lines = self.fonts.wrap_indented(font, text, size, CONTENT_W, indent);
        for (i, l) in lines.iter().enumerate() {
            self.ensure(size * LINE);
            let x = if i == 0 { MARGIN_X + indent } else { MARGIN_X };
            let y = self.y + size;
            self.text(x, y, size, font, l);
            self.y += size * LINE;
        }
    }

    /// A bordered table row of cells (label cells in the label font). A row taller than what
    /// is left of the page continues on the next one, the first cell marked （续）.
    pub fn row(&mut self, cells: &[Cell]) {
        const PAD: f32 = 5.0;
        let size = 10.5;
        let mut x = MARGIN_X;
        let mut wrapped: Vec<(f32, f32, Vec<String>, FontId)> = Vec::new();
        for c in cells {
            let w = c.width * CONTENT_W;
            let font = if c.label { FontId::Label } else { FontId::Body };
            let lines = self.fonts.wrap(font, &c.text, size, w - 2.0 * PAD);
            wrapped.push((x, w, lines, font));
            x += w;
        }
        let line_h = size * LINE;
        let mut start = 0usize;
        let total = wrapped.iter().map(|c| c.2.len()).max().unwrap_or(1).max(1);
        let mut first = true;
        while start < total {
            let room = ((Self::bottom() - self.y - 2.0 * PAD) / line_h).floor() as usize;
            if room == 0 || (first && room < total.min(3)) {
                self.new_page();
                continue;
            }
            let take = room.min(total - start);
            let h = take as f32 * line_h + 2.0 * PAD;
            let top = self.y;
            for (ci, (cx, _, lines, font)) in wrapped.iter().enumerate() {
                for (k, l) in lines.iter().skip(start).take(take).enumerate() {
                    let mut l = l.clone();
                    if ci == 0 && k == 0 && !first {
                        l.push_str("（续）");
                    }
                    let y = top + PAD + size + k as f32 * line_h - 1.5;
                    self.text(cx + PAD, y, size, *font, &l);
                }
                self.line(*cx, top, *cx, top + h, 0.6);
            }
            let right = MARGIN_X + CONTENT_W;
            self.line(right, top, right, top + h, 0.6);
            self.line(MARGIN_X, top, right, top, 0.6);
            self.line(MARGIN_X, top + h, right, top + h, 0.6);
            self.y = top + h;
            start += take;
            first = false;
        }
    }
}

pub struct Cell {
    pub text: String,
    /// Share of the content width.
    pub width: f32,
    pub label: bool,
}

pub fn label(text: &str, width: f32) -> Cell {
    Cell { text: text.to_string(), width, label: true }
}

pub fn value(text: impl Into<String>, width: f32) -> Cell {
    Cell { text: text.into(), width, label: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fill_the_width_and_keep_punctuation_rules() {
        let f = Fonts::load();
        let text = "我机关执法人员于2026年11月20日对你单位进行了现场检查（现场检查笔录编号：鄂环现检〔2026〕00012号），发现你单位存在以下环境违法行为：";
        let width = 300.0;
        let lines = f.wrap_indented(FontId::Body, text, 12.0, width, 24.0);
        assert_eq!(lines.concat(), text, "nothing lost or added");
        for (n, l) in lines.iter().enumerate() {
            let room = if n == 0 { width - 24.0 } else { width };
            let w = f.width(FontId::Body, l, 12.0);
            assert!(w <= room + 12.0, "line {n} overflows: {w} > {room}");
            if n + 1 < lines.len() {
                assert!(w > room - 2.0 * 12.0 - 1.0, "line {n} is short: {w} of {room}");
            }
            assert!(
                !l.starts_with(['，', '。', '：', '）', '〕']),
                "line {n} starts with closing punctuation"
            );
            assert!(!l.ends_with(['（', '〔']), "line {n} ends with opening punctuation");
            assert!(!l.is_empty());
        }
        assert_eq!(f.wrap(FontId::Body, "甲\n\n乙", 12.0, 100.0), ["甲", "", "乙"], "empty paragraphs stay");
    }

    #[test]
    fn the_label_font_covers_every_label_of_the_forms() {
        let f = Fonts::load();
        let sources = [include_str!("forms.rs"), include_str!("draw.rs")];
        let missing: String = sources
            .iter()
            .flat_map(|s| s.chars())
            .filter(|c| (*c as u32) > 0x2000 && !f.label_covers(*c))
            .collect();
        assert!(missing.is_empty(), "run scripts/make-document-font.sh: the label font lacks {missing}");
    }
}
