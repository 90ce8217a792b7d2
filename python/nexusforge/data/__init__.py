"""Reading recorded market data, recording live feeds, and the parquet store."""
