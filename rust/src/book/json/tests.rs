use super::*;

fn parse(msgs: &[&str], format: BookFormat) -> ParsedBook {
    let raw: Vec<&[u8]> = msgs.iter().map(|m| m.as_bytes()).collect();
    parse_book_messages(&raw, format, None).expect("parse")
}

const BYBIT_SNAP: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1700000000123,"data":{"s":"BTCUSDT","b":[["100.5","2"],["100.4","1.5"]],"a":[["100.6","3"]],"u":7,"seq":99},"cts":1}"#;

#[test]
fn bybit_snapshot_rows() {
    let p = parse(&[BYBIT_SNAP], BookFormat::Bybit);
    assert_eq!(p.summary.status, vec![STATUS_BOOK]);
    let r = &p.rows;
    assert_eq!(r.price, vec![100.5, 100.4, 100.6]);
    assert_eq!(r.qty, vec![2.0, 1.5, 3.0]);
    assert_eq!(r.side, vec![1, 1, -1]);
    assert_eq!(r.flags, vec![1 | 2, 1, 1 | 4]);
    assert_eq!(r.update_id, vec![7; 3]);
    assert_eq!(r.prev_update_id, vec![0; 3]);
    assert_eq!(r.seq, vec![99; 3]);
    assert_eq!(r.exch_ts[0], 1_700_000_000_123_000_000);
    assert_eq!(r.local_ts, r.exch_ts);
}

#[test]
fn bybit_delta_data_before_topic_and_empty_message() {
    let delta = r#"{"data":{"b":[],"a":[],"u":8},"ts":5,"type":"delta","topic":"orderbook.1.X"}"#;
    let p = parse(&[delta], BookFormat::Bybit);
    assert_eq!(p.summary.status, vec![STATUS_BOOK]);
    assert_eq!(p.rows.flags, vec![2 | 4 | 8]);
    assert_eq!(p.rows.prev_update_id, vec![7]);
    assert_eq!(p.rows.exch_ts, vec![5_000_000]);
}

#[test]
fn bybit_other_and_malformed() {
    let msgs = [
        r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"p":"1"}]}"#,
        r#"{"success":true,"op":"subscribe"}"#,
        r#"{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[["x","1"]],"a":[],"u":2}}"#,
        r#"{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[[1.0,"1"]],"a":[],"u":2}}"#,
        r#"{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[],"a":[],"u":2"#,
        r#"{"topic":"orderbook.1.X","type":"weird","ts":1,"data":{"b":[],"a":[],"u":2}}"#,
        r#"{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[],"u":2}}"#,
        r#"[1,2]"#,
        "",
    ];
    let mut p = parse(&msgs, BookFormat::Bybit);
    p.summary.status.truncate(9);
    assert_eq!(p.summary.status, vec![1, 1, 2, 2, 2, 2, 2, 2, 2]);
    assert_eq!(p.summary.malformed, 7);
    assert!(
        p.summary.errors[0].starts_with("message 2:"),
        "{:?}",
        p.summary.errors
    );
    assert!(p.rows.is_empty());
}

#[test]
fn invalid_utf8_is_malformed() {
    let raw: Vec<&[u8]> = vec![b"{\"topic\":\"orderbook.1.\xff\"}"];
    let p = parse_book_messages(&raw, BookFormat::Bybit, None).unwrap();
    assert_eq!(p.summary.status, vec![STATUS_MALFORMED]);
}

#[test]
fn binance_delta_snapshot_and_others() {
    let msgs = [
        r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1000,"T":999,"s":"BTCUSDT","U":10,"u":15,"pu":8,"b":[["1.0","0.000"]],"a":[["2.0","1.5"]]}}"#,
        r#"{"lastUpdateId":12,"E":2000,"T":1999,"bids":[["1.0","3"]],"asks":[]}"#,
        r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5,"b":"1.0","B":"2","a":"2.0","A":"1"}}"#,
        r#"{"e":"bookTicker","u":5,"b":"1.0","B":"2","a":"2.0","A":"1"}"#,
        r#"{"e":"depthUpdate","E":1,"U":20,"u":21,"b":[],"a":[]}"#,
        r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":20,"b":[],"a":[]}}"#,
    ];
    let raw: Vec<&[u8]> = msgs.iter().map(|m| m.as_bytes()).collect();
    let local = [7, 8, 9, 10, 11, 12];
    let p = parse_book_messages(&raw, BookFormat::Binance, Some(&local)).unwrap();
    assert_eq!(p.summary.status, vec![0, 0, 1, 1, 0, 2]);
    let r = &p.rows;
    assert_eq!(r.update_id, vec![15, 15, 12, 21]);
    assert_eq!(r.prev_update_id, vec![8, 8, 0, 19]); // pu, snapshot, spot U-1
    assert_eq!(r.flags, vec![2, 4, 1 | 2 | 4, 2 | 4 | 8]);
    assert_eq!(r.local_ts, vec![7, 7, 8, 11]);
    assert_eq!(r.exch_ts[0], 1_000_000_000);
    assert_eq!(r.qty[0], 0.0);
}

#[test]
fn local_ts_length_is_checked() {
    let raw: Vec<&[u8]> = vec![b"{}"];
    assert!(parse_book_messages(&raw, BookFormat::Binance, Some(&[])).is_err());
    assert!(BookFormat::parse("kraken").is_err());
}
