"""What people type after /cost becomes a typed request, or a helpful error."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.errors import UserInputError
from handlers.parsing import HelpRequest, TeamCostRequest, parse_cost_command


@pytest.mark.parametrize("text", ["", "help", "  HELP ", "--help", "?"])
def test_help(text):
    assert isinstance(parse_cost_command(text), HelpRequest)


def test_team_with_and_without_period():
    assert parse_cost_command("team nlp") == TeamCostRequest("nlp", "")
    assert parse_cost_command("team nlp last 7d") == TeamCostRequest("nlp", "last 7d")
    assert parse_cost_command("TEAM nlp 2026-10") == TeamCostRequest("nlp", "2026-10")


def test_team_without_name_says_what_works():
    with pytest.raises(UserInputError) as caught:
        parse_cost_command("team")
    assert "team name" in str(caught.value)
    assert "/cost team fraud-detection" in caught.value.hint


def test_near_miss_subcommand_is_suggested():
    with pytest.raises(UserInputError, match="Did you mean `/cost team`"):
        parse_cost_command("teem nlp")


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_helpfully(text):
    try:
        parse_cost_command(text)
    except UserInputError as error:
        assert str(error)
