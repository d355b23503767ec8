"""Thin handlers between channels and services: the ordered routing of inbound messages."""
