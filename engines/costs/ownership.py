"""Who owns a resource or a cost line: the rule that claims it (shared rules first, then the
teams', in file order), and the combinations of accounts and tags that more than one rule
matches (reported, counted once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from engines.costs.allocation import allocation_dimensions, key_layout, ordered_rules
from engines.costs.query import CostResult, DimensionKind
from engines.models import SharedCost, Team


def claiming_rules(
    account: str,
    tags: Mapping[str, str],
    *,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost] = (),
) -> tuple[str, ...]:
    """Every rule that matches a resource (or a cost line), in the order ``allocate`` tries
    them: shared costs, then teams, each in file order. Labels as in ``Overlap``.

    Args:
        account: the resource's account id ("" when unknown: rules with accounts then miss).
        tags: the resource's tags.
        teams: the teams in file order.
        shared: the shared costs in file order.
    """
    return tuple(rule.label for rule in ordered_rules(teams, shared) if rule.matches(account, tags))


def owner_of(
    account: str,
    tags: Mapping[str, str],
    *,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost] = (),
) -> str:
    """The team that owns a resource: the team whose rule claims it, decided as allocation
    decides (the first matching rule). "" when a shared cost claims it or no rule matches:
    then no team decides about it.

    Args:
        account: as ``claiming_rules``.
        tags: the resource's tags.
        teams: the teams in file order.
        shared: the shared costs in file order.
    """
    rules = claiming_rules(account, tags, teams=teams, shared=shared)
    if not rules or not rules[0].startswith("teams."):
        return ""
    return rules[0].removeprefix("teams.")


def combination_owner(
    teams: Mapping[str, Team], shared: Sequence[SharedCost] = ()
) -> Callable[[tuple[str, ...]], str]:
    """A function naming the team that takes the cost lines of a combination of values of
    ``allocation_dimensions(teams, shared)`` (in that order), as ``allocate`` decides: ""
    when a shared cost takes them or no rule does."""
    dimensions = allocation_dimensions(teams, shared)
    rules = ordered_rules(teams, shared)

    def owner(values: tuple[str, ...]) -> str:
        account, tags = "", {}
        for dimension, value in zip(dimensions, values, strict=True):
            if dimension.kind is DimensionKind.ACCOUNT:
                account = value
            else:
                tags[dimension.tag_key] = value
        first = next((rule for rule in rules if rule.matches(account, tags)), None)
        return first.name if first is not None and not first.is_shared else ""

    return owner


@dataclass(frozen=True)
class RuleOverlap:
    """Rules that match the same resources or cost lines. The first of ``rules`` (in the
    order allocation tries them) owns what they share; the others get none of it.

    Args:
        rules: the rules' labels (``teams.<name>``, ``shared.<name>``), the owner first.
        where: what they share, in words: a resource, or a combination of tags and account.
        count: how many resources or combinations they share (``where`` lists a few).
    """

    rules: tuple[str, ...]
    where: tuple[str, ...]
    count: int

    @property
    def owner(self) -> str:
        return self.rules[0]


def possible_overlaps(
    teams: Mapping[str, Team], shared: Sequence[SharedCost] = ()
) -> list[RuleOverlap]:
    """Pairs of rules that could both match one resource, judged from the teams file alone:
    no tag key asks for two different values and their accounts (if any) meet. Without
    data, so cheap enough for start-up; ``find_overlaps`` says where data does overlap.

    Args:
        teams: the teams in file order.
        shared: the shared costs in file order.
    """
    rules = [rule for rule in ordered_rules(teams, shared) if rule.tags or rule.accounts]
    found = []
    for index, first in enumerate(rules):
        for second in rules[index + 1 :]:
            if any(second.tags.get(key, value) != value for key, value in first.tags.items()):
                continue
            accounts = set(first.accounts or second.accounts)
            if first.accounts and second.accounts:
                accounts = set(first.accounts) & set(second.accounts)
                if not accounts:
                    continue
            both = {**first.tags, **second.tags}
            where = ", ".join(f"{key}={value}" for key, value in sorted(both.items()))
            if accounts:
                where += (" in " if where else "") + "account " + " or ".join(sorted(accounts))
            found.append(RuleOverlap((first.label, second.label), (where,), 1))
    return found


def find_overlaps(
    items: Iterable[tuple[str, str, Mapping[str, str]]],
    *,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost] = (),
    examples: int = 5,
) -> list[RuleOverlap]:
    """Where several rules match the same data: each set of rules with what they share.

    Args:
        items: (what, account, tags) per resource or cost-line combination; ``what``
            names it for people (an instance, or a combination of tags).
        teams: the teams in file order.
        shared: the shared costs in file order.
        examples: how many of the shared items each overlap names.
    """
    shared_by: dict[tuple[str, ...], list[str]] = {}
    for what, account, tags in items:
        rules = claiming_rules(account, tags, teams=teams, shared=shared)
        if len(rules) > 1:
            shared_by.setdefault(rules, []).append(what)
    return [
        RuleOverlap(rules, tuple(sorted(whats)[:examples]), len(whats))
        for rules, whats in sorted(shared_by.items())
    ]


def cost_combinations(
    result: CostResult, *, teams: Mapping[str, Team], shared: Sequence[SharedCost] = ()
) -> list[tuple[str, str, dict[str, str]]]:
    """The distinct (description, account, tags) of a cost result's groups, for
    ``find_overlaps``; the result is grouped by ``allocation_dimensions(teams, shared)``.

    Raises:
        ValueError: the result lacks a dimension the rules need.
    """
    layout = key_layout(result.query.group_by, allocation_dimensions(teams, shared))
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, str, dict[str, str]]] = {}
    for group in result.groups:
        account, tags, _ = layout.read(group.key)
        present = {key: value for key, value in tags.items() if value}
        combination = (account, tuple(sorted(present.items())))
        if combination not in seen:
            words = ", ".join(f"{key}={value}" for key, value in combination[1]) or "no tags"
            where = f"cost lines tagged {words}" + (f" in account {account}" if account else "")
            seen[combination] = (where, account, tags)
    return list(seen.values())
