"""OCPI 2.2.1 chargingprofiles: codec, views and mounted endpoints."""
