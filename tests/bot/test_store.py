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


def test_a_change_keeps_the_instance_name_and_older_changes_read_without_one(tmp_path, monkeypatch):
    import datetime as dt
    from decimal import Decimal

    import bot.store
    from engines.changes.models import ChangeRequest

    now = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    path = tmp_path / "state.db"
    before_0040 = [name for name, _ in MIGRATIONS].index("0040_change_instance_name")
    with monkeypatch.context() as patched:  # a database from before migration 0040
        patched.setattr(bot.store, "MIGRATIONS", MIGRATIONS[:before_0040])
        old = Store(path)
        old.db.execute(
            "insert into changes (created_at, updated_at, state, instance_id, region, "
            "from_type, to_type, version) values (?, ?, 'proposed', 'i-0old', 'us-east-1', "
            "'m5.large', 'm5.large', 0)",
            [now.isoformat(), now.isoformat()],
        )
        old.db.conn.commit()
        old.close()

    store = Store(path)  # applies 0040 only
    assert store.get_change(1).instance_name == ""
    assert store.get_change(1).label.startswith("`i-0old`")
    request = ChangeRequest(
        "i-0abc", "123456789012", "us-east-1", "c5.xlarge", "c5.large", Decimal("62.05"),
        "costbot", team="nlp", instance_name="nlp-batch",
    )  # fmt: skip
    named = store.create_change(request, now=now)
    assert store.get_change(named.id).instance_name == "nlp-batch"
    assert store.get_change(named.id).label == "nlp-batch (`i-0abc`, c5.xlarge → c5.large)"


def test_a_forgotten_key_is_new_again(tmp_path):
    store = Store(tmp_path / "state.db")
    assert store.first_time_seen("spot-plan:C1:abc") is True
    assert store.first_time_seen("spot-plan:C1:abc") is False
    store.forget_seen("spot-plan:C1:abc")
    assert store.first_time_seen("spot-plan:C1:abc") is True


def test_a_card_is_kept_and_read_back_and_a_database_from_before_0050_gains_the_table(tmp_path):
    import sqlite3

    path = tmp_path / "state.db"
    old = Store(path)
    old.db.execute("drop table cards")  # as a database made before migration 0050 was
    old.db.execute("delete from migrations where name = '0050_cards'")
    del old
    store = Store(path)
    assert store.card("C1", "1.2") is None
    store.save_card("C1", "1.2", blocks=[{"type": "divider"}], text="nlp · right-sizing")
    store.save_card("C1", "1.2", blocks=[{"type": "section"}], text="nlp · right-sizing")
    assert store.card("C1", "1.2") == ([{"type": "section"}], "nlp · right-sizing")
    assert sqlite3.connect(path).execute("select count(*) from cards").fetchone() == (1,)
