//! Strict single-pass scanner for the usual book message shapes.
//!
//! It walks the bytes once, turning `[["px","sz"],...]` straight into rows, and fills the same
//! head structs the serde visitors fill so `finish` gives identical fields. Anything it is not
//! sure about (escapes, non-ASCII, floats, duplicate keys, unknown topics, errors) answers
//! `None`, and the caller re-parses the message with serde for the exact result or error.

use super::super::decimal::{parse_f64, scaled, FAST_MAX_DIGITS, FAST_MAX_LEN};
use super::super::rows::{MessageFields, RowBuffer};
use super::{is_bybit_book, BinanceHead, BookFormat, BybitData, BybitHead};

/// Nesting allowed for Binance `data` objects (the serde path recurses without a limit).
const MAX_BINANCE_DEPTH: u8 = 2;

/// Parse one message; `None` means "not handled here" (rows pushed so far must be dropped).
pub(super) fn parse(
    msg: &[u8],
    format: BookFormat,
    local: Option<i64>,
    buf: &mut RowBuffer,
) -> Option<MessageFields> {
    let mut c = Cursor { b: msg, i: 0 };
    let mut fields = match format {
        BookFormat::Bybit => {
            let head = c.bybit(buf)?;
            c.end()?;
            head.finish(buf).ok()??
        }
        BookFormat::Binance => {
            let head = c.binance(buf, 0)?;
            c.end()?;
            head.finish(local).ok()??
        }
    };
    fields.local_ts = local.unwrap_or(fields.exch_ts);
    Some(fields)
}

/// Set `bit` in `seen`; `None` when it was already set (a duplicate key).
#[inline]
fn first_time(seen: &mut u16, bit: u16) -> Option<()> {
    let fresh = *seen & bit == 0;
    *seen |= bit;
    fresh.then_some(())
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Skip JSON whitespace and return the next byte without consuming it.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    /// Only whitespace may follow the top-level value.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// A string of printable ASCII without escapes, as raw bytes.
    #[inline]
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return Some(&self.b[start..self.i - 1]),
                b'\\' | 0..=0x1f | 0x80..=0xff => return None,
                _ => {}
            }
        }
    }

    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// A non-negative JSON integer that fits in i64 (no sign, fraction or exponent).
    #[inline]
    fn int(&mut self) -> Option<i64> {
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return None;
        }
        self.i += 1;
        let mut v = i64::from(first - b'0');
        if first == b'0' {
            return Some(v); // a following digit is then not a valid separator: caller bails
        }
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            self.i += 1;
        }
        Some(v)
    }

    /// Skip a value that is a plain string, integer, `true`, `false` or `null`.
    fn simple_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.raw_string().map(drop),
            b'0'..=b'9' => self.int().map(drop),
            _ => [&b"true"[..], b"false", b"null"]
                .iter()
                .find_map(|w| self.b[self.i..].starts_with(w).then(|| self.i += w.len())),
        }
    }

    /// Walk an object, handing each key (raw bytes) to `f`, which must consume the value.
    #[inline]
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.raw_string()?;
            self.eat(b':')?;
            f(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A decimal string; digits are accumulated while the string is scanned.
    #[inline]
    fn decimal(&mut self) -> Option<f64> {
        self.eat(b'"')?;
        let start = self.i;
        let mut mant: u64 = 0;
        let mut digits = 0usize;
        let mut frac = usize::MAX;
        loop {
            let c = *self.b.get(self.i)?;
            match c {
                b'0'..=b'9' => {
                    mant = mant.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    digits += 1;
                }
                b'.' if frac == usize::MAX => frac = digits,
                b'"' => break,
                _ => return self.slow_decimal(start),
            }
            self.i += 1;
        }
        let len = self.i - start;
        self.i += 1;
        if len <= FAST_MAX_LEN && (1..=FAST_MAX_DIGITS).contains(&digits) {
            let scale = if frac == usize::MAX { 0 } else { digits - frac };
            return Some(scaled(mant, scale));
        }
        parse_f64(std::str::from_utf8(&self.b[start..self.i - 1]).ok()?)
    }

    /// Anything else in a price string ("1e3", "-1"): the general parser, as serde would use.
    #[cold]
    fn slow_decimal(&mut self, start: usize) -> Option<f64> {
        self.i = start - 1;
        parse_f64(self.string()?)
    }

    /// `[["px","sz"], ...]` pushed into `buf` with `side`.
    #[inline]
    fn levels(&mut self, buf: &mut RowBuffer, side: i8) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.eat(b'[')?;
            let px = self.decimal()?;
            self.eat(b',')?;
            let qty = self.decimal()?;
            self.eat(b']')?;
            buf.push_level(px, qty, side);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    // ---- Bybit v5 ----

    fn bybit(&mut self, buf: &mut RowBuffer) -> Option<BybitHead<'a>> {
        let mut head = BybitHead::default();
        let mut seen = 0u16;
        self.object(|c, key| match key {
            b"topic" => {
                first_time(&mut seen, 1)?;
                // Other topics and `data` before `topic` are left to serde.
                head.topic = Some(c.string().filter(|t| is_bybit_book(t))?);
                Some(())
            }
            b"type" => {
                first_time(&mut seen, 2)?;
                head.kind = Some(c.string()?);
                Some(())
            }
            b"ts" => {
                first_time(&mut seen, 4)?;
                head.ts = Some(c.int()?);
                Some(())
            }
            b"data" => {
                first_time(&mut seen, 8)?;
                head.topic?;
                head.data = Some(c.bybit_data(buf)?);
                Some(())
            }
            _ => c.simple_value(),
        })?;
        Some(head)
    }

    fn bybit_data(&mut self, buf: &mut RowBuffer) -> Option<BybitData> {
        let mut data = BybitData::default();
        let mut seen = 0u16;
        self.object(|c, key| match key {
            b"b" => {
                first_time(&mut seen, 1)?;
                c.levels(buf, 1)?;
                data.levels |= 1;
                Some(())
            }
            b"a" => {
                first_time(&mut seen, 2)?;
                c.levels(buf, -1)?;
                data.levels |= 2;
                Some(())
            }
            b"u" => {
                first_time(&mut seen, 4)?;
                data.u = Some(c.int()?);
                Some(())
            }
            b"seq" => {
                first_time(&mut seen, 8)?;
                data.seq = Some(c.int()?);
                Some(())
            }
            _ => c.simple_value(),
        })?;
        Some(data)
    }

    // ---- Binance depthUpdate (bare or in a combined-stream wrapper) and REST snapshot ----

    fn binance(&mut self, buf: &mut RowBuffer, depth: u8) -> Option<BinanceHead<'a>> {
        let mut h = BinanceHead::default();
        let mut seen = 0u16;
        self.object(|c, key| {
            let int_slot = match key {
                b"stream" => {
                    first_time(&mut seen, 1)?;
                    h.stream = Some(c.string().filter(|s| s.contains("@depth"))?);
                    return Some(());
                }
                b"data" => {
                    first_time(&mut seen, 2)?;
                    if depth >= MAX_BINANCE_DEPTH {
                        return None;
                    }
                    h.data = Some(Box::new(c.binance(buf, depth + 1)?));
                    return Some(());
                }
                b"e" => {
                    first_time(&mut seen, 4)?;
                    h.event = Some(c.string().filter(|e| *e == "depthUpdate")?);
                    return Some(());
                }
                b"b" | b"bids" | b"a" | b"asks" => {
                    let (bit, side) = if key[0] == b'b' { (8, 1) } else { (16, -1) };
                    first_time(&mut seen, bit)?;
                    c.levels(buf, side)?;
                    h.levels |= if side == 1 { 1 } else { 2 };
                    return Some(());
                }
                b"E" => (32, &mut h.event_time),
                b"T" => (64, &mut h.tx_time),
                b"U" => (128, &mut h.first),
                b"u" => (256, &mut h.last),
                b"pu" => (512, &mut h.prev_last),
                b"lastUpdateId" => (1024, &mut h.last_update_id),
                _ => return c.simple_value(),
            };
            first_time(&mut seen, int_slot.0)?;
            *int_slot.1 = Some(c.int()?);
            Some(())
        })?;
        Some(h)
    }
}
