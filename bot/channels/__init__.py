"""Channels: one module per platform, converting at the edge to the core's plain messages."""
