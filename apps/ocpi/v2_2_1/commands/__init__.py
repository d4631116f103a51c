"""OCPI 2.2.1 commands: codec, views and mounted endpoints."""
