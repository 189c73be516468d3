"""Integration tests: real ``jobsys worker`` processes on Redis and PostgreSQL.

The fixtures (``jobsys_env``, ``client``, ``start_worker``) live in tests/conftest.py,
shared with the end-to-end tests of the API.

Workers are started per test (``start_worker``) and stopped at its end: a worker
shared across tests would take messages meant for another test's worker. Each test
also gets an empty Redis database and its own JOBSYS_HOME; the PostgreSQL database
is shared by the session, so tests look only at the jobs they submitted.
"""

from __future__ import annotations
