"""DjangoStore on SQLite (pytest-django's test database): the store contract and the Django-side cases."""

import pytest

from tests.django_store_cases import DjangoStoreCases


@pytest.mark.django_db
class TestDjangoStoreOnSQLite(DjangoStoreCases):
    using = "default"


@pytest.mark.django_db(transaction=True)
def test_a_block_begun_in_autocommit_opens_its_transaction_at_its_first_write():
    from django.db import connection

    from cluster.models import Cluster
    from cluster.store import DjangoStore
    from engine import errors
    from tests.store_contract import DEFAULT_NAMESPACE, pod

    store = DjangoStore(Cluster.objects.create(name="lazy"), lambda: 1_800_000_000.0)
    store.create(DEFAULT_NAMESPACE)
    with store.atomic():  # a tick that only reads takes no write lock
        store.list("Pod")
        store.changes_since(0)
        assert not connection.in_atomic_block
        store.create(pod("a"))
        assert connection.in_atomic_block  # from the first write to the block's end, one transaction
        store.create(pod("b"))
    assert not connection.in_atomic_block
    assert [p["metadata"]["name"] for p in store.list("Pod")[0]] == ["a", "b"]

    with pytest.raises(RuntimeError), store.atomic():
        store.create(pod("c"))
        with pytest.raises(errors.ApiError):
            store.create(pod("a"))  # a clash leaves the transaction usable
        store.create(pod("d"))
        raise RuntimeError("tick failed")
    assert [p["metadata"]["name"] for p in store.list("Pod")[0]] == ["a", "b"]  # all of it rolled back
    assert store.revision() == 3
