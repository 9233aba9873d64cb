"""`/cost digest` in words: a team, the asker's team, or posting today's digests."""

from __future__ import annotations

import pytest

from engines.errors import UserInputError
from handlers.parsing import DigestRequest, parse_cost_command


def test_digest_takes_a_team_or_nothing_or_post() -> None:
    assert parse_cost_command("digest nlp") == DigestRequest(team="nlp")
    assert parse_cost_command("digest") == DigestRequest()
    assert parse_cost_command("Digest POST") == DigestRequest(post=True)


def test_digest_with_too_many_words_says_what_works() -> None:
    with pytest.raises(UserInputError) as caught:
        parse_cost_command("digest nlp today")
    assert "`/cost digest` takes at most a team name" in str(caught.value)
    assert "/cost digest nlp" in caught.value.hint


def test_a_misspelt_subcommand_suggests_digest() -> None:
    with pytest.raises(UserInputError) as caught:
        parse_cost_command("digset nlp")
    assert "Did you mean `/cost digest`?" in str(caught.value)
