//! Raw venue book messages (JSON) to level rows, without building intermediate values.
//!
//! Bybit v5 `orderbook.N.SYM` snapshot/delta, Binance combined-stream `depthUpdate` and the
//! Binance REST depth snapshot. Levels are pushed straight into the row columns by serde seeds;
//! a message that fails half way is truncated away and reported, never fatal.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use sonic_rs::LazyValue;

use super::decimal::parse_f64;
use super::rows::{MessageFields, RowBuffer};
use crate::error::{CoreError, CoreResult};

pub const STATUS_BOOK: u8 = 0;
pub const STATUS_OTHER: u8 = 1;
pub const STATUS_MALFORMED: u8 = 2;
/// How many error strings are kept (all malformed messages are counted).
pub const MAX_ERRORS: usize = 16;

const MS_TO_NS: i64 = 1_000_000;

/// Which venue's message shapes to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookFormat {
    Bybit,
    Binance,
}

impl BookFormat {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "bybit" => Ok(Self::Bybit),
            "binance" => Ok(Self::Binance),
            _ => Err(CoreError::InvalidInput(format!(
                "unknown book format {name:?}; expected \"bybit\" or \"binance\""
            ))),
        }
    }
}

/// Rows of all book messages plus what happened to each input message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedBook {
    pub rows: RowBuffer,
    pub summary: ParseSummary,
}

/// Per-message status (0 book, 1 other kind, 2 malformed) and the first few errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParseSummary {
    pub status: Vec<u8>,
    pub errors: Vec<String>,
    pub malformed: usize,
}

/// Parse raw messages into level rows.
pub fn parse_book_messages(
    messages: &[&[u8]],
    format: BookFormat,
    local_ts: Option<&[i64]>,
) -> CoreResult<ParsedBook> {
    let mut rows = RowBuffer::default();
    let summary = parse_into(messages, format, local_ts, &mut rows)?;
    Ok(ParsedBook { rows, summary })
}

/// Parse raw messages, appending their rows to `buf`.
pub(crate) fn parse_into(
    messages: &[&[u8]],
    format: BookFormat,
    local_ts: Option<&[i64]>,
    buf: &mut RowBuffer,
) -> CoreResult<ParseSummary> {
    parse_all(messages, format, local_ts, buf, parse_one)
}

/// One message's parser: `Some(fields)` for a book message, `None` for another kind.
type ParseOne =
    fn(&[u8], BookFormat, Option<i64>, &mut RowBuffer) -> Result<Option<MessageFields>, String>;

/// Split a buffer of newline-terminated messages: a final newline ends the last line rather
/// than starting an empty one, blank lines count as (malformed) messages, `\r\n` is accepted.
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    body.split(|&c| c == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect()
}

/// `local_ts`, when given, has one receive time per message.
pub(crate) fn check_local_ts(local_ts: Option<&[i64]>, messages: usize) -> CoreResult<()> {
    match local_ts {
        Some(ts) if ts.len() != messages => Err(CoreError::InvalidInput(format!(
            "local_ts has {} entries for {messages} messages",
            ts.len()
        ))),
        _ => Ok(()),
    }
}

fn parse_all(
    messages: &[&[u8]],
    format: BookFormat,
    local_ts: Option<&[i64]>,
    buf: &mut RowBuffer,
    parse_one: ParseOne,
) -> CoreResult<ParseSummary> {
    check_local_ts(local_ts, messages.len())?;
    let mut summary = ParseSummary {
        status: Vec::with_capacity(messages.len()),
        ..Default::default()
    };
    for (i, msg) in messages.iter().enumerate() {
        let start = buf.len();
        let local = local_ts.map(|ts| ts[i]);
        let status = match parse_one(msg, format, local, buf) {
            Ok(Some(fields)) => {
                buf.finish_message(start, &fields);
                STATUS_BOOK
            }
            Ok(None) => STATUS_OTHER,
            Err(err) => {
                summary.malformed += 1;
                if summary.errors.len() < MAX_ERRORS {
                    summary.errors.push(format!("message {i}: {err}"));
                }
                STATUS_MALFORMED
            }
        };
        if status != STATUS_BOOK {
            buf.truncate(start);
        }
        summary.status.push(status);
    }
    Ok(summary)
}

/// One message: `Some(fields)` for a book message (its levels pushed), `None` for another kind.
fn parse_one(
    msg: &[u8],
    format: BookFormat,
    local: Option<i64>,
    buf: &mut RowBuffer,
) -> Result<Option<MessageFields>, String> {
    let start = buf.len();
    if let Some(fields) = fast::parse(msg, format, local, buf) {
        return Ok(Some(fields));
    }
    buf.truncate(start);
    parse_serde(msg, format, local, buf)
}

/// The general path: sonic-rs with serde seeds, giving the exact error for any bad input.
fn parse_serde(
    msg: &[u8],
    format: BookFormat,
    local: Option<i64>,
    buf: &mut RowBuffer,
) -> Result<Option<MessageFields>, String> {
    let text = std::str::from_utf8(msg).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut de = sonic_rs::Deserializer::from_str(text);
    let fields = match format {
        BookFormat::Bybit => {
            let head = de
                .deserialize_map(BybitVisitor { buf })
                .map_err(|e| e.to_string())?;
            de.end().map_err(|e| e.to_string())?;
            head.finish(buf)?
        }
        BookFormat::Binance => {
            let head = de
                .deserialize_map(BinanceVisitor { buf })
                .map_err(|e| e.to_string())?;
            de.end().map_err(|e| e.to_string())?;
            head.finish(local)?
        }
    };
    Ok(fields.map(|mut f| {
        f.local_ts = local.unwrap_or(f.exch_ts);
        f
    }))
}

fn ms_to_ns(ms: i64, name: &str) -> Result<i64, String> {
    ms.checked_mul(MS_TO_NS)
        .ok_or_else(|| format!("{name} out of range: {ms}"))
}

// ---- levels: [["price","size"], ...] pushed straight into the buffer ----

struct LevelsSeed<'b> {
    buf: &'b mut RowBuffer,
    side: i8,
}

impl<'de> DeserializeSeed<'de> for LevelsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LevelsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [price, size] string pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some((px, qty)) = seq.next_element::<(&'de str, &'de str)>()? {
            let price =
                parse_f64(px).ok_or_else(|| de::Error::custom(format!("bad price {px:?}")))?;
            let qty =
                parse_f64(qty).ok_or_else(|| de::Error::custom(format!("bad size {qty:?}")))?;
            self.buf.push_level(price, qty, self.side);
        }
        Ok(())
    }
}

// ---- Bybit v5: {"topic","type","ts","data":{"s","b","a","u","seq"},"cts"} ----

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum BybitKey {
    Topic,
    Type,
    Ts,
    Data,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum BybitDataKey {
    B,
    A,
    U,
    Seq,
    #[serde(other)]
    Other,
}

#[derive(Default)]
struct BybitData {
    u: Option<i64>,
    seq: Option<i64>,
    levels: u8, // bit 0: saw "b", bit 1: saw "a"
}

#[derive(Default)]
struct BybitHead<'de> {
    topic: Option<&'de str>,
    kind: Option<&'de str>,
    ts: Option<i64>,
    data: Option<BybitData>,
    /// `data` seen before `topic`: parsed once we know it is a book message.
    deferred: Option<LazyValue<'de>>,
}

fn is_bybit_book(topic: &str) -> bool {
    topic.starts_with("orderbook.")
}

struct BybitVisitor<'b> {
    buf: &'b mut RowBuffer,
}

impl<'de> Visitor<'de> for BybitVisitor<'_> {
    type Value = BybitHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Bybit v5 message object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut head = BybitHead::default();
        while let Some(key) = map.next_key::<BybitKey>()? {
            match key {
                BybitKey::Topic => head.topic = Some(map.next_value()?),
                BybitKey::Type => head.kind = Some(map.next_value()?),
                BybitKey::Ts => head.ts = Some(map.next_value()?),
                BybitKey::Data => match head.topic {
                    Some(t) if is_bybit_book(t) => {
                        head.data = Some(map.next_value_seed(BybitDataSeed { buf: self.buf })?);
                    }
                    Some(_) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    None => head.deferred = Some(map.next_value()?),
                },
                BybitKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(head)
    }
}

impl BybitHead<'_> {
    fn finish(mut self, buf: &mut RowBuffer) -> Result<Option<MessageFields>, String> {
        let Some(topic) = self.topic.filter(|t| is_bybit_book(t)) else {
            return Ok(None); // trades, tickers, op replies: not ours
        };
        if let Some(raw) = self.deferred.take() {
            let mut de = sonic_rs::Deserializer::from_str(raw.as_raw_str());
            self.data = Some(
                BybitDataSeed { buf }
                    .deserialize(&mut de)
                    .map_err(|e| e.to_string())?,
            );
        }
        let snapshot = match self.kind {
            Some("snapshot") => true,
            Some("delta") => false,
            Some(other) => return Err(format!("{topic}: unknown type {other:?}")),
            None => return Err(format!("{topic}: missing type")),
        };
        let ts = self.ts.ok_or_else(|| format!("{topic}: missing ts"))?;
        let data = self.data.ok_or_else(|| format!("{topic}: missing data"))?;
        let u = data.u.ok_or_else(|| format!("{topic}: missing data.u"))?;
        if data.levels != 3 {
            return Err(format!("{topic}: data needs both b and a"));
        }
        Ok(Some(MessageFields {
            exch_ts: ms_to_ns(ts, "ts")?,
            local_ts: 0,
            update_id: u,
            prev_update_id: if snapshot { 0 } else { u.saturating_sub(1) },
            seq: data.seq.unwrap_or(0),
            snapshot,
        }))
    }
}

struct BybitDataSeed<'b> {
    buf: &'b mut RowBuffer,
}

impl<'de> DeserializeSeed<'de> for BybitDataSeed<'_> {
    type Value = BybitData;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<BybitData, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BybitDataSeed<'_> {
    type Value = BybitData;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Bybit orderbook data object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<BybitData, M::Error> {
        let mut data = BybitData::default();
        while let Some(key) = map.next_key::<BybitDataKey>()? {
            match key {
                BybitDataKey::B => {
                    map.next_value_seed(LevelsSeed {
                        buf: &mut *self.buf,
                        side: 1,
                    })?;
                    data.levels |= 1;
                }
                BybitDataKey::A => {
                    map.next_value_seed(LevelsSeed {
                        buf: &mut *self.buf,
                        side: -1,
                    })?;
                    data.levels |= 2;
                }
                BybitDataKey::U => data.u = Some(map.next_value()?),
                BybitDataKey::Seq => data.seq = Some(map.next_value()?),
                BybitDataKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(data)
    }
}

// ---- Binance: {"stream","data":{"e":"depthUpdate","E","T","U","u","pu","b","a"}} and the
// ---- REST snapshot {"lastUpdateId","E","T","bids","asks"} ----

#[derive(Deserialize)]
enum BinanceKey {
    #[serde(rename = "stream")]
    Stream,
    #[serde(rename = "data")]
    Data,
    #[serde(rename = "e")]
    Event,
    #[serde(rename = "E")]
    EventTime,
    #[serde(rename = "T")]
    TxTime,
    #[serde(rename = "U")]
    First,
    #[serde(rename = "u")]
    Last,
    #[serde(rename = "pu")]
    PrevLast,
    #[serde(rename = "lastUpdateId")]
    LastUpdateId,
    #[serde(rename = "b", alias = "bids")]
    Bids,
    #[serde(rename = "a", alias = "asks")]
    Asks,
    #[serde(other)]
    Other,
}

#[derive(Default)]
struct BinanceHead<'de> {
    stream: Option<&'de str>,
    data: Option<Box<BinanceHead<'de>>>,
    event: Option<&'de str>,
    event_time: Option<i64>,
    tx_time: Option<i64>,
    first: Option<i64>,
    last: Option<i64>,
    prev_last: Option<i64>,
    last_update_id: Option<i64>,
    levels: u8, // bit 0: saw bids, bit 1: saw asks
}

struct BinanceVisitor<'b> {
    buf: &'b mut RowBuffer,
}

impl<'de> DeserializeSeed<'de> for BinanceVisitor<'_> {
    type Value = BinanceHead<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BinanceVisitor<'_> {
    type Value = BinanceHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Binance message object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut h = BinanceHead::default();
        while let Some(key) = map.next_key::<BinanceKey>()? {
            match key {
                BinanceKey::Stream => h.stream = Some(map.next_value()?),
                BinanceKey::Data => {
                    if h.stream.is_some_and(|s| !s.contains("@depth")) {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let inner = map.next_value_seed(BinanceVisitor {
                            buf: &mut *self.buf,
                        })?;
                        h.data = Some(Box::new(inner));
                    }
                }
                BinanceKey::Event => h.event = Some(map.next_value()?),
                BinanceKey::EventTime => h.event_time = Some(map.next_value()?),
                BinanceKey::TxTime => h.tx_time = Some(map.next_value()?),
                BinanceKey::First => h.first = Some(map.next_value()?),
                BinanceKey::Last => h.last = Some(map.next_value()?),
                BinanceKey::PrevLast => h.prev_last = Some(map.next_value()?),
                BinanceKey::LastUpdateId => h.last_update_id = Some(map.next_value()?),
                BinanceKey::Bids | BinanceKey::Asks
                    if h.event.is_some_and(|e| e != "depthUpdate") =>
                {
                    map.next_value::<IgnoredAny>()?; // bookTicker's "b"/"a" are plain strings
                }
                BinanceKey::Bids => {
                    map.next_value_seed(LevelsSeed {
                        buf: &mut *self.buf,
                        side: 1,
                    })?;
                    h.levels |= 1;
                }
                BinanceKey::Asks => {
                    map.next_value_seed(LevelsSeed {
                        buf: &mut *self.buf,
                        side: -1,
                    })?;
                    h.levels |= 2;
                }
                BinanceKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(h)
    }
}

impl BinanceHead<'_> {
    fn finish(self, local: Option<i64>) -> Result<Option<MessageFields>, String> {
        if let Some(inner) = self.data {
            return inner.finish(local);
        }
        if let Some(id) = self.last_update_id {
            return self.snapshot(id, local).map(Some);
        }
        if self.event == Some("depthUpdate") {
            return self.delta().map(Some);
        }
        Ok(None)
    }

    fn snapshot(&self, id: i64, local: Option<i64>) -> Result<MessageFields, String> {
        if self.levels != 3 {
            return Err("depth snapshot needs both bids and asks".into());
        }
        // Spot REST snapshots carry no time; the caller's local_ts (else 0) then stands in.
        let exch_ts = match self.event_time.or(self.tx_time) {
            Some(ms) => ms_to_ns(ms, "E")?,
            None => local.unwrap_or(0),
        };
        Ok(MessageFields {
            exch_ts,
            update_id: id,
            snapshot: true,
            ..Default::default()
        })
    }

    fn delta(&self) -> Result<MessageFields, String> {
        let ms = self.event_time.ok_or("depthUpdate: missing E")?;
        let first = self.first.ok_or("depthUpdate: missing U")?;
        let last = self.last.ok_or("depthUpdate: missing u")?;
        if self.levels != 3 {
            return Err("depthUpdate: needs both b and a".into());
        }
        // Futures chain on pu (the previous event's u); spot has no pu and chains on U - 1.
        let prev = self.prev_last.unwrap_or(first.saturating_sub(1));
        Ok(MessageFields {
            exch_ts: ms_to_ns(ms, "E")?,
            update_id: last,
            prev_update_id: prev,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod equivalence;
mod fast;
#[cfg(test)]
mod tests;
