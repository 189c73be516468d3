"""A store write retried through a short PostgreSQL outage, and given up after the budget.

PostgreSQL is reached through a proxy of the test's own that drops every connection and
refuses new ones for a while (``tests.faults.services.BlockableProxy``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from jobsys.errors import StoreUnavailable
from jobsys.settings import Settings
from jobsys.store.retrying import retrying
from jobsys.store.session import make_engine
from tests.faults.services import BlockableProxy

pytestmark = [pytest.mark.integration]
PASSWORD = "outage-s3cret"


@pytest.fixture
def proxied(pg_url: str) -> Iterator[tuple[BlockableProxy, Settings]]:
    proxy = BlockableProxy(("127.0.0.1", 5432)).start()
    url = make_url(pg_url).set(port=proxy.port, password=PASSWORD)
    yield proxy, Settings(database_url=url.render_as_string(hide_password=False))
    proxy.stop()


def test_a_write_is_retried_until_the_store_is_back(
    proxied: tuple[BlockableProxy, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, settings = proxied
    engine = make_engine(settings)
    with engine.connect() as conn:  # a pooled connection, which the outage will break
        conn.execute(text("SELECT 1"))
    outage = threading.Thread(target=proxy.block, args=(1.5,))
    outage.start()
    assert proxy.blocked.wait(5)

    def write() -> int:
        with engine.begin() as conn:
            return int(conn.execute(text("SELECT 42")).scalar_one())

    with caplog.at_level(logging.WARNING, "jobsys.store.retrying"):
        assert retrying(settings, "the JobRun of job J attempt 1", write) == 42
    outage.join()
    engine.dispose()
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries and "store unavailable, retrying the JobRun of job J attempt 1" in retries[0]
    assert "store reachable again" in caplog.text
    assert PASSWORD not in caplog.text


def test_a_store_away_longer_than_the_budget_is_reported_unavailable(
    proxied: tuple[BlockableProxy, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, settings = proxied
    engine = make_engine(settings)
    outage = threading.Thread(target=proxy.block, args=(2.0,))
    outage.start()
    assert proxy.blocked.wait(5)

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))

    try:
        with pytest.raises(StoreUnavailable, match="JOBSYS_DATABASE_URL") as raised:
            retrying(settings, "the start of job J", write, seconds=0.5)
    finally:
        outage.join()
        engine.dispose()
    assert PASSWORD not in str(raised.value) and PASSWORD not in caplog.text
    assert "gave up on the start of job J" in caplog.text


def test_an_error_that_is_not_a_lost_connection_is_not_retried(
    proxied: tuple[BlockableProxy, Settings],
) -> None:
    _, settings = proxied
    engine = make_engine(settings)
    calls = []

    def bad_query() -> None:
        calls.append(1)
        with engine.begin() as conn:
            conn.execute(text("SELECT * FROM no_such_table_here"))

    try:
        with pytest.raises(ProgrammingError, match="no_such_table_here"):
            retrying(settings, "a bad query", bad_query)
    finally:
        engine.dispose()
    assert calls == [1]
