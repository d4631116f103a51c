"""OCPI 2.2.1 locations: codec, views and mounted endpoints."""
