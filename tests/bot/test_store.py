"""The state database: migrations once, WAL, safe across threads."""

import threading

from bot.store import MIGRATIONS, Store


def test_migrations_apply_once_and_are_recorded(tmp_path):
    path = tmp_path / "state.db"
    first = Store(path)
    assert {row["name"] for row in first.db["migrations"].rows} == {name for name, _ in MIGRATIONS}
    second = Store(path)
    assert second.migrate() == []
    assert second.db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_audit_records_survive_a_restart(tmp_path):
    path = tmp_path / "state.db"
    Store(path).record_audit(actor="U1", action="command", target="/cost", detail={"text": "help"})
    records = Store(path).audit_records()
    assert records[0]["actor"] == "U1"
    assert records[0]["detail"] == {"text": "help"}


def test_first_time_seen_is_true_exactly_once_across_threads(tmp_path):
    store = Store(tmp_path / "state.db")
    results = []
    lock = threading.Lock()

    def claim():
        seen = [store.first_time_seen(f"event:{i}") for i in range(100)]
        with lock:
            results.extend(seen)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 100
    assert results.count(False) == 300


def test_old_request_keys_are_forgotten(tmp_path):
    import datetime as dt

    store = Store(tmp_path / "state.db")
    old = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    store.first_time_seen("event:old", at=old)
    store.first_time_seen("event:new", at=old + dt.timedelta(days=5))
    assert store.forget_seen_before(old + dt.timedelta(days=1)) == 1
    assert store.first_time_seen("event:old") is True
    assert store.first_time_seen("event:new") is False


def test_a_forgotten_key_is_new_again(tmp_path):
    store = Store(tmp_path / "state.db")
    assert store.first_time_seen("spot-plan:C1:abc") is True
    assert store.first_time_seen("spot-plan:C1:abc") is False
    store.forget_seen("spot-plan:C1:abc")
    assert store.first_time_seen("spot-plan:C1:abc") is True
