"""The REST API (FastAPI): JSON and CSV over the warehouse, and the dashboard page."""
