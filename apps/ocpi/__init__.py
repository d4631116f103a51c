"""OCPI protocol layer: the only code that knows wire formats, versions and partner dialects."""
