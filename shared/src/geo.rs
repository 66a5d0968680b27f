//! Coordinates. Everything is stored in WGS-84; GCJ-02 (the offset datum of maps published in
//! China) exists only for display on such basemaps.

use serde::{Deserialize, Serialize};

/// A WGS-84 point (longitude, latitude in degrees) carried as a `geo_types::Point`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LngLat(pub geo_types::Point<f64>);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for LngLat {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <LngLatSchema as utoipa::PartialSchema>::schema()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for LngLat {}

/// Wire form of [`LngLat`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LngLatSchema {
    pub lng: f64,
    pub lat: f64,
}

impl LngLat {
    pub fn new(lng: f64, lat: f64) -> Self {
        LngLat(geo_types::Point::new(lng, lat))
    }
    pub fn lng(&self) -> f64 {
        self.0.x()
    }
    pub fn lat(&self) -> f64 {
        self.0.y()
    }
    /// Finite and within the WGS-84 ranges.
    pub fn is_valid(&self) -> bool {
        self.lng().is_finite()
            && self.lat().is_finite()
            && (-180.0..=180.0).contains(&self.lng())
            && (-90.0..=90.0).contains(&self.lat())
    }
}

impl Serialize for LngLat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LngLatSchema { lng: self.lng(), lat: self.lat() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LngLat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = LngLatSchema::deserialize(d)?;
        Ok(LngLat::new(w.lng, w.lat))
    }
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle (haversine) distance in metres.
pub fn distance_m(a: LngLat, b: LngLat) -> f64 {
    let (la1, la2) = (a.lat().to_radians(), b.lat().to_radians());
    let dla = la2 - la1;
    let dlo = (b.lng() - a.lng()).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

// Krasovsky 1940 ellipsoid as used by the published GCJ-02 approximation.
const GCJ_A: f64 = 6_378_245.0;
const GCJ_EE: f64 = 0.006_693_421_622_965_943;

/// The rough bounding box inside which GCJ-02 applies an offset.
pub fn in_china(p: LngLat) -> bool {
    (72.004..=137.8347).contains(&p.lng()) && (0.8293..=55.8271).contains(&p.lat())
}

fn transform_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lng(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02. Identity outside China.
pub fn wgs84_to_gcj02(p: LngLat) -> LngLat {
    use std::f64::consts::PI;
    if !in_china(p) {
        return p;
    }
    let (lng, lat) = (p.lng(), p.lat());
    let mut dlat = transform_lat(lng - 105.0, lat - 35.0);
    let mut dlng = transform_lng(lng - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - GCJ_EE * radlat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * PI);
    dlng = (dlng * 180.0) / (GCJ_A / sqrt_magic * radlat.cos() * PI);
    LngLat::new(lng + dlng, lat + dlat)
}

/// GCJ-02 → WGS-84 by fixed-point iteration (converges to well under 0.5 m). Identity outside
/// China.
pub fn gcj02_to_wgs84(g: LngLat) -> LngLat {
    if !in_china(g) {
        return g;
    }
    let mut w = g;
    for _ in 0..30 {
        let f = wgs84_to_gcj02(w);
        let (dx, dy) = (g.lng() - f.lng(), g.lat() - f.lat());
        w = LngLat::new(w.lng() + dx, w.lat() + dy);
        if dx.abs() < 1e-10 && dy.abs() < 1e-10 {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_test_vector() {
        let g = wgs84_to_gcj02(LngLat::new(120.0, 40.0));
        assert!((g.lng() - 120.005_675_683_554_86).abs() < 1e-12, "{}", g.lng());
        assert!((g.lat() - 40.001_304_789_601_9).abs() < 1e-12, "{}", g.lat());
    }

    #[test]
    fn offset_in_hubei_is_hundreds_of_metres() {
        let wuhan = LngLat::new(114.3055, 30.5928);
        let d = distance_m(wuhan, wgs84_to_gcj02(wuhan));
        assert!((400.0..700.0).contains(&d), "{d}");
    }

    #[test]
    fn identity_outside_china() {
        let paris = LngLat::new(2.35, 48.85);
        assert_eq!(wgs84_to_gcj02(paris), paris);
        assert_eq!(gcj02_to_wgs84(paris), paris);
    }

    #[test]
    fn haversine_known_distance() {
        // One degree of latitude is about 111.2 km.
        let d = distance_m(LngLat::new(114.0, 30.0), LngLat::new(114.0, 31.0));
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        assert_eq!(distance_m(LngLat::new(1.0, 1.0), LngLat::new(1.0, 1.0)), 0.0);
    }

    proptest! {
        #[test]
        fn inverse_within_half_a_metre(lng in 108.3f64..116.2, lat in 29.0f64..33.3) {
            let w = LngLat::new(lng, lat);
            let back = gcj02_to_wgs84(wgs84_to_gcj02(w));
            prop_assert!(distance_m(w, back) < 0.5);
        }
    }

    #[test]
    fn serde_uses_lng_lat() {
        let p = LngLat::new(114.5, 30.25);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"lng":114.5,"lat":30.25}"#);
    }
}
