"""The daily rollup answers exactly what a scan of the export files answers.

Every answer is compared with ``BillingFileSource.costs`` over the same files, group by group
and digit by digit (amounts as text, so ``3.3`` and ``3.30`` would differ), notes included.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.config.teams import find_team
from engines.costs import questions, team_days
from engines.costs.query import CostQuery, CostResult
from engines.costs.sources.billing_files import BillingFileSource
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import FocusFileSource
from engines.costs.sources.rollup import RollupSource, updating_note
from engines.errors import CostSourceError
from engines.models import Metric, Period, SharedCost, Team
from tests.engines.billing_lines import (
    CUR_LINES,
    DIMENSION_SETS,
    FOCUS_LINES,
    OCTOBER,
    Line,
    _focus,
    query_of,
    write_cur_csv_gz,
    write_cur_parquet,
    write_focus_parquet,
)

SEPTEMBER = Period(dt.date(2026, 9, 1), dt.date(2026, 10, 1), "September 2026")
PERIODS = [
    OCTOBER,
    SEPTEMBER,
    Period(dt.date(2026, 9, 30), dt.date(2026, 10, 8)),
    Period(dt.date(2026, 10, 31), dt.date(2026, 11, 2)),
    Period(dt.date(2026, 9, 1), dt.date(2026, 12, 1)),
]


def exactly(result: CostResult) -> list[tuple[tuple[str, ...], str, str]]:
    """The groups in order, amounts as text: equal only when every digit is."""
    return [(group.key, group.currency, str(group.amount)) for group in result.groups]


def assert_same(rollup: RollupSource, files: BillingFileSource, query: CostQuery) -> None:
    held = rollup.costs(query)
    scanned = files.costs(query)
    assert exactly(held) == exactly(scanned), query
    assert held.notes == scanned.notes
    assert held.source == scanned.source


class Spy:
    """Counts what the rollup asks of its file source: files summed, files scanned."""

    def __init__(self, files: BillingFileSource) -> None:
        self.ingested: list[str] = []
        self.scanned: list[list[str]] = []
        cleaned, scan = files.cleaned_lines, files.costs_of_files

        def cleaned_lines(connection, path, columns):  # type: ignore[no-untyped-def]
            self.ingested.append(os.path.basename(path))
            return cleaned(connection, path, columns)

        def costs_of_files(paths, query, **options):  # type: ignore[no-untyped-def]
            self.scanned.append(sorted(os.path.basename(p) for p in paths))
            return scan(paths, query, **options)

        files.cleaned_lines = cleaned_lines  # type: ignore[method-assign]
        files.costs_of_files = costs_of_files  # type: ignore[method-assign]


def rollup_of(files: BillingFileSource, where: Path, *keys: str, **options: object) -> RollupSource:
    options.setdefault("background", False)
    return RollupSource(files, path=where / "rollup.duckdb", tag_keys=keys, **options)  # type: ignore[arg-type]


# --- exact, question by question ----------------------------------------------------------


@pytest.mark.parametrize("tags_as", ["json", "map"])
def test_every_focus_question_it_holds_is_answered_exactly_as_the_files(
    tmp_path: Path, tags_as: str
) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES, tags_as=tags_as)
    files = FocusFileSource(str(path))
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path, "team", "user:cost.center")
    spy = Spy(rollup.files)
    for words in DIMENSION_SETS:
        for metric in Metric:
            for period in PERIODS:
                assert_same(rollup, files, query_of(words, metric=metric, period=period))
    for tags in ({"team": "nlp"}, {"team": ""}, {"team": "nlp", "user:cost.center": "ml"}):
        assert_same(rollup, files, query_of(("service",), tags=tags))
    assert_same(rollup, files, query_of(("day",), accounts=("012345678901", "444455556666")))
    assert_same(rollup, files, query_of(("tag:team",), accounts=("nobody",)))
    # Only `by resource` went to the files: everything else came from the rollup.
    assert spy.scanned and all(s == ["focus.parquet"] for s in spy.scanned)
    assert len(spy.scanned) == len(list(Metric)) * len(PERIODS)  # the resource questions


@pytest.mark.parametrize("writer", [write_cur_parquet, write_cur_csv_gz])
def test_every_cur_question_it_holds_is_answered_exactly_as_the_files(
    tmp_path: Path, writer: object
) -> None:
    name = "cur.parquet" if writer is write_cur_parquet else "cur.csv.gz"
    path = writer(tmp_path / name, CUR_LINES)  # type: ignore[operator]
    files = CurFileSource(str(path))
    rollup = rollup_of(CurFileSource(str(path)), tmp_path, "team", "aws:createdBy")
    for words in DIMENSION_SETS:
        for metric in Metric:
            for period in PERIODS:
                assert_same(rollup, files, query_of(words, metric=metric, period=period))
    assert_same(rollup, files, query_of(("service",), tags={"team": "nlp"}))
    assert_same(rollup, files, query_of(("tag:aws:createdBy",), accounts=("444455556666",)))
    assert rollup.coverage() == files.coverage()


def test_a_months_tax_counts_only_in_periods_holding_its_whole_charge_period(
    tmp_path: Path,
) -> None:
    fee = _focus("2026-10-01T00:00:00Z", "100", "AWS Support", end="2026-11-01T00:00:00Z")
    two_days = _focus("2026-10-05T12:00:00Z", "7", "AWS Support", end="2026-10-07T00:00:00Z")
    path = write_focus_parquet(tmp_path / "fees.parquet", [fee, two_days])
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path)

    def total(start: str, end: str) -> Decimal:
        period = Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        return rollup.costs(query_of((), period=period)).totals().get("USD", Decimal(0))

    assert total("2026-10-01", "2026-11-01") == Decimal("107")
    assert total("2026-10-01", "2026-10-31") == Decimal("7")  # the month's fee is not whole
    assert total("2026-10-05", "2026-10-07") == Decimal("7")  # ends at midnight: inside
    assert total("2026-10-05", "2026-10-06") == Decimal("0")


# --- random lines, random questions (hypothesis) -------------------------------------------

_DAYS = [dt.datetime(2026, 9, 28) + dt.timedelta(hours=7 * n) for n in range(0, 150)]
_amounts = st.one_of(
    st.none(),
    st.decimals(min_value=-1000, max_value=100000, places=6, allow_nan=False),
    st.sampled_from([Decimal("0.0000000001"), Decimal("12345678.9999999999")]),
)
_tags = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["team", "env"]), st.sampled_from(["nlp", "vision", "", "prod"])
    ),
)


@st.composite
def random_lines(draw: st.DrawFn) -> list[Line]:
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        start = draw(st.sampled_from(_DAYS))
        midnight = dt.datetime.combine(start.date(), dt.time())
        end = draw(
            st.sampled_from(
                [start + dt.timedelta(hours=h) for h in (1, 1, 24, 25)]
                + [midnight + dt.timedelta(days=d) for d in (1, 2, 3, 31)]
            )
        )
        billed = draw(_amounts)
        line = _focus(
            start.isoformat() + "Z",
            None if billed is None else str(billed),
            draw(st.sampled_from(["Amazon EC2", "Amazon S3", None, ""])),
            currency=draw(st.sampled_from(["USD", "USD", "EUR", None])),
            account=draw(st.sampled_from(["012345678901", "111122223333", None])),
            region=draw(st.sampled_from(["us-east-1", "eu-west-1", None])),
            resource=draw(st.sampled_from(["i-1", "i-2", None])),
            category=draw(st.sampled_from(["Usage", "Tax", "Credit", None])),
            tags=draw(_tags),
            effective=str(draw(st.decimals(-5, 5, places=10, allow_nan=False))),
            end=end.isoformat() + "Z",
        )
        lines.append(line)
    return lines


@st.composite
def random_questions(draw: st.DrawFn) -> CostQuery:
    words = draw(st.sampled_from([w for w in DIMENSION_SETS if "resource" not in w]))
    start = dt.date(2026, 9, 27) + dt.timedelta(days=draw(st.integers(0, 40)))
    start = draw(st.sampled_from([start, dt.date(2026, 9, 28), dt.date(2026, 10, 1)]))
    days = draw(st.sampled_from([1, 2, 3, 4, 7, 31, 60]))
    tags = draw(st.sampled_from([{}, {"team": "nlp"}, {"team": ""}, {"env": "prod"}]))
    accounts = draw(st.sampled_from([(), ("111122223333",)]))
    return query_of(
        (*words, "tag:env") if draw(st.booleans()) else words,
        metric=draw(st.sampled_from(list(Metric))),
        tags=tags,
        accounts=accounts,
        period=Period(start, start + dt.timedelta(days=days)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_lines(), st.integers(1, 3), st.lists(random_questions(), min_size=1, max_size=6))
def test_random_lines_in_several_files_sum_exactly_as_a_scan(
    lines: list[Line], parts: int, asked: list[CostQuery]
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rollup-"))
    try:
        for n in range(parts):
            chunk = lines[n::parts]
            if chunk:
                write_focus_parquet(folder / f"part-{n}.parquet", chunk, tags_as="json")
        glob = str(folder / "*.parquet")
        files = FocusFileSource(glob)
        rollup = rollup_of(FocusFileSource(glob), folder, "team", "env")
        for query in asked:
            assert_same(rollup, files, query)
        assert rollup.coverage() == files.coverage()
        rollup.close()
    finally:
        shutil.rmtree(folder)


# --- incremental, persistent, rebuilt -------------------------------------------------------


def _october(n: int) -> list[Line]:
    day = f"2026-10-{n:02d}T00:00:00Z"
    return [
        _focus(day, f"{n}.5", "Amazon EC2", tags={"team": "nlp"}),
        _focus(day, "1", "Amazon S3", tags={"team": "vision", "env": "prod"}),
    ]


def test_a_new_file_is_summed_alone_a_changed_one_replaces_its_rows_a_gone_one_leaves(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_focus_parquet(exports / "a.parquet", _october(1))
    files = FocusFileSource(str(exports))
    files.relist_after_s = 0
    rollup = rollup_of(files, tmp_path, "team")
    spy = Spy(files)
    scan = FocusFileSource(str(exports))
    scan.relist_after_s = 0
    question = query_of(("tag:team",))

    assert_same(rollup, scan, question)
    write_focus_parquet(exports / "b.parquet", _october(2))
    assert_same(rollup, scan, question)
    assert spy.ingested == ["a.parquet", "b.parquet"]  # b alone, a not again

    write_focus_parquet(exports / "a.parquet", _october(3))  # a new version of a
    os.utime(exports / "a.parquet", ns=(1, 1))
    assert_same(rollup, scan, question)
    assert spy.ingested[2:] == ["a.parquet"]
    (exports / "b.parquet").unlink()
    assert_same(rollup, scan, question)
    assert rollup.status().files == 1
    assert spy.scanned == []  # every answer came from the rollup


def test_a_reopened_rollup_answers_without_reading_the_files_again(tmp_path: Path) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    first = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    expected = exactly(first.costs(query_of(("service", "tag:team"))))
    first.close()

    files = FocusFileSource(str(path))
    spy = Spy(files)
    again = rollup_of(files, tmp_path, "team")
    assert exactly(again.costs(query_of(("service", "tag:team")))) == expected
    assert spy.ingested == [] and spy.scanned == []


def test_new_tag_keys_in_the_teams_file_rebuild_it(tmp_path: Path) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    rollup_of(FocusFileSource(str(path)), tmp_path, "team").close()

    files = FocusFileSource(str(path))
    spy = Spy(files)
    rebuilt = rollup_of(files, tmp_path, "team", "env")
    assert_same(rebuilt, FocusFileSource(str(path)), query_of(("tag:env",), tags={"team": "nlp"}))
    assert spy.ingested == ["focus.parquet"] and spy.scanned == []
    assert rebuilt.status().tag_keys == ("env", "team")


# --- what it does not hold: the files, only those meeting the period ------------------------


def test_by_resource_and_unheld_tags_scan_only_the_files_whose_days_meet_the_period(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    months = {"2026-08": "08", "2026-09": "09", "2026-10": "10"}
    for month, mm in months.items():
        folder = exports / f"BILLING_PERIOD={month}"
        folder.mkdir(parents=True)
        write_focus_parquet(
            folder / "part-0.parquet",
            [
                _focus(
                    f"2026-{mm}-10T00:00:00Z",
                    "5",
                    "Amazon EC2",
                    resource=f"i-{mm}",
                    tags={"owner": "x"},
                )
            ],
        )
    files = FocusFileSource(str(exports))
    spy = Spy(files)
    rollup = rollup_of(files, tmp_path, "team")
    scan = FocusFileSource(str(exports))

    assert_same(rollup, scan, query_of(("resource",), period=SEPTEMBER))
    assert_same(rollup, scan, query_of(("tag:owner",), period=SEPTEMBER))
    assert spy.scanned == [["part-0.parquet"], ["part-0.parquet"]]  # one of the three
    empty = Period(dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    assert rollup.costs(query_of(("resource",), period=empty)).groups == ()
    assert spy.scanned[-1] == []


# --- live updates ----------------------------------------------------------------------------


def test_a_question_during_an_update_gets_the_previous_data_with_a_note(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_focus_parquet(exports / "a.parquet", _october(1))
    files = FocusFileSource(str(exports))
    files.relist_after_s = 0
    rollup = rollup_of(files, tmp_path, "team", background=True)
    question = query_of(("tag:team",))
    before = exactly(rollup.costs(question))  # the first build is waited for

    adding, release = threading.Event(), threading.Event()
    cleaned = files.cleaned_lines

    def slow_cleaned_lines(connection, path, columns):  # type: ignore[no-untyped-def]
        adding.set()
        assert release.wait(10)
        return cleaned(connection, path, columns)

    files.cleaned_lines = slow_cleaned_lines  # type: ignore[method-assign]
    write_focus_parquet(exports / "b.parquet", _october(2))
    during = rollup.costs(question)
    assert adding.wait(10)
    again = rollup.costs(question)  # still under way: the same previous data
    assert exactly(during) == exactly(again) == before
    assert during.notes == again.notes == (updating_note(1),)

    release.set()
    rollup.close()  # waits for the update to finish
    reopened = rollup_of(FocusFileSource(str(exports)), tmp_path, "team")
    after = reopened.costs(question)
    assert after.notes == ()
    assert exactly(after) == exactly(FocusFileSource(str(exports)).costs(question))
    assert exactly(after) != before


def test_a_file_landing_between_two_questions_is_counted_from_the_next_relisting(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_focus_parquet(exports / "a.parquet", _october(1))
    now = [0.0]
    files = FocusFileSource(str(exports), clock=lambda: now[0])
    rollup = rollup_of(files, tmp_path, "team")
    question = query_of(("tag:team",))
    before = exactly(rollup.costs(question))

    write_focus_parquet(exports / "b.parquet", _october(2))  # lands while the bot runs
    assert exactly(rollup.costs(question)) == before  # the listing is a second old
    now[0] += files.relist_after_s
    after = rollup.costs(question)

    assert exactly(after) == exactly(FocusFileSource(str(exports)).costs(question))
    assert exactly(after) != before
    assert rollup.status().files == 2


def test_new_tag_keys_while_the_bot_runs_rebuild_it_and_its_answers_follow(
    tmp_path: Path,
) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    rollup = rollup_of(files, tmp_path, "team")
    spy = Spy(files)
    by_env = query_of(("tag:env",), tags={"team": "nlp"})
    scan = FocusFileSource(str(path))
    assert_same(rollup, scan, by_env)
    assert spy.scanned == [["focus.parquet"]]  # env is not held: the files answered

    assert rollup.set_tag_keys(("team", "env"))
    assert not rollup.set_tag_keys(("env", "team"))  # the same keys: nothing to do
    assert_same(rollup, scan, by_env)
    assert_same(rollup, scan, query_of(("service", "tag:team")))
    assert spy.scanned == [["focus.parquet"]]
    assert spy.ingested == ["focus.parquet"] * 2  # the first build, then the rebuild once
    assert rollup.status().tag_keys == ("env", "team")
    rollup.close()
    reopened = rollup_of(FocusFileSource(str(path)), tmp_path, "team", "env")
    assert reopened.status().files == 1  # what was rebuilt is kept: no build again


def test_a_question_during_a_rebuild_gets_the_rollup_as_it_was(tmp_path: Path) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    rollup = rollup_of(files, tmp_path, "team", background=True)
    by_team = query_of(("service", "tag:team"))
    scan = FocusFileSource(str(path))
    assert_same(rollup, scan, by_team)  # the first build is waited for
    generation = rollup.status().generation

    rebuilding, release = threading.Event(), threading.Event()
    cleaned = files.cleaned_lines

    def slow_cleaned_lines(connection, path, columns):  # type: ignore[no-untyped-def]
        rebuilding.set()
        assert release.wait(10)
        return cleaned(connection, path, columns)

    files.cleaned_lines = slow_cleaned_lines  # type: ignore[method-assign]
    spy = Spy(files)
    assert rollup.set_tag_keys(("team", "env"))  # the teams file now matches on env too
    assert rebuilding.wait(10)  # the rebuild's thread is inside its transaction

    answers: dict[str, CostResult] = {}
    asker = threading.Thread(
        target=lambda: answers.update(
            team=rollup.costs(by_team),
            env=rollup.costs(query_of(("tag:env",))),
        )
    )
    asker.start()
    asker.join(10)
    assert not asker.is_alive()
    assert answers["team"].groups == scan.costs(by_team).groups  # the old tables, whole
    assert answers["team"].notes == ()  # same files, same figures
    assert answers["env"].groups == scan.costs(query_of(("tag:env",))).groups  # files
    assert spy.scanned == [["focus.parquet"]]  # only the question the old rollup cannot hold
    assert rollup.status().generation == generation

    release.set()
    rollup.refresh()  # waits for the rebuild
    assert rollup.status().generation == generation + 1
    assert_same(rollup, scan, query_of(("tag:env",)))
    assert spy.scanned == [["focus.parquet"]]  # now held


def test_a_file_it_cannot_hold_is_named_as_a_scan_names_it(tmp_path: Path) -> None:
    path = tmp_path / "focus.parquet"
    write_focus_parquet(path, FOCUS_LINES)
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    rollup.costs(query_of(("service",)))
    bad = tmp_path / "focus-bad.csv"
    bad.write_text("ChargePeriodStart,BilledCost,BillingCurrency,ServiceName\n"
                   "2026-10-02T00:00:00Z,lots,USD,Amazon EC2\n")  # fmt: skip
    files = FocusFileSource(str(tmp_path / "focus*"))
    rollup = RollupSource(files, path=tmp_path / "second.duckdb", tag_keys=("team",))
    with pytest.raises(CostSourceError) as raised:
        rollup.costs(query_of(("service",)))
    with pytest.raises(CostSourceError) as scanned:
        FocusFileSource(str(tmp_path / "focus*")).costs(query_of(("service",)))
    assert str(raised.value) == str(scanned.value)
    assert "focus-bad.csv" in str(raised.value) and "'lots'" in str(raised.value)


# --- the path users take --------------------------------------------------------------------

TEAMS = {
    "nlp": Team(name="nlp", tags={"team": "nlp"}, channel="#nlp"),
    "vision": Team(name="vision", tags={"team": "vision"}, channel="#vision"),
    "fraud-detection": Team(
        name="fraud-detection", tags={"team": "fraud-detection"}, channel="#fraud"
    ),
}
SHARED = [SharedCost(name="support", tags={}, accounts=("444455556666",))]


def test_team_top_and_compare_answers_are_those_of_the_files(tmp_path: Path) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    today = dt.date(2026, 11, 20)
    for by in ("service", "day", "region", "tag:team"):
        a = questions.team_cost(
            rollup, TEAMS, SHARED, team=find_team(TEAMS, "nlp"), period=OCTOBER, by=by, today=today
        )
        b = questions.team_cost(
            files, TEAMS, SHARED, team=find_team(TEAMS, "nlp"), period=OCTOBER, by=by, today=today
        )
        assert a.as_json() == b.as_json()
    for by in ("team", "service", "account"):
        a = questions.top_costs(rollup, TEAMS, SHARED, period=OCTOBER, by=by, today=today)
        b = questions.top_costs(files, TEAMS, SHARED, period=OCTOBER, by=by, today=today)
        assert a.as_json() == b.as_json()
    a = questions.compare_periods(
        rollup,
        TEAMS,
        SHARED,
        current=OCTOBER,
        baseline=SEPTEMBER,
        team=find_team(TEAMS, "nlp"),
        today=today,
    )
    b = questions.compare_periods(
        files,
        TEAMS,
        SHARED,
        current=OCTOBER,
        baseline=SEPTEMBER,
        team=find_team(TEAMS, "nlp"),
        today=today,
    )
    assert a.as_json() == b.as_json()


def test_the_bot_answers_from_the_rollup_next_to_its_database(tmp_path: Path) -> None:
    from bot.app import build_cost_source, rule_tag_keys
    from bot.settings import Settings
    from engines.config.teams import CostConfig

    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    env = {"COSTBOT_DB": str(tmp_path / "costbot.db"), "COSTBOT_COST_SOURCE": f"focus:{path}"}
    settings = Settings.from_env(env, require_slack=False)
    config = CostConfig(teams=TEAMS, shared=tuple(SHARED))
    source = build_cost_source(
        settings,
        None,
        None,
        now=dt.datetime.now,
        tag_keys=rule_tag_keys(config),  # type: ignore[arg-type]
    )
    assert isinstance(source, RollupSource)
    assert source.path == tmp_path / "costbot-rollup.duckdb"
    assert_same(source, FocusFileSource(str(path)), query_of(("service", "tag:team")))
    off = Settings.from_env({**env, "COSTBOT_ROLLUP_DB": "off"}, require_slack=False)
    assert isinstance(build_cost_source(off, None, None, now=dt.datetime.now), FocusFileSource)  # type: ignore[arg-type]


def test_without_a_rollup_a_neighbouring_partition_is_read_when_it_holds_the_periods_days(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    for month in ("2026-08", "2026-09", "2026-10"):
        (exports / f"BILLING_PERIOD={month}").mkdir(parents=True)
    lines = {
        "2026-08": [_focus("2026-08-10T00:00:00Z", "1", "Amazon EC2", resource="i-8")],
        "2026-09": [_focus("2026-09-10T00:00:00Z", "2", "Amazon EC2", resource="i-9")],
        # October's export corrects September: billed in October, charged in September.
        "2026-10": [
            _focus("2026-10-10T00:00:00Z", "4", "Amazon EC2", resource="i-10"),
            _focus("2026-09-20T00:00:00Z", "-0.5", "Amazon EC2", resource="i-9", category="Credit"),
        ],
    }
    for month, month_lines in lines.items():
        write_focus_parquet(exports / f"BILLING_PERIOD={month}" / "part-0.parquet", month_lines)
    files = FocusFileSource(str(exports))
    spy = Spy(files)

    september = files.costs(query_of(("resource",), period=SEPTEMBER))
    assert exactly(september) == [(("i-9",), "USD", "1.5")]  # the correction is counted
    read = [Path(p).parent.name for p in files.matching_files()]
    assert len(read) == 3
    # September's and October's (its footer holds a September day); August's holds none.
    assert spy.scanned == [["part-0.parquet", "part-0.parquet"]]
    november = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert files.costs(query_of(("resource",), period=november)).groups == ()


def test_while_the_first_build_is_under_way_the_files_answer(tmp_path: Path) -> None:
    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    building, release = threading.Event(), threading.Event()
    cleaned = files.cleaned_lines

    def slow_cleaned_lines(connection, path, columns):  # type: ignore[no-untyped-def]
        building.set()
        assert release.wait(10)
        return cleaned(connection, path, columns)

    files.cleaned_lines = slow_cleaned_lines  # type: ignore[method-assign]
    rollup = rollup_of(files, tmp_path, "team", background=True)
    spy = Spy(files)
    assert rollup.start_refresh()
    assert building.wait(10)
    assert not rollup.start_refresh()  # one build at a time
    question = query_of(("service", "tag:team"))
    assert_same(rollup, FocusFileSource(str(path)), question)  # the files answered, exactly
    assert len(spy.scanned) == 1

    release.set()
    rollup.close()  # waits for the build
    reopened = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    assert reopened.status().files == 1
    assert_same(reopened, FocusFileSource(str(path)), question)


def test_a_second_costbot_on_the_same_database_scans_the_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    from bot.app import build_cost_source
    from bot.settings import Settings

    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    env = {"COSTBOT_DB": str(tmp_path / "costbot.db"), "COSTBOT_COST_SOURCE": f"focus:{path}"}
    settings = Settings.from_env(env, require_slack=False)
    assert settings.rollup_db is not None
    holder = subprocess.Popen(  # another process keeps the rollup open
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", str(settings.rollup_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        source = build_cost_source(settings, None, None, now=dt.datetime.now)  # type: ignore[arg-type]
        assert isinstance(source, FocusFileSource)
        assert_same(source, FocusFileSource(str(path)), query_of(("service",)))  # type: ignore[arg-type]
    finally:
        holder.communicate("")


# --- allocation in SQL: every team's own days, summed by team in the database -------------

OWNERS = {
    **TEAMS,
    "payments": Team(name="payments", tags={}, accounts=("111122223333",), channel="#payments"),
}


@pytest.mark.parametrize("by", ["service", "region"])
def test_each_teams_own_days_summed_by_team_in_sql_are_those_of_the_files(
    tmp_path: Path, by: str
) -> None:
    from engines.costs.allocation_cache import AllocationCache

    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    period = Period(dt.date(2026, 9, 28), dt.date(2026, 11, 3))
    asked = rollup.owned_daily_costs
    calls: list[object] = []
    rollup.owned_daily_costs = lambda *a, **k: calls.append(a) or asked(*a, **k)  # type: ignore[method-assign]
    for currency in ("USD", "EUR", "JPY"):
        for name in OWNERS:
            held = team_days.team_daily_costs(
                rollup, OWNERS, SHARED, team=find_team(OWNERS, name), period=period, by=by,
                with_shared=False, currency=currency, cache=AllocationCache(),
            )  # fmt: skip
            scanned = team_days.team_daily_costs(
                files, OWNERS, SHARED, team=find_team(OWNERS, name), period=period, by=by,
                with_shared=False, currency=currency, cache=AllocationCache(),
            )  # fmt: skip
            as_text = lambda days: {d: {k: str(a) for k, a in r.items()} for d, r in days.items()}  # noqa: E731
            assert as_text(held.days) == as_text(scanned.days), (currency, name)
    assert calls  # the rollup summed them itself
    nlp = team_days.team_daily_costs(rollup, OWNERS, SHARED, team=find_team(OWNERS, "nlp"),
                                     period=period, with_shared=False, currency="USD")  # fmt: skip
    assert str(nlp.days[dt.date(2026, 10, 1)]["Amazon EC2"]) == "120.25"
    payments = team_days.team_daily_costs(
        rollup, OWNERS, SHARED, team=find_team(OWNERS, "payments"), period=period,
        with_shared=False, currency="USD",
    )  # fmt: skip
    assert dt.date(2026, 10, 2) not in payments.days  # tagged fraud-detection: that team's


def test_a_digest_from_the_rollup_is_the_digest_from_the_files(tmp_path: Path) -> None:
    from engines.costs.allocation_cache import AllocationCache
    from engines.digests.digest import build_digest, team_figures

    path = write_focus_parquet(tmp_path / "focus.parquet", FOCUS_LINES)
    files = FocusFileSource(str(path))
    rollup = rollup_of(FocusFileSource(str(path)), tmp_path, "team")
    shared = [*SHARED, SharedCost(name="platform", tags={"team": ""}, accounts=())]
    for today in (dt.date(2026, 10, 13), dt.date(2026, 11, 2)):
        for name in OWNERS:
            held = build_digest(rollup, OWNERS, shared, team=find_team(OWNERS, name), today=today,
                                cache=AllocationCache())  # fmt: skip
            scanned = build_digest(files, OWNERS, shared, team=find_team(OWNERS, name), today=today,
                                   cache=AllocationCache())  # fmt: skip
            assert held.as_json() == scanned.as_json(), (today, name)
            figures = team_figures(
                rollup, OWNERS, shared, team=find_team(OWNERS, name), today=today
            )
            assert figures.as_json() == held.figures.as_json()
