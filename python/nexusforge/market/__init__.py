"""What the market is and how we observe it: events, the L2 book, features, MTFA. Shared by Forge and Nexus."""
