"""Allocation: every line to one team, shared cost or "untagged", adding up exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.config.teams import load_config
from engines.costs.allocation import (
    AllocationInvariantError,
    CurrencyAllocation,
    Overlap,
    TeamAllocation,
    allocate,
    allocation_dimensions,
    split_exactly,
)
from engines.costs.ownership import claiming_rules, owner_of
from engines.costs.query import SERVICE, CostGroup, CostQuery, CostResult, Dimension, DimensionKind
from engines.models import Period, SharedCost, SplitRule, Team

D = Decimal
ACCOUNT = Dimension(DimensionKind.ACCOUNT)
TEAM_TAG = Dimension(DimensionKind.TAG, "team")
ENV_TAG = Dimension(DimensionKind.TAG, "env")
MARCH = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1), "March")
PROD, DEV, SHARED_ACCOUNT = "111111111111", "222222222222", "333333333333"


def team(name: str, *, tags: dict[str, str] | None = None, accounts: tuple[str, ...] = ()) -> Team:
    if tags is None and not accounts:
        tags = {"team": name}
    return Team(name=name, tags=tags or {}, channel=f"#{name}", accounts=accounts)


def teams(*items: Team) -> dict[str, Team]:
    return {item.name: item for item in items}


ABC = teams(team("a"), team("b"), team("c"))


def shared(
    split: SplitRule = "proportional",
    *,
    name: str = "platform",
    among: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
    accounts: tuple[str, ...] = (),
) -> SharedCost:
    if tags is None and not accounts:
        tags = {"team": name}
    return SharedCost(name=name, tags=tags or {}, accounts=accounts, split=split, among=among)


def result(group_by: tuple[Dimension, ...], *rows: tuple[tuple[str, ...], str, str]) -> CostResult:
    groups = tuple(CostGroup(key, currency, D(amount)) for key, currency, amount in rows)
    return CostResult(CostQuery(MARCH, group_by=group_by), groups, source="test")


def by_team(groups: dict[str, str], currency: str = "USD") -> CostResult:
    """A result grouped by tag:team only: {team tag value: amount}."""
    return result((TEAM_TAG,), *(((tag,), currency, amount) for tag, amount in groups.items()))


def usd(allocation_currencies: dict[str, CurrencyAllocation]) -> CurrencyAllocation:
    return allocation_currencies["USD"]


def shares(currency: CurrencyAllocation, name: str = "platform") -> dict[str, Decimal]:
    return next(split.shares for split in currency.shared if split.name == name)


# --- dimensions ----------------------------------------------------------------------------


def test_dimensions_are_the_sorted_tag_keys_and_account_only_when_a_rule_names_one() -> None:
    rules = teams(team("a", tags={"team": "a", "env": "prod"}), team("b"))

    assert allocation_dimensions(rules) == (ENV_TAG, TEAM_TAG)
    with_account = allocation_dimensions(rules, [shared(accounts=(SHARED_ACCOUNT,))])
    assert with_account == (ACCOUNT, ENV_TAG, TEAM_TAG)
    assert allocation_dimensions({}) == ()


def test_a_result_missing_a_dimension_the_rules_need_is_refused() -> None:
    rules = teams(team("a", accounts=(PROD,)))

    with pytest.raises(ValueError, match="not grouped by account"):
        allocate(by_team({"a": "1"}), teams=rules)


# --- direct cost, untagged, overlaps -------------------------------------------------------


def test_tagged_lines_go_to_their_team_and_the_rest_is_untagged() -> None:
    allocation = allocate(by_team({"a": "10.00", "b": "5.50", "": "2.25", "x": "1"}), teams=ABC)

    currency = usd(allocation.currencies)
    assert {name: t.total for name, t in currency.teams.items()} == {
        "a": D("10.00"),
        "b": D("5.50"),
        "c": D(0),
    }
    assert currency.untagged == {(): D("3.25")}
    assert currency.total == D("18.75")
    assert currency.overlaps == ()
    assert allocation.extra_dimensions == ()


def test_an_account_rule_claims_the_whole_account_tagged_or_not() -> None:
    rules = teams(team("a"), team("data", accounts=(DEV,)))
    cost = result(
        (ACCOUNT, TEAM_TAG),
        ((DEV, ""), "USD", "7"),
        ((DEV, "zzz"), "USD", "3"),
        ((PROD, ""), "USD", "100"),
    )

    currency = usd(allocate(cost, teams=rules).currencies)

    assert currency.teams["data"].direct == {(): D(10)}
    assert currency.untagged == {(): D(100)}


def test_a_team_with_tags_and_accounts_takes_its_tagged_lines_in_its_accounts() -> None:
    """The same AND as CostFilter, so allocation agrees with the per-team cost query."""
    rules = teams(team("a", tags={"team": "a"}, accounts=(PROD,)))
    cost = result((ACCOUNT, TEAM_TAG), ((PROD, "a"), "USD", "4"), ((DEV, "a"), "USD", "6"))

    currency = usd(allocate(cost, teams=rules).currencies)

    assert currency.teams["a"].direct_total == D(4)
    assert currency.untagged_total == D(6)


def test_a_line_two_teams_match_goes_to_the_first_and_is_reported_once() -> None:
    rules = teams(team("a"), team("data", accounts=(PROD,)))
    cost = result(
        (ACCOUNT, TEAM_TAG),
        ((PROD, "a"), "USD", "5"),
        ((PROD, "a"), "USD", "1"),
        ((PROD, ""), "USD", "2"),
    )

    currency = usd(allocate(cost, teams=rules).currencies)

    assert currency.teams["a"].total == D(6)
    assert currency.teams["data"].total == D(2)
    assert currency.overlaps == (Overlap("teams.a", ("teams.data",), D(6)),)


def test_a_rule_with_neither_tags_nor_accounts_matches_nothing() -> None:
    rules = teams(Team(name="ghost", tags={}, channel="#ghost"))

    currency = usd(allocate(by_team({"": "3"}), teams=rules).currencies)

    assert currency.teams["ghost"].total == 0
    assert currency.untagged_total == D(3)


def test_extra_dimensions_key_direct_and_untagged_cost() -> None:
    cost = result(
        (SERVICE, TEAM_TAG),
        (("EC2", "a"), "USD", "3"),
        (("S3", "a"), "USD", "1"),
        (("EC2", "a"), "USD", "2"),
        (("EC2", ""), "USD", "9"),
    )

    allocation = allocate(cost, teams=ABC)

    assert allocation.extra_dimensions == (SERVICE,)
    currency = usd(allocation.currencies)
    assert currency.teams["a"].direct == {("EC2",): D(5), ("S3",): D(1)}
    assert currency.untagged == {("EC2",): D(9)}


# --- shared costs --------------------------------------------------------------------------


def test_proportional_thirds_keep_every_cent_and_the_first_team_gets_the_odd_one() -> None:
    cost = by_team({"a": "100", "b": "100", "c": "100", "platform": "100.00"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared()]).currencies)

    assert shares(currency) == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    assert currency.teams["a"].total == D("133.34")
    assert currency.teams["a"].shared == {"platform": D("33.34")}
    assert currency.allocated_total == currency.total == D("400.00")


def test_proportional_follows_direct_cost() -> None:
    cost = by_team({"a": "200", "b": "100", "platform": "10.00"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared(among=("a", "b"))]).currencies)

    # quotas 6.666… and 3.333…: the leftover cent goes to the larger remainder (a).
    assert shares(currency) == {"a": D("6.67"), "b": D("3.33")}
    assert "c" not in shares(currency)
    assert currency.teams["c"].shared == {}


def test_even_split_in_thirds() -> None:
    cost = by_team({"a": "1", "platform": "10.00"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared("even")]).currencies)

    assert shares(currency) == {"a": D("3.34"), "b": D("3.33"), "c": D("3.33")}
    assert currency.shared[0].method == "evenly among a, b, c"


def test_fixed_percentages_go_to_the_largest_remainders() -> None:
    split = {"a": D(50), "b": D(30), "c": D(20)}
    cost = by_team({"platform": "99.99"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared(split)]).currencies)

    # quotas 49.995, 29.997, 19.998: c and b have the largest remainders.
    assert shares(currency) == {"a": D("49.99"), "b": D("30.00"), "c": D("20.00")}
    assert currency.shared[0].method == "fixed percentages: a 50%, b 30%, c 20%"


def test_proportional_with_no_direct_cost_stays_unsplit_and_says_why() -> None:
    cost = by_team({"platform": "12.00", "": "1"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared()]).currencies)

    (unsplit,) = currency.unsplit_shared
    assert unsplit.amount == D("12.00")
    assert unsplit.shares == {}
    assert unsplit.unsplit_reason == (
        "split in proportion to direct cost, but a, b, c had no direct USD cost "
        "(or only credits) to weigh it by"
    )
    assert currency.unsplit_total == D("12.00")
    assert currency.allocated_total == D("13.00")


def test_a_team_whose_credits_exceed_its_charges_weighs_nothing() -> None:
    cost = by_team({"a": "-5", "b": "20", "platform": "9.00"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared()]).currencies)

    assert shares(currency) == {"a": D("0.00"), "b": D("9.00"), "c": D("0.00")}


def test_a_negative_shared_cost_splits_into_negative_shares_by_the_same_rule() -> None:
    cost = by_team({"a": "1", "platform": "-10.00"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared("even")]).currencies)

    assert shares(currency) == {"a": D("-3.34"), "b": D("-3.33"), "c": D("-3.33")}


def test_shared_rules_are_checked_before_team_rules() -> None:
    rules = teams(team("a"), team("b"))
    platform = shared("even", accounts=(SHARED_ACCOUNT,))
    cost = result(
        (ACCOUNT, TEAM_TAG),
        ((SHARED_ACCOUNT, "a"), "USD", "8"),
        ((SHARED_ACCOUNT, ""), "USD", "2"),
        ((PROD, "a"), "USD", "1"),
    )

    currency = usd(allocate(cost, teams=rules, shared=[platform]).currencies)

    assert currency.shared[0].amount == D(10)
    assert currency.teams["a"].direct_total == D(1)
    assert currency.overlaps == (Overlap("shared.platform", ("teams.a",), D(8)),)


def test_a_shared_cost_matching_nothing_is_not_listed() -> None:
    currency = usd(allocate(by_team({"a": "1"}), teams=ABC, shared=[shared()]).currencies)

    assert currency.shared == ()


def test_sub_cent_amounts_split_at_their_own_precision() -> None:
    cost = by_team({"a": "1", "platform": "1.0000000001"})

    currency = usd(allocate(cost, teams=ABC, shared=[shared("even")]).currencies)

    assert shares(currency) == {
        "a": D("0.3333333334"),
        "b": D("0.3333333334"),
        "c": D("0.3333333333"),
    }


def test_currencies_are_kept_apart_and_weighed_separately() -> None:
    cost = result(
        (TEAM_TAG,),
        (("a",), "USD", "300"),
        (("b",), "EUR", "50"),
        (("platform",), "USD", "30.00"),
        (("platform",), "EUR", "7.00"),
    )

    allocation = allocate(cost, teams=ABC, shared=[shared()])

    assert list(allocation.currencies) == ["USD", "EUR"]
    dollars, euros = allocation.currencies["USD"], allocation.currencies["EUR"]
    assert shares(dollars) == {"a": D("30.00"), "b": D("0.00"), "c": D("0.00")}
    assert shares(euros) == {"a": D("0.00"), "b": D("7.00"), "c": D("0.00")}
    assert (dollars.total, euros.total) == (D("330.00"), D("57.00"))


def test_a_shared_cost_naming_an_unknown_team_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown teams: z"):
        allocate(by_team({"a": "1"}), teams=ABC, shared=[shared(among=("a", "z"))])


def test_the_invariant_check_catches_a_broken_allocation() -> None:
    broken = CurrencyAllocation(
        currency="USD",
        teams={"a": TeamAllocation(direct={(): D("1.00")}, shared={})},
        untagged={},
        shared=(),
        overlaps=(),
        total=D("1.01"),
    )

    with pytest.raises(AllocationInvariantError, match="allocated 1.00, source total 1.01"):
        broken.check_invariant()


def test_the_demo_teams_file_with_a_shared_platform() -> None:
    demo = Path(__file__).parents[3] / "bot" / "demo" / "teams.toml"
    config = load_config(demo.read_text(), filename="teams.toml")  # it has [shared.platform]
    group_by = allocation_dimensions(config.teams, config.shared) + (SERVICE,)
    cost = result(
        group_by,
        (("fraud-detection", "EC2"), "USD", "600"),
        (("recommendations", "EC2"), "USD", "300"),
        (("nlp", "SageMaker"), "USD", "100"),
        (("platform", "EKS"), "USD", "50.00"),
        (("", "S3"), "USD", "12.34"),
    )

    currency = usd(allocate(cost, teams=config.teams, shared=config.shared).currencies)

    assert shares(currency) == {
        "fraud-detection": D("30.00"),
        "recommendations": D("15.00"),
        "nlp": D("5.00"),
    }
    assert currency.teams["nlp"].total == D("105.00")
    assert currency.untagged == {("S3",): D("12.34")}


# --- split_exactly -------------------------------------------------------------------------


def test_split_exactly_refuses_weights_that_cannot_divide() -> None:
    with pytest.raises(ValueError):
        split_exactly(D(1), {"a": D(0)})
    with pytest.raises(ValueError):
        split_exactly(D(1), {"a": D(-1), "b": D(2)})


def test_split_exactly_of_zero_is_zeros() -> None:
    assert split_exactly(D(0), {"a": D(1), "b": D(2)}) == {"a": D(0), "b": D(0)}


# --- the invariant, for any data -----------------------------------------------------------

ACCOUNTS = (PROD, DEV, SHARED_ACCOUNT)
TEAM_VALUES = ("a", "b", "c", "platform", "")
ENV_VALUES = ("prod", "dev", "")
NAMES = ("a", "b", "c", "d")

amounts = st.integers(0, 10).flatmap(
    lambda places: st.decimals(
        min_value=-1000, max_value=10000, places=places, allow_nan=False, allow_infinity=False
    )
)
lines = st.lists(
    st.fixed_dictionaries(
        {
            "account": st.sampled_from(ACCOUNTS),
            "tag:team": st.sampled_from(TEAM_VALUES),
            "tag:env": st.sampled_from(ENV_VALUES),
            "service": st.sampled_from(("EC2", "S3")),
            "currency": st.sampled_from(("USD", "EUR")),
            "amount": amounts,
        }
    ),
    max_size=30,
)
tag_rules = st.fixed_dictionaries(
    {},
    optional={"team": st.sampled_from(TEAM_VALUES[:-1]), "env": st.sampled_from(("prod", "dev"))},
)
account_rules = st.lists(st.sampled_from(ACCOUNTS), max_size=2, unique=True).map(tuple)


@st.composite
def team_sets(draw: st.DrawFn) -> dict[str, Team]:
    count = draw(st.integers(1, len(NAMES)))
    return {
        name: Team(name=name, tags=draw(tag_rules), channel="#x", accounts=draw(account_rules))
        for name in NAMES[:count]
    }


@st.composite
def shared_costs(draw: st.DrawFn, names: tuple[str, ...]) -> SharedCost:
    kind = draw(st.sampled_from(("proportional", "even", "fixed")))
    among = tuple(draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names))))
    split: SplitRule = "even" if kind == "even" else "proportional"
    if kind == "fixed":
        weights = st.decimals(min_value=0, max_value=100, places=2)
        split = {name: draw(weights) for name in among or names}
        if not any(split.values()):
            split[next(iter(split))] = D(100)
    return SharedCost(
        name=draw(st.sampled_from(("platform", "network", "support"))),
        tags=draw(tag_rules),
        accounts=draw(account_rules),
        split=split,
        among=among,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CostResult, dict[str, Team], list[SharedCost]]:
    team_set = draw(team_sets())
    shared_list = draw(st.lists(shared_costs(tuple(team_set)), max_size=3, unique_by=_name))
    group_by = allocation_dimensions(team_set, shared_list) + (SERVICE,)
    groups = tuple(
        CostGroup(tuple(line[d.label] for d in group_by), line["currency"], line["amount"])
        for line in draw(lines)
    )
    return CostResult(CostQuery(MARCH, group_by=group_by), groups, "test"), team_set, shared_list


def _name(cost: SharedCost) -> str:
    return cost.name


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_currency_adds_up_exactly_and_no_share_has_the_wrong_sign(
    scenario: tuple[CostResult, dict[str, Team], list[SharedCost]],
) -> None:
    cost, team_set, shared_list = scenario

    allocation = allocate(cost, teams=team_set, shared=shared_list)

    totals = {currency: Fraction(0) for currency in cost.totals()}
    for group in cost.groups:
        totals[group.currency] += Fraction(group.amount)
    assert set(allocation.currencies) == set(totals)
    for currency, part in allocation.currencies.items():
        parts = [Fraction(t.direct_total) + Fraction(t.shared_total) for t in part.teams.values()]
        parts += [Fraction(part.untagged_total), Fraction(part.unsplit_total)]
        assert sum(parts, Fraction(0)) == totals[currency]
        for split in part.shared:
            _assert_fair(split.amount, split.shares)


def _assert_fair(amount: Decimal, split_shares: dict[str, Decimal]) -> None:
    """Shares add up exactly, share the amount's sign, and each is within a unit of it."""
    if not split_shares:
        return
    assert sum(split_shares.values(), D(0)) == amount
    for share in split_shares.values():
        assert share == 0 or (share > 0) == (amount > 0)
        assert abs(share) <= abs(amount)


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
    st.lists(st.integers(0, 1000), min_size=1, max_size=6).filter(any),
)
def test_split_exactly_is_within_one_unit_of_each_exact_quota(
    amount: Decimal, weights: list[int]
) -> None:
    named = {f"t{i}": D(weight) for i, weight in enumerate(weights)}

    parts = split_exactly(amount, named)

    assert sum(parts.values(), D(0)) == amount
    unit = Fraction(1, 10**4)
    for name, weight in zip(named, weights, strict=True):
        quota = Fraction(amount) * weight / sum(weights)
        assert abs(Fraction(parts[name]) - quota) < unit


def test_a_resources_owner_is_the_first_matching_team_rule_as_in_allocation():
    nlp = Team(name="nlp", tags={"team": "nlp"}, channel="#nlp")
    prod = Team(name="prod-owners", tags={"env": "prod"}, channel="#prod")
    platform = SharedCost(name="platform", tags={"team": "platform"})
    box = {"team": "nlp", "env": "prod"}

    assert owner_of("", box, teams={"nlp": nlp, "prod-owners": prod}) == "nlp"
    assert owner_of("", box, teams={"prod-owners": prod, "nlp": nlp}) == "prod-owners"
    assert claiming_rules("", box, teams={"nlp": nlp, "prod-owners": prod}) == (
        "teams.nlp",
        "teams.prod-owners",
    )
    # A shared cost claims first, so no team decides about it; nor about an untagged box.
    shared_box = {"team": "platform", "env": "prod"}
    assert owner_of("", shared_box, teams={"prod-owners": prod}, shared=[platform]) == ""
    assert owner_of("", {"env": "dev"}, teams={"nlp": nlp, "prod-owners": prod}) == ""


# --- remembered allocations and the teams' own lines ----------------------------------------


def test_an_allocation_is_remembered_until_the_answer_or_the_teams_file_changes():
    from engines.costs.allocation_cache import AllocationCache

    cache = AllocationCache()
    answer = by_team({"a": "10", "b": "30", "platform": "4"})
    config, costs = ABC, [shared()]

    first = cache.allocate(answer, config, costs)
    assert cache.allocate(answer, config, costs) is first  # the same question: not again
    new_data = by_team({"a": "10", "b": "31", "platform": "4"})
    assert usd(cache.allocate(new_data, config, costs).currencies).teams["b"].direct == {
        (): D("31")
    }
    new_teams = teams(team("a"), team("b"))  # the teams file was reloaded: c is gone
    again = cache.allocate(answer, new_teams, costs)
    assert again is not first and set(usd(again.currencies).teams) == {"a", "b"}
    built: list[str] = []
    view = cache.derived((first,), "days", lambda: built.append("x") or {"a": 1})
    assert cache.derived((first,), "days", lambda: built.append("y") or {}) is view
    assert built == ["x"]  # every team reads one pass


def test_the_teams_own_lines_are_allocations_direct_lines_without_any_split():
    from engines.costs.allocation import direct_costs
    from engines.costs.ownership import combination_owner

    config = teams(team("a"), team("b"), team("ops", tags={}, accounts=(PROD,)))
    costs = [shared(tags={"team": "platform"})]
    answer = result(
        (ACCOUNT, TEAM_TAG, SERVICE),
        ((PROD, "a", "EC2"), "USD", "10.5"),  # a's tag wins over ops' account (file order)
        ((PROD, "", "S3"), "USD", "3"),  # ops': its account, no tag
        ((DEV, "b", "EC2"), "EUR", "7"),
        ((DEV, "platform", "EC2"), "USD", "4"),  # shared: nobody's own
        ((DEV, "", "EC2"), "USD", "1"),  # untagged
    )

    direct = direct_costs(answer, teams=config, shared=costs)
    allocation = allocate(answer, teams=config, shared=costs)
    for currency, part in allocation.currencies.items():
        assert direct[currency] == {name: t.direct for name, t in part.teams.items()}
    owner = combination_owner(config, costs)
    assert [owner((PROD, "a")), owner((PROD, "")), owner((DEV, "platform")), owner((DEV, ""))] == [
        "a", "ops", "", ""]  # fmt: skip
