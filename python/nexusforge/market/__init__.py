"""What the market is and how we observe it: events, instruments, the L2 book, features, MTFA.

Shared by Forge and Nexus; depends on nothing else in the package.
"""
