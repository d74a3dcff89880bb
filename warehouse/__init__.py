"""The warehouse: one DuckDB file, its schema and migrations, and the queries on it."""
