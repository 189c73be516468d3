"""Data pipeline job types (issue 5, seed 000): SCAN, PARSE, BACKTEST, SCHEMA, EXPORT, MATERIALIZE.

Each is a plain function over pydantic inputs/outputs with its own capability
(``data.scan@1``, ``data.parse@1``, ...). Files are catalogued in a SQLite database
written with the stdlib ``sqlite3`` (``tasks.data.catalog``); parsed rows are Arrow
record batches checked against a schema contract (``tasks.data.contracts``) and
written as Parquet (or SQLite) under the job's staging folder, published atomically.
"""
