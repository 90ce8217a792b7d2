"""Six bundled champion strategies (strategy-language JSON, loaded through the codec).

They read the streaming event features of `market/features.py` with its default config
(depths 1, 5, 10; windows 1 s, 10 s, 60 s), so `make run` can trade at once:

    book_imbalance      lean with the smoothed top-5 depth imbalance
    ofi_momentum        follow 10 s order-flow imbalance, standardised over its recent history
    microprice_tilt     lean toward the microprice, standardised over its recent history
    flow_pressure       follow 60 s taker pressure, only while trading is active
    clv_reversion       fade where the last trade closed in its 60 s range
    calm_imbalance      half-size deep-book imbalance, only while short-term volatility is calm
"""
