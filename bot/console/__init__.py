"""The staff console (FastAPI, server-rendered)."""
