"""Venues Nexus trades on: `bybit` (the real exchange) and `local` (a Bybit-compatible server)."""
