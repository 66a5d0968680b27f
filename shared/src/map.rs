//! Map maths for the console's map, which draws points itself (SVG) so that it works with no
//! internet: Web Mercator projection, fitting a view to points, and which `{z}/{x}/{y}` tiles
//! cover a view when a tile server is configured. Pure functions, testable off the browser.

use crate::geo::{LngLat, wgs84_to_gcj02};

pub const TILE: f64 = 256.0;
const MAX_LAT: f64 = 85.051_128_78;

/// Web Mercator world coordinates in 0..1 (x east, y south).
pub fn world(p: LngLat) -> (f64, f64) {
    let lat = p.lat().clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (p.lng() + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// What the map shows: the world point at the centre and an integer zoom (tiles need one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub center: (f64, f64),
    pub zoom: u8,
    pub width: f64,
    pub height: f64,
}

impl View {
    fn scale(&self) -> f64 {
        TILE * f64::from(1u32 << self.zoom)
    }

    /// Screen position (pixels from the top left) of a world point.
    pub fn screen(&self, w: (f64, f64)) -> (f64, f64) {
        let s = self.scale();
        ((w.0 - self.center.0) * s + self.width / 2.0, (w.1 - self.center.1) * s + self.height / 2.0)
    }

    /// Screen position of a WGS-84 point; `gcj02` shifts it first for GCJ-02 basemaps.
    pub fn place(&self, p: LngLat, gcj02: bool) -> (f64, f64) {
        self.screen(world(if gcj02 { wgs84_to_gcj02(p) } else { p }))
    }

    /// The tiles covering the view, with the screen position of each tile's top-left corner.
    pub fn tiles(&self) -> Vec<(u8, u32, u32, f64, f64)> {
        let n = 1u32 << self.zoom;
        let s = self.scale();
        let left = self.center.0 * s - self.width / 2.0;
        let top = self.center.1 * s - self.height / 2.0;
        let x0 = (left / TILE).floor().max(0.0) as u32;
        let y0 = (top / TILE).floor().max(0.0) as u32;
        let x1 = (((left + self.width) / TILE).floor() as u32).min(n - 1);
        let y1 = (((top + self.height) / TILE).floor() as u32).min(n - 1);
        let mut out = Vec::new();
        for y in y0..=y1 {
            for x in x0..=x1 {
                out.push((self.zoom, x, y, f64::from(x) * TILE - left, f64::from(y) * TILE - top));
            }
        }
        out
    }

    /// Zoom in or out by one step around the centre.
    pub fn zoomed(&self, delta: i8) -> View {
        View { zoom: (i16::from(self.zoom) + i16::from(delta)).clamp(1, 18) as u8, ..*self }
    }

    /// Zoom by `delta` steps keeping the world point under screen position `at` where it is (the
    /// wheel and a click on a cluster zoom towards the pointer, not the middle of the map).
    pub fn zoomed_at(&self, delta: i8, at: (f64, f64)) -> View {
        let (dx, dy) = (at.0 - self.width / 2.0, at.1 - self.height / 2.0);
        let z = self.zoomed(delta);
        let (before, after) = (self.scale(), z.scale());
        // The point under `at` is center + d/before; keep it at the same screen offset.
        View {
            center: (self.center.0 + dx / before - dx / after, self.center.1 + dy / before - dy / after),
            ..z
        }
    }

    /// Move the centre by a number of screen pixels.
    pub fn panned(&self, dx: f64, dy: f64) -> View {
        let s = self.scale();
        View { center: (self.center.0 + dx / s, self.center.1 + dy / s), ..*self }
    }
}

/// The largest zoom (up to 17) at which all points fit in `width` × `height` less `pad` pixels
/// on each side, centred on them; Hubei as a whole when there are no points.
pub fn fit(points: &[LngLat], width: f64, height: f64, pad: f64) -> View {
    let ws: Vec<(f64, f64)> = points.iter().map(|p| world(*p)).collect();
    let (min_x, max_x, min_y, max_y) = if ws.is_empty() {
        let (a, b) = (world(LngLat::new(108.3, 33.3)), world(LngLat::new(116.2, 29.0)));
        (a.0, b.0, a.1, b.1)
    } else {
        ws.iter().fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |(a, b, c, d), w| {
            (a.min(w.0), b.max(w.0), c.min(w.1), d.max(w.1))
        })
    };
    let center = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    let (aw, ah) = ((width - 2.0 * pad).max(1.0), (height - 2.0 * pad).max(1.0));
    let mut zoom = 17u8;
    while zoom > 1 {
        let s = TILE * f64::from(1u32 << zoom);
        if (max_x - min_x) * s <= aw && (max_y - min_y) * s <= ah {
            break;
        }
        zoom -= 1;
    }
    View { center, zoom, width, height }
}

/// Points on screen, grouped so that a province's 28,000 sites stay readable and cheap to draw:
/// the screen is cut into `cell`-pixel squares and the points of one class in one square become
/// one mark at their mean position, with their count. Points off screen (beyond `margin`) are
/// left out. `points` are screen positions with a class index; each mark keeps the index of its
/// first point so that a lone point can still show its own title.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub class: u8,
    pub count: u32,
    pub first: usize,
}

pub fn cluster(points: &[(f64, f64, u8)], width: f64, height: f64, cell: f64, margin: f64) -> Vec<Mark> {
    let on_screen =
        |x: f64, y: f64| x >= -margin && x < width + margin && y >= -margin && y < height + margin;
    if cell <= 1.0 {
        // Close in, every point stands alone: no grid (a pixel grid would be megabytes a frame).
        return points
            .iter()
            .enumerate()
            .filter(|(_, p)| on_screen(p.0, p.1))
            .map(|(i, &(x, y, class))| Mark { x, y, class, count: 1, first: i })
            .collect();
    }
    let cols = ((width + 2.0 * margin) / cell).ceil().max(1.0) as usize;
    let rows = ((height + 2.0 * margin) / cell).ceil().max(1.0) as usize;
    // Dense grid of slots, one per cell and class seen there; the screen is small, the
    // point count large, so a flat index beats hashing.
    let mut slot: Vec<u32> = vec![u32::MAX; cols * rows * 4];
    let mut sums: Vec<(f64, f64)> = Vec::new();
    let mut marks: Vec<Mark> = Vec::new();
    for (i, &(x, y, class)) in points.iter().enumerate() {
        if !on_screen(x, y) {
            continue;
        }
        let (c, r) = (((x + margin) / cell) as usize, ((y + margin) / cell) as usize);
        let k = (r.min(rows - 1) * cols + c.min(cols - 1)) * 4 + usize::from(class.min(3));
        match slot[k] {
            u32::MAX => {
                slot[k] = marks.len() as u32;
                sums.push((x, y));
                marks.push(Mark { x, y, class, count: 1, first: i });
            }
            m => {
                let m = m as usize;
                sums[m].0 += x;
                sums[m].1 += y;
                marks[m].count += 1;
            }
        }
    }
    for (m, (sx, sy)) in marks.iter_mut().zip(sums) {
        m.x = sx / f64::from(m.count);
        m.y = sy / f64::from(m.count);
    }
    marks
}

/// The mark drawn at `at` (within `radius` pixels of its centre), nearest first.
pub fn mark_at(marks: &[Mark], at: (f64, f64), radius: impl Fn(&Mark) -> f64) -> Option<usize> {
    marks
        .iter()
        .enumerate()
        .map(|(i, m)| (i, (m.x - at.0).hypot(m.y - at.1), radius(m)))
        .filter(|(_, d, r)| d <= r)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _, _)| i)
}

/// Fill a `{z}/{x}/{y}` tile URL template.
pub fn tile_url(template: &str, z: u8, x: u32, y: u32) -> String {
    template.replace("{z}", &z.to_string()).replace("{x}", &x.to_string()).replace("{y}", &y.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_corners_and_wuhan_tile() {
        assert_eq!(world(LngLat::new(-180.0, 0.0)), (0.0, 0.5));
        let (x, y) = world(LngLat::new(180.0, 0.0));
        assert!((x - 1.0).abs() < 1e-12 && (y - 0.5).abs() < 1e-12);
        // Wuhan (114.30, 30.59) lies in OSM/Tianditu tile z=10 x=837 y=420.
        let (x, y) = world(LngLat::new(114.30, 30.59));
        assert_eq!(((x * 1024.0) as u32, (y * 1024.0) as u32), (837, 420));
    }

    #[test]
    fn fit_keeps_every_point_on_screen_and_zooms_as_far_as_it_can() {
        let pts = [LngLat::new(114.0, 30.0), LngLat::new(114.5, 30.8), LngLat::new(113.2, 31.1)];
        let v = fit(&pts, 800.0, 600.0, 20.0);
        for p in pts {
            let (x, y) = v.place(p, false);
            assert!(
                (20.0 - 1e-6..=780.0 + 1e-6).contains(&x) && (20.0 - 1e-6..=580.0 + 1e-6).contains(&y),
                "{x},{y}"
            );
        }
        let closer = v.zoomed(1);
        assert!(pts.iter().any(|p| {
            let (x, y) = closer.place(*p, false);
            !(20.0..=780.0).contains(&x) || !(20.0..=580.0).contains(&y)
        }));
    }

    #[test]
    fn tiles_cover_the_view_exactly() {
        let v = fit(&[LngLat::new(114.30, 30.59)], 600.0, 400.0, 10.0).zoomed(-7);
        let tiles = v.tiles();
        assert!(!tiles.is_empty());
        for (_, _, _, sx, sy) in &tiles {
            assert!(*sx > -TILE && *sx < 600.0 && *sy > -TILE && *sy < 400.0);
        }
        // The tile under the centre of the screen contains the centre point.
        let (z, x, y, sx, sy) = *tiles
            .iter()
            .find(|t| t.3 <= 300.0 && 300.0 < t.3 + TILE && t.4 <= 200.0 && 200.0 < t.4 + TILE)
            .expect("a tile under the centre");
        let n = f64::from(1u32 << z);
        assert_eq!(((v.center.0 * n) as u32, (v.center.1 * n) as u32), (x, y));
        let _ = (sx, sy);
        assert_eq!(tile_url("https://t/{z}/{x}/{y}.png", 3, 6, 2), "https://t/3/6/2.png");
    }

    #[test]
    fn zooming_at_a_point_keeps_that_point_under_the_pointer() {
        let v = fit(&[LngLat::new(112.0, 31.0), LngLat::new(114.5, 30.0)], 800.0, 600.0, 20.0);
        let p = LngLat::new(113.9, 30.2);
        let at = v.place(p, false);
        for d in [1i8, 2, -1, -3] {
            let z = v.zoomed_at(d, at);
            assert_eq!(z.zoom, v.zoomed(d).zoom);
            let after = z.place(p, false);
            assert!(
                (after.0 - at.0).abs() < 1e-6 && (after.1 - at.1).abs() < 1e-6,
                "{d}: {at:?} → {after:?}"
            );
        }
    }

    #[test]
    fn clusters_account_for_every_point_on_screen_once() {
        // A deterministic scatter: dense in one corner, sparse elsewhere, some off screen.
        let mut pts = Vec::new();
        let mut s = 12345u64;
        for i in 0..5000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (a, b) = (((s >> 33) % 1000) as f64, ((s >> 13) % 700) as f64);
            let (x, y) = if i % 2 == 0 { (a / 20.0, b / 20.0) } else { (a - 50.0, b - 30.0) };
            pts.push((x, y, (i % 3 == 0) as u8));
        }
        let marks = cluster(&pts, 800.0, 600.0, 24.0, 8.0);
        let on_screen =
            pts.iter().filter(|p| p.0 >= -8.0 && p.0 < 808.0 && p.1 >= -8.0 && p.1 < 608.0).count();
        assert_eq!(marks.iter().map(|m| m.count as usize).sum::<usize>(), on_screen);
        assert!(marks.len() < on_screen / 3, "dense points merge: {} marks", marks.len());
        for m in &marks {
            assert_eq!(pts[m.first].2, m.class, "a mark's first point has its class");
            assert!(m.x >= -8.0 && m.x < 808.0 && m.y >= -8.0 && m.y < 608.0);
        }
        // Sites and records never merge into one mark.
        let one_place = [(10.0, 10.0, 0), (11.0, 11.0, 1), (12.0, 10.0, 0)];
        let m = cluster(&one_place, 100.0, 100.0, 24.0, 0.0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.iter().find(|m| m.class == 0).unwrap().count, 2);
        assert_eq!(mark_at(&m, (11.0, 10.0), |_| 5.0).map(|i| m[i].class), Some(0));
        assert_eq!(mark_at(&m, (60.0, 60.0), |_| 5.0), None);
        // A one-pixel cell keeps every point on screen by itself.
        let alone = cluster(&pts, 800.0, 600.0, 1.0, 8.0);
        assert_eq!(alone.len(), on_screen);
        assert!(alone.iter().all(|m| m.count == 1 && pts[m.first].0 == m.x));
    }

    #[test]
    fn gcj02_shifts_points_by_hundreds_of_metres() {
        let v = fit(&[LngLat::new(114.30, 30.59)], 600.0, 400.0, 10.0).zoomed(-2);
        let a = v.place(LngLat::new(114.30, 30.59), false);
        let b = v.place(LngLat::new(114.30, 30.59), true);
        assert!((a.0 - b.0).abs() + (a.1 - b.1).abs() > 1.0);
    }
}
