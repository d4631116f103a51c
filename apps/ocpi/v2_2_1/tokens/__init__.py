"""OCPI 2.2.1 tokens: codec, views and mounted endpoints."""
