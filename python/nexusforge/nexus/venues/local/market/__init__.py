"""Market backends of the local exchange: replay of recorded data, and the simulator."""
