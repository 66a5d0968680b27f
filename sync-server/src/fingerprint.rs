//! Perceptual fingerprints of stored photos, for finding the same picture under another hash.
//!
//! A reused photo rarely arrives byte-identical: the tablet re-encodes it, resizes it to its
//! long edge, stamps a new watermark over the bottom band, and a cheater may crop or brighten
//! it. The fingerprint is a DCT hash (pHash) of the picture *above* the watermark band:
//!
//! 1. decode the JPEG at the smallest DCT scale that is still at least 128 px on the short edge
//!    (1/8 of the work for a 1920 px photo: the hash needs low frequencies only);
//! 2. keep the top 72 % of the rows: the tablet's watermark band takes the bottom ~20 % (four
//!    lines at 1/30 of the short edge), and a new watermark must not decide;
//! 3. average into 32×32 grey cells, take the 2-D DCT, keep the 8×8 lowest frequencies without
//!    the DC term (brightness), and set one bit per coefficient above their median.
//!
//! Brightness and contrast changes move the DC term and scale the rest (the median scales with
//! them); re-encoding and resizing barely touch low frequencies; a crop of a few per cent shifts
//! them a little. Two pictures of the same pond a minute apart differ in the framing enough to
//! move many bits: the distance threshold sits between (see the tests in `tests/` and
//! BENCHMARKS.md).
//!
//! Look-up: the 64 bits are split into four 16-bit bands. Two fingerprints within
//! [`MAX_DISTANCE`] bits (< 4 × 3) share at least one band within 2 bits, so a look-up probes each
//! band's value and its neighbours within 2 bits (137 values per band), then checks the full
//! distance of the few candidates. The probes go to a [`BandIndex`] in memory (8 bytes per photo
//! and band): on a database index 548 probes per photo cost ~4 ms at a million photos, which
//! is too much to spend on every pushed photo (BENCHMARKS.md).

use std::io::Cursor;

/// Most differing bits for two photos to count as the same picture.
pub const MAX_DISTANCE: u32 = 10;
/// How far one band may differ in a candidate (pigeonhole: 4 × (BAND_RADIUS + 1) > MAX_DISTANCE).
pub const BAND_RADIUS: u32 = 2;
/// Share of the rows, from the top, that the hash looks at (the rest is the watermark band).
const TOP_SHARE: f64 = 0.72;
const CELLS: usize = 32;
const LOW: usize = 8;
/// Largest image the decoder is asked to look at (pixels), as the photo pipeline's bound.
const MAX_PIXELS: u64 = 50_000_000;

pub type Fingerprint = u64;

/// The fingerprint of a JPEG, or `None` when the bytes are not a decodable JPEG (a signature
/// scan in PNG, random bytes from a test, a damaged file).
pub fn fingerprint(bytes: &[u8]) -> Option<Fingerprint> {
    let (grey, w, h) = decode_grey(bytes)?;
    Some(hash_grey(&grey, w, h))
}

/// Differing bits.
pub fn distance(a: Fingerprint, b: Fingerprint) -> u32 {
    (a ^ b).count_ones()
}

/// The four 16-bit bands the index keeps, high band first.
pub fn bands(fp: Fingerprint) -> [u16; 4] {
    [(fp >> 48) as u16, (fp >> 32) as u16, (fp >> 16) as u16, fp as u16]
}

/// Probes per band: the value itself, its 16 one-bit and 120 two-bit neighbours.
const PROBES: usize = 1 + 16 + 120;

/// What each probe XORs into a band value, zero first.
const MASKS: [u16; PROBES] = {
    assert!(BAND_RADIUS == 2);
    let mut out = [0u16; PROBES];
    let mut n = 1;
    let mut i = 0;
    while i < 16 {
        out[n] = 1 << i;
        n += 1;
        i += 1;
    }
    let mut i = 0;
    while i < 16 {
        let mut j = i + 1;
        while j < 16 {
            out[n] = (1 << i) | (1 << j);
            n += 1;
            j += 1;
        }
        i += 1;
    }
    out
};

/// Every 16-bit value within [`BAND_RADIUS`] bits of `v` (itself first).
pub fn band_neighbours(v: u16) -> Vec<u16> {
    MASKS.iter().map(|m| v ^ m).collect()
}

/// How many fingerprints may wait unpacked, scanned in full by every look-up (~1.5 ns each):
/// a 128th of the index, so that packing again (one pass over everything) costs a few
/// microseconds per insert at any size, within bounds that keep the scan short.
fn recent_limit(len: usize) -> usize {
    (len / 128).clamp(1024, 8192)
}

/// Every stored fingerprint, bucketed by each of its four bands: the candidate filter of the
/// near-duplicate look-up. It holds no hashes (the store resolves the few fingerprints within
/// distance to their photos), so a stale entry costs a wasted look-up, never a wrong answer.
///
/// Each band is packed: one array of fingerprints sorted by the band's value and the offset
/// where each of the 65,536 values starts. A look-up's 548 probes then read a 1 MiB offset table
/// that stays in cache and short runs of one array, instead of 548 scattered vectors (the
/// look-up is a memory-latency problem: a vector per value made it the costliest step of a
/// checked push). New fingerprints wait in a short list until it is packed in.
pub struct BandIndex {
    starts: [Vec<u32>; 4],
    packed: [Vec<Fingerprint>; 4],
    recent: Vec<Fingerprint>,
}

impl Default for BandIndex {
    fn default() -> Self {
        let starts = || vec![0u32; (1 << 16) + 1];
        BandIndex {
            starts: [starts(), starts(), starts(), starts()],
            packed: Default::default(),
            recent: Vec::new(),
        }
    }
}

impl BandIndex {
    pub fn insert(&mut self, fp: Fingerprint) {
        self.recent.push(fp);
        if self.recent.len() >= recent_limit(self.len()) {
            self.pack();
        }
    }

    /// Every fingerprint into the packed arrays (a counting sort per band).
    fn pack(&mut self) {
        let mut all = std::mem::take(&mut self.packed[0]);
        all.append(&mut self.recent);
        for b in 0..4 {
            let key = |fp: Fingerprint| usize::from(bands(fp)[b]);
            let starts = &mut self.starts[b];
            starts.iter_mut().for_each(|s| *s = 0);
            for fp in &all {
                starts[key(*fp) + 1] += 1;
            }
            for v in 0..(1 << 16) {
                starts[v + 1] += starts[v];
            }
            let mut next: Vec<u32> = starts[..1 << 16].to_vec();
            let mut packed = vec![0; all.len()];
            for fp in &all {
                let at = &mut next[key(*fp)];
                packed[*at as usize] = *fp;
                *at += 1;
            }
            self.packed[b] = packed;
        }
    }

    pub fn len(&self) -> usize {
        self.packed[0].len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stored fingerprints within `max` bits of `fp` (`max` ≤ [`MAX_DISTANCE`]), each once.
    pub fn near(&self, fp: Fingerprint, max: u32) -> Vec<Fingerprint> {
        let close = |o: &&Fingerprint| distance(fp, **o) <= max;
        let mut out: Vec<Fingerprint> = self.recent.iter().filter(close).copied().collect();
        for (b, v) in bands(fp).into_iter().enumerate() {
            let (starts, packed) = (&self.starts[b], &self.packed[b]);
            for m in MASKS {
                let n = usize::from(v ^ m);
                out.extend(packed[starts[n] as usize..starts[n + 1] as usize].iter().filter(close));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Grey pixels of the JPEG, decoded at a DCT scale just large enough.
fn decode_grey(bytes: &[u8]) -> Option<(Vec<u8>, usize, usize)> {
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().ok()?;
    let info = d.info()?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return None;
    }
    // Ask for 128 px on the short edge; the decoder picks the smallest of 1/8..1 that covers it.
    let short = w.min(h).max(1);
    let want = 128.min(short);
    let (rw, rh) = (
        (u64::from(w) * u64::from(want) / u64::from(short)) as u32,
        (u64::from(h) * u64::from(want) / u64::from(short)) as u32,
    );
    d.scale(rw.clamp(1, 65535) as u16, rh.clamp(1, 65535) as u16).ok()?;
    let pixels = d.decode().ok()?;
    let info = d.info()?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let grey: Vec<u8> = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels,
        jpeg_decoder::PixelFormat::L16 => pixels.chunks_exact(2).map(|c| c[0].max(c[1])).collect(),
        jpeg_decoder::PixelFormat::RGB24 => pixels
            .chunks_exact(3)
            .map(|c| ((u32::from(c[0]) * 299 + u32::from(c[1]) * 587 + u32::from(c[2]) * 114) / 1000) as u8)
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .map(|c| {
                let k = 255 - u32::from(c[3]);
                let [r, g, b] = [c[0], c[1], c[2]].map(|v| (255 - u32::from(v)) * k / 255);
                ((r * 299 + g * 587 + b * 114) / 1000) as u8
            })
            .collect(),
    };
    if grey.len() != w * h || w < LOW || h < LOW {
        return None;
    }
    Some((grey, w, h))
}

/// The hash of a grey image (`w × h`, row-major).
pub fn hash_grey(grey: &[u8], w: usize, h: usize) -> Fingerprint {
    let top = ((h as f64 * TOP_SHARE).round() as usize).clamp(1, h);
    // Area average into CELLS × CELLS cells over the top part.
    let mut cells = [[0f64; CELLS]; CELLS];
    for (cy, row) in cells.iter_mut().enumerate() {
        let y0 = cy * top / CELLS;
        let y1 = ((cy + 1) * top / CELLS).max(y0 + 1).min(top);
        for (cx, cell) in row.iter_mut().enumerate() {
            let x0 = cx * w / CELLS;
            let x1 = ((cx + 1) * w / CELLS).max(x0 + 1).min(w);
            let mut sum = 0u64;
            for y in y0..y1 {
                let line = &grey[y * w..y * w + w];
                sum += line[x0..x1].iter().map(|&p| u64::from(p)).sum::<u64>();
            }
            *cell = sum as f64 / ((y1 - y0) * (x1 - x0)) as f64;
        }
    }
    let coeffs = dct_low(&cells);
    // Leave out the DC term: it is the mean brightness.
    let ac: Vec<f64> = coeffs.iter().copied().skip(1).collect();
    let mut sorted = ac.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mut fp: u64 = 0;
    for (n, c) in ac.iter().enumerate() {
        if *c > median {
            fp |= 1 << n;
        }
    }
    // 63 bits; the top bit stays clear.
    fp
}

/// The LOW × LOW lowest-frequency coefficients of the 2-D DCT-II of the cells, row-major.
fn dct_low(cells: &[[f64; CELLS]; CELLS]) -> Vec<f64> {
    let basis: Vec<[f64; CELLS]> = (0..LOW)
        .map(|k| {
            let mut b = [0f64; CELLS];
            for (n, v) in b.iter_mut().enumerate() {
                *v = (std::f64::consts::PI / CELLS as f64 * (n as f64 + 0.5) * k as f64).cos();
            }
            b
        })
        .collect();
    // Rows first: for each row, LOW coefficients.
    let mut rows = [[0f64; LOW]; CELLS];
    for (y, row) in cells.iter().enumerate() {
        for (k, b) in basis.iter().enumerate() {
            rows[y][k] = row.iter().zip(b).map(|(a, c)| a * c).sum();
        }
    }
    let mut out = Vec::with_capacity(LOW * LOW);
    for by in &basis {
        for kx in 0..LOW {
            out.push(rows.iter().zip(by).map(|(row, b)| row[kx] * b).sum());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real camera photo (640×480) as grey pixels.
    fn photo() -> (Vec<u8>, usize, usize) {
        decode_grey(include_bytes!("../../tests/data/photos/coolpix-gps-small.jpg")).expect("decodes")
    }

    #[test]
    fn brightness_and_the_bottom_band_do_not_change_the_hash() {
        let (grey, w, h) = photo();
        let a = hash_grey(&grey, w, h);
        let brighter: Vec<u8> = grey.iter().map(|&p| (f64::from(p) * 0.9 + 20.0) as u8).collect();
        let d = distance(a, hash_grey(&brighter, w, h));
        assert!(d <= 2, "{d}");
        // Anything in the bottom 25 % (a watermark) does not count.
        let mut stamped = grey.clone();
        for (n, p) in stamped[w * (h * 3 / 4)..].iter_mut().enumerate() {
            *p = (n * 7 % 255) as u8;
        }
        assert_eq!(a, hash_grey(&stamped, w, h));
        // The picture upside down is another picture.
        let flipped: Vec<u8> = grey.chunks(w).rev().flatten().copied().collect();
        let d = distance(a, hash_grey(&flipped, w, h));
        assert!(d > MAX_DISTANCE, "{d}");
    }

    #[test]
    fn band_probes_cover_the_threshold() {
        const { assert!(4 * (BAND_RADIUS + 1) > MAX_DISTANCE) };
        let n = band_neighbours(0b1010);
        assert_eq!(n.len(), 137);
        assert!(n.iter().all(|v| (v ^ 0b1010).count_ones() <= BAND_RADIUS));
        let mut sorted = n.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), n.len());
        let fp = 0x0123_4567_89ab_cdef;
        assert_eq!(bands(fp), [0x0123, 0x4567, 0x89ab, 0xcdef]);
    }

    #[test]
    fn the_band_index_finds_everything_within_the_distance_and_nothing_beyond() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> 1
        };
        // Several packings and a tail of recent ones: both halves of the index answer.
        let stored: Vec<u64> = (0..5 * 1024 + 700).map(|_| next()).collect();
        let mut index = BandIndex::default();
        stored.iter().for_each(|f| index.insert(*f));
        assert_eq!(index.len(), stored.len());
        assert_eq!(index.recent.len(), 700);
        for probe in 0..300u32 {
            let base = stored[probe as usize * 19];
            // Flip `probe % 14` low-entropy-spread bits: within and beyond the distance.
            let flips = probe % 14;
            let q = (0..flips).fold(base, |q, k| q ^ (1 << ((k * 5 + probe) % 63)));
            let want: Vec<u64> = {
                let mut w: Vec<u64> =
                    stored.iter().copied().filter(|s| distance(q, *s) <= MAX_DISTANCE).collect();
                w.sort_unstable();
                w.dedup();
                w
            };
            assert_eq!(index.near(q, MAX_DISTANCE), want, "probe {probe} with {flips} flips");
        }
    }

    #[test]
    fn anything_but_a_jpeg_has_no_fingerprint() {
        assert_eq!(fingerprint(b"not a jpeg"), None);
        assert_eq!(fingerprint(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]), None);
    }
}
