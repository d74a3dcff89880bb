"""Routers of the API, one module per resource (``api.formats`` holds the CSV answer they share)."""
