"""REST and websocket authentication as Bybit does it: raw bytes, time window, retCodes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from localx import KEY, SECRET, Signed, config, ok

from nexusforge.nexus.venues.local import LocalExchange, RateLimits
from nexusforge.nexus.venues.local.ratelimit import ORDER_WRITE, RateLimited, RateLimiter

WALLET = "/v5/account/wallet-balance"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_signed_get_and_post_are_accepted(client: Signed) -> None:
    assert ok(client.get(WALLET, accountType="UNIFIED"))["list"][0]["accountType"] == "UNIFIED"
    result = ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Limit", qty="10",
                             price="1.5"))  # fmt: skip
    assert result["orderId"]


def test_unknown_key_is_10003(exchange: LocalExchange) -> None:
    stranger = Signed(exchange.rest_url, key="nobody", secret=SECRET)
    assert stranger.get(WALLET, accountType="UNIFIED")["retCode"] == 10003
    assert stranger.last is not None and stranger.last.status_code == 200
    stranger.close()


def test_wrong_secret_is_10004(exchange: LocalExchange) -> None:
    forger = Signed(exchange.rest_url, key=KEY, secret="not-the-secret")
    assert forger.get(WALLET, accountType="UNIFIED")["retCode"] == 10004
    forger.close()


@pytest.mark.parametrize("offset_ms", [-6000, 1500])
def test_timestamp_outside_window_is_10002(client: Signed, offset_ms: int) -> None:
    query = "accountType=UNIFIED"
    headers = client.headers(query, ts=now_ms() + offset_ms)
    reply = client.http.get(f"{WALLET}?{query}", headers=headers).json()
    assert reply["retCode"] == 10002


def test_larger_recv_window_accepts_an_older_timestamp(client: Signed) -> None:
    query = "accountType=UNIFIED"
    headers = client.headers(query, ts=now_ms() - 6000, window="10000")
    assert client.http.get(f"{WALLET}?{query}", headers=headers).json()["retCode"] == 0


def test_post_is_verified_against_the_raw_body(client: Signed) -> None:
    params = {"category": "linear", "symbol": "XRPUSDT", "side": "Buy", "orderType": "Limit",
              "qty": "10", "price": "1.5"}  # fmt: skip
    signed_body = json.dumps(params)  # pybit's form, with spaces
    sent_body = json.dumps(params, separators=(",", ":"))  # same dict, other bytes
    headers = client.headers(signed_body) | {"Content-Type": "application/json"}
    reply = client.http.post("/v5/order/create", content=sent_body, headers=headers).json()
    assert reply["retCode"] == 10004
    headers = client.headers(sent_body) | {"Content-Type": "application/json"}
    assert (
        client.http.post("/v5/order/create", content=sent_body, headers=headers).json()["retCode"]
        == 0
    )


def test_get_is_verified_against_the_query_as_sent(client: Signed) -> None:
    signed = "category=linear&symbol=XRPUSDT"
    sent = "symbol=XRPUSDT&category=linear"  # same parameters, other order
    reply = client.http.get(f"/v5/position/list?{sent}", headers=client.headers(signed)).json()
    assert reply["retCode"] == 10004


def test_missing_headers_are_refused(exchange: LocalExchange) -> None:
    reply = httpx.get(f"{exchange.rest_url}{WALLET}?accountType=UNIFIED").json()
    assert reply["retCode"] == 10003
    assert reply["result"] == {}


def test_public_endpoints_need_no_auth(exchange: LocalExchange) -> None:
    reply = httpx.get(f"{exchange.rest_url}/v5/market/time").json()
    assert reply["retCode"] == 0 and reply["result"]["timeSecond"].isdigit()


def test_config_repr_never_shows_a_secret(shared_data: Path) -> None:
    cfg = config(shared_data)
    assert SECRET not in repr(cfg) and SECRET not in str(cfg.keys)
    assert cfg.keys[0].secret.reveal() == SECRET


def test_rate_limit_is_10006_with_bybit_headers(shared_data: Path) -> None:
    with LocalExchange(config(shared_data, rate_limits=RateLimits(order_write=1))) as ex:
        ex.step_market(1)
        client = Signed(ex.rest_url)
        codes, headers = [], []
        for price in ("1.81", "1.82"):
            codes.append(client.order(symbol="XRPUSDT", side="Buy", orderType="Limit",
                                      qty="10", price=price)["retCode"])  # fmt: skip
            assert client.last is not None
            headers.append(client.last.headers)
        reads = client.get("/v5/order/realtime", category="linear", symbol="XRPUSDT")
        client.close()
    assert codes == [0, 10006]  # one write per second: the second finds the bucket empty
    assert [h["X-Bapi-Limit"] for h in headers] == ["1", "1"]
    assert [h["X-Bapi-Limit-Status"] for h in headers] == ["0", "0"]
    assert int(headers[1]["X-Bapi-Limit-Reset-Timestamp"]) > now_ms() - 1000
    assert reads["retCode"] == 0  # reads have their own bucket


def test_token_bucket_refills_at_its_rate() -> None:
    limiter = RateLimiter(RateLimits(order_write=4))
    for _ in range(4):
        limiter.take("k", ORDER_WRITE, 1_000)
    with pytest.raises(RateLimited) as refused:
        limiter.take("k", ORDER_WRITE, 1_000)
    assert refused.value.code == 10006 and refused.value.status.reset_ms == 1_250
    assert limiter.take("k", ORDER_WRITE, 1_250).remaining == 0  # one token after 250 ms
    assert limiter.take("other", ORDER_WRITE, 1_250).remaining == 3  # per key
    assert limiter.take("k", ORDER_WRITE, 3_000).remaining == 3  # full again, capped at 4
