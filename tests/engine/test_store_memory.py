"""The store contract (tests/store_contract.py) against the in-memory store."""

from engine.store import DEFAULT_CHANGE_WINDOW, MemoryStore
from tests.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self, cluster="one", now=None, change_window=None):
        return MemoryStore(cluster, now, change_window=change_window or DEFAULT_CHANGE_WINDOW)

    def compact(self, store):
        pass  # MemoryStore forgets the oldest change as it logs a new one beyond its window
