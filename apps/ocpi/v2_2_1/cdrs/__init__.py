"""OCPI 2.2.1 cdrs: codec, views and mounted endpoints."""
