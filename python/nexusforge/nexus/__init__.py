"""Nexus: the live engine (venues, models, ledgers, Watchtower, journal)."""
