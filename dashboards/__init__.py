"""Dashboards: Altair charts of the warehouse and the offline dashboard page."""
