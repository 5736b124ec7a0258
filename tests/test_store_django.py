"""DjangoStore on SQLite (pytest-django's test database): the store contract and the Django-side cases."""

import pytest

from tests.django_store_cases import DjangoStoreCases


@pytest.mark.django_db
class TestDjangoStoreOnSQLite(DjangoStoreCases):
    using = "default"
