"""Replay the real Bybit XRPUSDT ob500 archive through the Rust L2 book and query it.

Run: .venv/bin/python examples/2_book_from_json.py
"""

import zipfile
from pathlib import Path

from nexusforge.market.book import OrderBook, parse_book_messages

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ARCHIVE = SHARED / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"

with zipfile.ZipFile(ARCHIVE) as zf:
    lines = zf.read(zf.namelist()[0]).splitlines()

parsed = parse_book_messages(lines, "bybit")  # one call: raw JSON -> level-row columns
book = OrderBook(tick_size=0.0001)
book.apply(parsed.rows)  # one call for the whole batch

print(f"{len(lines)} messages, {len(parsed.rows)} level rows, valid={book.is_valid}")
print("best bid", book.best_bid(), "best ask", book.best_ask())
print(f"mid {book.mid()}  microprice {book.microprice():.6f}  spread {book.spread():.4f}")
bids, asks = book.depth(5)
print("top 5 bids\n", bids, "\ntop 5 asks\n", asks)
print("cost to buy 100k XRP:", book.cost_to_buy(100_000))
print(book.stats())
