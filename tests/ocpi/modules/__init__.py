"""Tests of the OCPI 2.2.1 functional modules."""
