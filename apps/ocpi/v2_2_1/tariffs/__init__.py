"""OCPI 2.2.1 tariffs: codec, views and mounted endpoints."""
