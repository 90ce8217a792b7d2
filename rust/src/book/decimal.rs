//! Decimal strings to f64, exactly as a correctly rounded parser would give them.
//!
//! Venue prices and sizes are short plain decimals ("61800.20"). For those the mantissa fits
//! in 2^53 and the exponent is small, so one IEEE division of two exact values is correctly
//! rounded (Clinger's fast path); anything else goes to the standard library parser.

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Longest string (bytes) and most digits the exact fast path takes.
pub const FAST_MAX_LEN: usize = 16;
/// At most 15 digits keeps the mantissa below 2^53 (exact in f64).
pub const FAST_MAX_DIGITS: usize = 15;

/// `mant / 10^scale` for an exact mantissa (at most `FAST_MAX_DIGITS` digits, so `scale` < 16).
#[inline]
pub fn scaled(mant: u64, scale: usize) -> f64 {
    mant as f64 / POW10[scale]
}

/// Parse a decimal string; `None` when it is not a number.
#[inline]
pub fn parse_f64(s: &str) -> Option<f64> {
    fast_path(s.as_bytes()).or_else(|| s.parse::<f64>().ok())
}

#[inline]
fn fast_path(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b.len() > FAST_MAX_LEN {
        return None;
    }
    let mut mant: u64 = 0;
    let mut digits = 0usize;
    let mut frac: Option<usize> = None;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if frac.is_none() => frac = Some(digits),
            _ => return None,
        }
    }
    if digits == 0 || digits > FAST_MAX_DIGITS {
        return None;
    }
    let scale = frac.map_or(0, |f| digits - f);
    Some(scaled(mant, scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_plain_decimals() {
        assert_eq!(parse_f64("61800.20"), Some(61800.2));
        assert_eq!(parse_f64("0.000"), Some(0.0));
        assert_eq!(parse_f64("6203"), Some(6203.0));
        assert_eq!(parse_f64("1e3"), Some(1000.0));
        assert_eq!(parse_f64("-1.5"), Some(-1.5));
        assert_eq!(parse_f64("abc"), None);
        assert_eq!(parse_f64(""), None);
        assert_eq!(parse_f64("1.2.3"), None);
    }

    proptest! {
        #[test]
        fn matches_std_parser(int in 0u64..10_000_000, frac in 0u64..100_000_000, width in 0usize..9) {
            let s = if width == 0 {
                int.to_string()
            } else {
                let f = frac % 10u64.pow(width as u32);
                format!("{int}.{f:0width$}")
            };
            prop_assert_eq!(parse_f64(&s), s.parse::<f64>().ok());
        }
    }
}
