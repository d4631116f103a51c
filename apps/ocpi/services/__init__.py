"""OCPI protocol services: handshake, sync (pull), delivery (push), the exchange log."""
