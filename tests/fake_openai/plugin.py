"""Fixtures for the fake OpenAI-compatible server (filled in by the server work)."""
