//! The fast scanner must give byte-for-byte the rows, statuses and errors of the serde path:
//! on the recorded venue files, on hand-mutated messages and on generated ones.

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;

use super::*;

/// Parse with the fast path (falling back to serde) and with serde alone.
fn both(msgs: &[&[u8]], format: BookFormat, local: Option<&[i64]>) -> (ParsedBook, ParsedBook) {
    let mut fast_rows = RowBuffer::default();
    let fast = parse_into(msgs, format, local, &mut fast_rows).expect("fast");
    let mut serde_rows = RowBuffer::default();
    let slow = parse_all(msgs, format, local, &mut serde_rows, parse_serde).expect("serde");
    (
        ParsedBook {
            rows: fast_rows,
            summary: fast,
        },
        ParsedBook {
            rows: serde_rows,
            summary: slow,
        },
    )
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Equal columns (floats compared by bit pattern, so NaN rows count) and equal summaries.
fn assert_same(a: &ParsedBook, b: &ParsedBook) {
    let (x, y) = (&a.rows, &b.rows);
    assert_eq!(bits(&x.price), bits(&y.price), "price");
    assert_eq!(bits(&x.qty), bits(&y.qty), "qty");
    assert_eq!(x.side, y.side, "side");
    assert_eq!(x.flags, y.flags, "flags");
    assert_eq!(x.exch_ts, y.exch_ts, "exch_ts");
    assert_eq!(x.local_ts, y.local_ts, "local_ts");
    assert_eq!(x.update_id, y.update_id, "update_id");
    assert_eq!(x.prev_update_id, y.prev_update_id, "prev_update_id");
    assert_eq!(x.seq, y.seq, "seq");
    assert_eq!(a.summary, b.summary, "summary");
}

fn check(msgs: &[&[u8]], format: BookFormat, local: Option<&[i64]>) -> ParsedBook {
    let (fast, slow) = both(msgs, format, local);
    assert_same(&fast, &slow);
    fast
}

/// How many messages the fast scanner handled itself.
fn fast_hits(msgs: &[&[u8]], format: BookFormat) -> usize {
    let mut buf = RowBuffer::default();
    msgs.iter()
        .filter(|m| fast::parse(m, format, None, &mut buf).is_some())
        .count()
}

// ---- recorded data ----

fn market_file(name: &str) -> PathBuf {
    let shared = std::env::var_os("NEXUSFORGE_SHARED").map_or_else(
        // shared/ sits beside the checkout: <repo>/rust/../../shared
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let path = shared.join("data/bybit/market").join(name);
    assert!(path.exists(), "recorded data missing: {}", path.display());
    path
}

fn run(cmd: &str, arg: &PathBuf) -> Vec<u8> {
    let out = Command::new(cmd)
        .arg(if cmd == "unzip" { "-p" } else { "-c" })
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} failed on {}", arg.display());
    out.stdout
}

fn bybit_recording() -> Vec<u8> {
    run(
        "unzip",
        &market_file("bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"),
    )
}

/// Binance lines are `<local_ts_ns> <json>`.
fn binance_recording() -> (Vec<Vec<u8>>, Vec<i64>) {
    let raw = run(
        "zcat",
        &market_file("binance_usdm_BTCUSDT_20240808_2355utc.gz"),
    );
    let mut msgs = Vec::new();
    let mut local = Vec::new();
    for line in split_lines(&raw) {
        let sp = line
            .iter()
            .position(|&c| c == b' ')
            .expect("timestamp prefix");
        let ts = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
        local.push(ts);
        msgs.push(line[sp + 1..].to_vec());
    }
    (msgs, local)
}

#[test]
fn recorded_bybit_is_identical_and_fast() {
    let raw = bybit_recording();
    let msgs = split_lines(&raw);
    let p = check(&msgs, BookFormat::Bybit, None);
    assert_eq!(p.summary.malformed, 0);
    assert!(p.rows.len() > 3_000, "{} rows", p.rows.len());
    let books = p
        .summary
        .status
        .iter()
        .filter(|&&s| s == STATUS_BOOK)
        .count();
    assert_eq!(fast_hits(&msgs, BookFormat::Bybit), books);
}

#[test]
fn recorded_binance_is_identical_and_fast() {
    let (owned, local) = binance_recording();
    let msgs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let p = check(&msgs, BookFormat::Binance, Some(&local));
    let books = p
        .summary
        .status
        .iter()
        .filter(|&&s| s == STATUS_BOOK)
        .count();
    assert!(books > 6_000, "{books} book messages");
    assert_eq!(fast_hits(&msgs, BookFormat::Binance), books);
}

// ---- mutations of real messages ----

/// Every prefix, and the message with one byte dropped at each position.
fn cuts(msg: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..msg.len()).map(|n| msg[..n].to_vec()).collect();
    out.extend((0..msg.len()).map(|i| [&msg[..i], &msg[i + 1..]].concat()));
    out
}

fn replace(msg: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(msg.to_vec())
        .unwrap()
        .replacen(from, to, 1)
        .into_bytes()
}

/// Hand-made variants: whitespace, reordering, extra fields, escapes, wrong types.
fn variants(msg: &[u8], edits: &[(&str, &str)]) -> Vec<Vec<u8>> {
    let spaced: Vec<u8> = msg
        .iter()
        .flat_map(|&c| match c {
            b'{' | b'[' | b',' | b':' | b']' | b'}' => vec![b' ', c, b'\n', b'\t'],
            _ => vec![c],
        })
        .collect();
    let mut out = vec![
        msg.to_vec(),
        spaced,
        [msg, b" \r\n"].concat(),
        [msg, b"x"].concat(),
    ];
    out.extend(edits.iter().map(|(a, b)| replace(msg, a, b)));
    out
}

const BYBIT_EDITS: &[(&str, &str)] = &[
    ("\"topic\"", "\"extra\":{\"x\":[1,2]},\"topic\""),
    ("\"topic\"", "\"n\":null,\"f\":false,\"t\":true,\"topic\""),
    ("\"topic\":\"orderbook", "\"topic\":\"\\u006frderbook"),
    ("\"topic\":\"orderbook", "\"topic\":\"publicTrade"),
    ("\"type\":\"", "\"type\":\"x"),
    ("\"ts\":", "\"ts\":-"),
    ("\"ts\":1", "\"ts\":1.5e"),
    ("\"ts\":", "\"ts\":0"),
    ("\"ts\":", "\"ts\":\"1\",\"z\":"),
    ("\"ts\":", "\"ts\":99999999999999999999,\"z\":"),
    ("\"u\":", "\"u\":\"7\",\"z\":"),
    ("\"u\":", "\"seq\":1,\"u\":"),
    ("\"b\":[[", "\"b\":[[1.5,"),
    ("\"b\":[[\"", "\"b\":[[\"1e3\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"-1\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"1.2.3\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"12345678901234567.5\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"\\u0031\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"1\",\"2\",\"3\"],[\""),
    ("\"b\":[[\"", "\"b\":[[\"é\",\"2\"],[\""),
    ("\"a\":", "\"a\":[],\"a\":"),
    ("\"a\":", "\"A\":"),
    ("\"s\":\"", "\"s\":\"\\\""),
    ("\"s\":\"", "\"s\":\"ü"),
];

fn bybit_sample() -> Vec<Vec<u8>> {
    let raw = bybit_recording();
    let msgs = split_lines(&raw);
    // The snapshot plus two deltas, cut down to a few levels so every cut can be tried.
    let short = |m: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(m).unwrap();
        let mut v = v;
        for side in ["b", "a"] {
            let lv = v["data"][side].as_array_mut().unwrap();
            lv.truncate(2);
        }
        serde_json::to_vec(&v).unwrap()
    };
    vec![short(msgs[0]), short(msgs[1]), short(msgs[2])]
}

#[test]
fn mutated_bybit_messages_are_identical() {
    let mut all = Vec::new();
    for m in bybit_sample() {
        for v in variants(&m, BYBIT_EDITS) {
            all.extend(cuts(&v));
            all.push(v);
        }
    }
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let p = check(&refs, BookFormat::Bybit, None);
    assert!(p.summary.malformed > 1000 && p.rows.len() > 100);
}

const BINANCE_EDITS: &[(&str, &str)] = &[
    ("\"data\":{", "\"data\":{\"extra\":[{}],"),
    ("\"stream\":\"", "\"stream\":\"x"),
    ("@depth", "@bookTicker"),
    ("\"stream\":\"", "\"stream\":\"\\u0062"),
    ("\"e\":\"depthUpdate\"", "\"e\":\"bookTicker\""),
    ("\"e\":\"depthUpdate\",", ""),
    ("\"E\":", "\"E\":-"),
    ("\"E\":", "\"E\":\"1\",\"z\":"),
    ("\"E\":1", "\"E\":1.0,\"z\":1"),
    ("\"pu\":", "\"pu\":null,\"q\":"),
    ("\"U\":", "\"U\":1,\"U2\":"),
    ("\"u\":", "\"u\":1,\"u\":"),
    ("\"b\":", "\"bids\":"),
    ("\"b\":", "\"bids\":[],\"b\":"),
    ("\"a\":", "\"asks\":"),
    ("\"b\":[[\"", "\"b\":[[\"1E2\",\"2\"],[\""),
    ("\"b\":[[\"", "\"b\":[[2,\"2\"],[\""),
    ("\"a\":[[\"", "\"a\":[[\"3\",\"\\t\"],[\""),
    ("{\"stream\"", "{\"E\":5,\"b\":[[\"1\",\"1\"]],\"stream\""),
    ("\"data\":{", "\"data\":{\"data\":{\"data\":{}},"),
];

fn binance_sample() -> Vec<Vec<u8>> {
    let (msgs, _) = binance_recording();
    let first_depth = msgs
        .iter()
        .find(|m| m.starts_with(b"{\"stream\"") && m.windows(11).any(|w| w == b"depthUpdate"))
        .unwrap();
    let snap = msgs
        .iter()
        .find(|m| m.starts_with(b"{\"lastUpdateId\""))
        .unwrap();
    let short = |m: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(m).unwrap();
        let obj = if v.get("data").is_some() {
            &mut v["data"]
        } else {
            &mut v
        };
        for side in ["b", "a", "bids", "asks"] {
            if let Some(lv) = obj.get_mut(side).and_then(|x| x.as_array_mut()) {
                lv.truncate(2);
            }
        }
        serde_json::to_vec(&v).unwrap()
    };
    vec![short(first_depth), short(snap)]
}

#[test]
fn mutated_binance_messages_are_identical() {
    let mut all = Vec::new();
    for m in binance_sample() {
        for v in variants(&m, BINANCE_EDITS) {
            all.extend(cuts(&v));
            all.push(v);
        }
    }
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let local: Vec<i64> = (0..refs.len() as i64).collect();
    let p = check(&refs, BookFormat::Binance, Some(&local));
    assert!(p.summary.malformed > 500 && p.rows.len() > 50);
}

#[test]
fn split_lines_frames_messages() {
    assert!(split_lines(b"").is_empty());
    assert_eq!(split_lines(b"\n"), vec![&b""[..]]);
    assert_eq!(split_lines(b"a\r\nb"), vec![&b"a"[..], b"b"]);
    assert_eq!(split_lines(b"a\n\nb\n"), vec![&b"a"[..], b"", b"b"]);
}

// ---- generated messages ----

fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..10_000_000, 0u32..9).prop_map(|(m, s)| {
            let t = m.to_string();
            let s = s as usize;
            if s == 0 { t } else {
                let t = format!("{t:0>w$}", w = s + 1);
                format!("{}.{}", &t[..t.len() - s], &t[t.len() - s..])
            }
        }),
        1 => "[0-9.eE+-]{0,20}",
        1 => Just("12345678901234567890.25".to_string()),
    ]
}

fn level() -> impl Strategy<Value = String> {
    (decimal_text(), decimal_text()).prop_map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
}

fn levels() -> impl Strategy<Value = String> {
    prop::collection::vec(level(), 0..5).prop_map(|v| format!("[{}]", v.join(",")))
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(""), 1 => Just(" "), 1 => Just("\n\t ")]
}

/// A Bybit message with keys in random order, optional fields and random spacing.
fn bybit_msg() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![Just("snapshot"), Just("delta"), Just("other")];
    (
        levels(),
        levels(),
        0i64..1_000_000,
        kind,
        any::<bool>(),
        ws(),
        any::<u64>(),
    )
        .prop_map(|(b, a, u, kind, seq, w, order)| {
            let mut data = vec![
                format!("\"b\":{w}{b}"),
                format!("\"a\":{a}"),
                format!("\"u\":{u}"),
                "\"s\":\"XRPUSDT\"".to_string(),
            ];
            if seq {
                data.push(format!("\"seq\":{}", u * 3));
            }
            let data = format!("{{{}}}", rotate(data, order).join(&format!(",{w}")));
            let top = vec![
                "\"topic\":\"orderbook.50.XRPUSDT\"".to_string(),
                format!("\"type\":{w}\"{kind}\""),
                format!("\"ts\":{}", 1_700_000_000_000 + u),
                format!("\"data\":{data}"),
                "\"cts\":17".to_string(),
            ];
            format!("{w}{{{}}}{w}", rotate(top, order >> 8).join(",")).into_bytes()
        })
}

/// A Binance depth message: wrapped or bare diff, or a REST snapshot.
fn binance_msg() -> impl Strategy<Value = Vec<u8>> {
    (
        levels(),
        levels(),
        1i64..1_000_000,
        0u8..3,
        ws(),
        any::<u64>(),
    )
        .prop_map(|(b, a, u, shape, w, order)| {
            let body = if shape == 2 {
                let f = vec![
                    format!("\"lastUpdateId\":{u}"),
                    format!("\"E\":{}", 1_723_000_000_000 + u),
                    format!("\"bids\":{b}"),
                    format!("\"asks\":{w}{a}"),
                ];
                rotate(f, order)
            } else {
                let f = vec![
                    "\"e\":\"depthUpdate\"".to_string(),
                    format!("\"E\":{}", 1_723_000_000_000 + u),
                    format!("\"U\":{u}"),
                    format!("\"u\":{}", u + 3),
                    format!("\"pu\":{}", u - 1),
                    format!("\"b\":{b}"),
                    format!("\"a\":{w}{a}"),
                ];
                rotate(f, order)
            };
            let inner = format!("{{{}}}", body.join(","));
            let out = if shape == 0 {
                format!("{{\"stream\":\"btcusdt@depth@0ms\",{w}\"data\":{inner}}}")
            } else {
                inner
            };
            out.into_bytes()
        })
}

fn rotate(mut v: Vec<String>, by: u64) -> Vec<String> {
    let n = v.len();
    v.rotate_left((by as usize) % n);
    if by & 1 << 40 != 0 {
        v.swap(0, n - 1);
    }
    v
}

/// A random byte edit: delete, insert or overwrite at a position.
fn mutate(mut m: Vec<u8>, edit: (u8, usize, u8)) -> Vec<u8> {
    let (op, pos, byte) = edit;
    let byte = b"\"[]{},:0.1-e \\x"[byte as usize % 15];
    if m.is_empty() {
        return m;
    }
    let i = pos % m.len();
    match op % 4 {
        0 => {
            m.remove(i);
        }
        1 => m.insert(i, byte),
        2 => m[i] = byte,
        _ => {}
    }
    m
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_bybit_is_identical(msgs in prop::collection::vec((bybit_msg(), edits()), 1..6)) {
        let owned: Vec<Vec<u8>> = msgs
            .into_iter()
            .map(|(m, e)| e.into_iter().fold(m, mutate))
            .collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        check(&refs, BookFormat::Bybit, None);
    }

    #[test]
    fn generated_binance_is_identical(msgs in prop::collection::vec((binance_msg(), edits()), 1..6)) {
        let owned: Vec<Vec<u8>> = msgs
            .into_iter()
            .map(|(m, e)| e.into_iter().fold(m, mutate))
            .collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let local: Vec<i64> = (0..refs.len() as i64).map(|i| i * 7).collect();
        check(&refs, BookFormat::Binance, Some(&local));
    }
}
