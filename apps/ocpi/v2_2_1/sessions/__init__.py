"""OCPI 2.2.1 sessions: codec, views and mounted endpoints."""
