"""Shared fixtures.

No Django import at module level: tests/engine also runs without Django (`pytest tests/engine -p no:django`),
so fixtures import what they need inside their bodies.
"""

from __future__ import annotations

import contextlib
import os
import secrets

import pytest


@pytest.fixture(autouse=True)
def _forget_seats():
    """Test databases roll back and reuse primary keys, which no signal reports: workshops.limits must not
    remember a previous test's seats."""
    import sys

    limits = sys.modules.get("workshops.limits")  # never imported by the Django-free engine tests
    if limits is not None:
        limits.forget_seat()
    yield


# --- PostgreSQL (the store contract and anything else that must run on the real server) ---------

POSTGRES_ALIAS = "postgres"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    """The server the PostgreSQL tests use: KUBEDOJO_TEST_POSTGRES_URL, else DATABASE_URL when it is PostgreSQL,
    else the local server. Its database only serves to create and drop the test database."""
    for name in ("KUBEDOJO_TEST_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return DEFAULT_POSTGRES_URL


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_database(django_db_setup, django_db_blocker):
    """A fresh database `kubedojo_test_<random>` on the PostgreSQL server, migrated and registered as the
    Django database alias "postgres" for the session, then dropped. Skipped when no server answers,
    except in CI (CI=true), where that is a failure."""
    import dj_database_url
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import DEFAULT_DB_ALIAS, connections

    url = postgres_server_url()
    server = dj_database_url.parse(url)
    try:
        maintenance = psycopg.connect(url, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        detail = " ".join(str(exc).split())
        reason = f"no PostgreSQL server answers at {server['HOST']}:{server['PORT']} ({detail})"
        if _in_ci():
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    name = f"kubedojo_test_{secrets.token_hex(4)}"
    with maintenance:
        maintenance.execute(f'CREATE DATABASE "{name}"')
    configured = connections.configure_settings({
        DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS],
        POSTGRES_ALIAS: {**server, "NAME": name, "CONN_MAX_AGE": 0},
    })
    connections.settings[POSTGRES_ALIAS] = settings.DATABASES[POSTGRES_ALIAS] = configured[POSTGRES_ALIAS]
    try:
        with django_db_blocker.unblock():
            call_command("migrate", database=POSTGRES_ALIAS, interactive=False, verbosity=0)
        yield POSTGRES_ALIAS
    finally:
        with django_db_blocker.unblock():
            connections[POSTGRES_ALIAS].close()
        with contextlib.suppress(AttributeError):
            del connections[POSTGRES_ALIAS]
        connections.settings.pop(POSTGRES_ALIAS, None)
        settings.DATABASES.pop(POSTGRES_ALIAS, None)
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as maintenance:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_db(postgres_database, django_db_blocker):
    """The "postgres" alias inside a transaction rolled back after the test, as pytest-django's `db` does
    for the default database. Tests that need real commits (several connections) use `postgres_database`."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic(using=postgres_database):
        yield postgres_database
        transaction.set_rollback(True, using=postgres_database)
