"""Forge, the research lab: backtests, evolution and validation of strategies."""
