//! Time for display: storage is UTC, people in Hubei read Beijing time (Asia/Shanghai, UTC+8 all
//! year, no daylight saving).

use time::{OffsetDateTime, UtcOffset};

pub const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// `YYYY-MM-DD hh:mm:ss` in Beijing time.
pub fn beijing(t: OffsetDateTime) -> String {
    let t = t.to_offset(BEIJING);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_evening_is_next_morning_in_beijing() {
        assert_eq!(beijing(time::macros::datetime!(2026-11-29 18:30:05 UTC)), "2026-11-30 02:30:05");
    }
}
