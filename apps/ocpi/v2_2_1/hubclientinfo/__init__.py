"""OCPI 2.2.1 hubclientinfo: codec, views and mounted endpoints."""
