//! Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a 31-symbol
//! alphabet, the last one a check character over the first 17.

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("统一社会信用代码必须为 18 位")]
    Length,
    #[error("统一社会信用代码含有无效字符")]
    Charset,
    #[error("统一社会信用代码校验位错误")]
    Checksum,
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters (which must be valid alphabet symbols).
pub fn check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize] as char)
}

/// Validate a code as written (upper case; surrounding whitespace is the caller's to trim).
pub fn validate(code: &str) -> Result<(), UsccError> {
    let b = code.as_bytes();
    if code.chars().count() != 18 || b.len() != 18 {
        return Err(UsccError::Length);
    }
    if !b.iter().all(|c| value(*c).is_some()) {
        return Err(UsccError::Charset);
    }
    match check_char(&b[..17]) {
        Some(c) if c as u8 == b[17] => Ok(()),
        _ => Err(UsccError::Checksum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_codes() {
        // The standard's worked example and a published company code.
        for code in ["91350100M000100Y43", "91440300708461136T"] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn rejects_bad() {
        assert_eq!(validate("91350100M000100Y44"), Err(UsccError::Checksum));
        assert_eq!(validate("91350100M000100Y4"), Err(UsccError::Length));
        assert_eq!(validate("91350100M000100I43"), Err(UsccError::Charset));
        assert_eq!(validate("91350100m000100Y43"), Err(UsccError::Charset));
        assert_eq!(validate("统一社会信用代码统一社会信用代码统一"), Err(UsccError::Length));
    }

    #[test]
    fn generated_check_chars_validate() {
        let body = b"91420102MA4KXXXX0";
        let c = check_char(body).unwrap();
        let code = format!("{}{}", std::str::from_utf8(body).unwrap(), c);
        assert_eq!(validate(&code), Ok(()));
    }
}
