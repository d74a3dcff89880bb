"""Collector: crawls GitHub (or the replay server) into the warehouse."""
