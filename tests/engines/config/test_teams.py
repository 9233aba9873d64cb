"""The teams file: what loads, and what a person sees when they get it wrong."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from engines.config.schema import SHARED_SCHEMA, TEAM_SCHEMA, AccountIds
from engines.config.teams import CostConfig, find_team, load_config, load_teams
from engines.errors import ConfigError, UnknownTeamError
from engines.models import SharedCost, Team

DEMO_TEAMS = Path(__file__).parents[3] / "bot" / "demo" / "teams.toml"


def load(text: str) -> dict[str, Team]:
    return load_teams(text, filename="teams.toml")


def error_for(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return str(caught.value)


VALID_TEAM = """\
[teams.nlp]
tags = { team = "nlp" }
channel = "#nlp-costs"
"""


# --- what loads ----------------------------------------------------------------------------


def test_the_shipped_demo_file_loads_with_typed_values() -> None:
    teams = load_teams(DEMO_TEAMS.read_text(), filename=str(DEMO_TEAMS))

    assert list(teams) == ["fraud-detection", "recommendations", "nlp"]
    fraud = teams["fraud-detection"]
    assert fraud.name == "fraud-detection"
    assert fraud.tags == {"team": "fraud-detection"}
    assert fraud.channel == "#fraud-detection-costs"
    assert fraud.approvers == ("U0DEMOALICE",)
    assert fraud.members == ("U0DEMOALICE", "U0DEMOBOB")
    assert fraud.monthly_budget == Decimal("25000")
    assert isinstance(fraud.monthly_budget, Decimal)
    assert fraud.timezone == "America/New_York"


def test_a_minimal_team_gets_the_defaults() -> None:
    team = load(VALID_TEAM)["nlp"]

    assert team == Team(name="nlp", tags={"team": "nlp"}, channel="#nlp-costs")


def test_a_team_may_own_accounts_instead_of_tags() -> None:
    text = '[teams.data]\naccounts = ["012345678901"]\nchannel = "C012ABCDEF"\n'

    team = load(text)["data"]

    assert team.accounts == ("012345678901",)
    assert team.tags == {}
    assert team.channel == "C012ABCDEF"


def test_a_fractional_budget_is_an_exact_decimal() -> None:
    team = load(VALID_TEAM + "monthly_budget = 1234.56\n")["nlp"]

    assert team.monthly_budget == Decimal("1234.56")


def test_an_empty_file_has_no_teams() -> None:
    assert load("# nothing yet\n") == {}


def test_every_schema_key_is_a_team_field() -> None:
    """Adding a key means a row in TEAM_SCHEMA named like the Team field it fills."""
    fields = {f.name for f in dataclasses.fields(Team)}

    assert set(TEAM_SCHEMA) <= fields - {"name"}


# --- what a person sees when the file is wrong ---------------------------------------------


def test_a_misspelt_key_names_file_line_and_the_likely_key() -> None:
    text = """\
# teams
[teams.fraud-detection]
tags = { team = "fraud-detection" }
channel = "#fraud"

[teams.nlp]
monthly_budjet = 30000
tags = { team = "nlp" }
channel = "#nlp-costs"
"""
    assert error_for(text) == (
        "teams.toml:7: teams.nlp: unknown key 'monthly_budjet' — did you mean 'monthly_budget'?"
    )


def test_an_unknown_key_with_no_likely_match_lists_the_known_keys() -> None:
    message = error_for(VALID_TEAM + "colour = 'blue'\n")

    assert message.startswith("teams.toml:4: teams.nlp: unknown key 'colour' (known keys: tags,")


def test_an_approver_that_is_not_a_user_id_is_named() -> None:
    text = """\
[teams.fraud-detection]
tags = { team = "fraud-detection" }
approvers = ["alice"]
channel = "#fraud"
"""
    assert error_for(text) == (
        "teams.toml:3: teams.fraud-detection.approvers: "
        "'alice' is not a Slack user id (like U012ABCDEF)"
    )


def test_a_bad_entry_in_a_multi_line_list_points_at_its_own_line() -> None:
    text = VALID_TEAM + 'members = [\n  "U0DEMODEV",\n  "bob",\n]\n'

    message = error_for(text)

    assert message.startswith("teams.toml:6: teams.nlp.members: 'bob' is not a Slack user id")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('accounts = ["1234"]', "teams.toml:4: teams.nlp.accounts: '1234' is not a 12-digit"),
        ("accounts = [123456789012]", "teams.toml:4: teams.nlp.accounts: write account ids as"),
        ("monthly_budget = -5", "teams.toml:4: teams.nlp.monthly_budget: expected a number of 0"),
        ('monthly_budget = "lots"', "teams.toml:4: teams.nlp.monthly_budget: expected a number"),
        ("monthly_budget = true", "teams.toml:4: teams.nlp.monthly_budget: expected a number"),
        ('timezone = "Mars/Base"', "teams.toml:4: teams.nlp.timezone: 'Mars/Base' is not a"),
        ('timezone = "../etc/passwd"', "teams.toml:4: teams.nlp.timezone: '../etc/passwd' is"),
        ('approvers = "U0DEMODEV"', "teams.toml:4: teams.nlp.approvers: expected a list of"),
    ],
)
def test_malformed_values_name_the_line_and_key(extra: str, expected: str) -> None:
    assert error_for(VALID_TEAM + extra + "\n").startswith(expected)


def test_a_tag_value_must_be_text() -> None:
    text = "[teams.nlp]\ntags = { cost-center = 1234 }\nchannel = '#nlp'\n"

    assert error_for(text) == (
        "teams.toml:2: teams.nlp.tags: tag 'cost-center' must be text: write cost-center = \"1234\""
    )


def test_a_tag_value_that_is_a_table_is_refused() -> None:
    text = '[teams.nlp]\ntags = { team = { name = "nlp" } }\nchannel = "#nlp"\n'

    assert error_for(text) == (
        "teams.toml:2: teams.nlp.tags: tag 'team' must be text in quotes, got a table"
    )


def test_a_tag_value_cannot_be_empty() -> None:
    text = '[teams.nlp]\ntags = { team = "" }\nchannel = "#nlp"\n'

    assert error_for(text) == (
        "teams.toml:2: teams.nlp.tags: tag 'team' needs a value: "
        "an empty one would match untagged costs"
    )


def test_a_channel_must_look_like_a_slack_channel() -> None:
    text = '[teams.nlp]\ntags = { team = "nlp" }\nchannel = "nlp costs"\n'

    assert error_for(text).startswith("teams.toml:3: teams.nlp.channel: 'nlp costs' is not a")


def test_a_team_without_a_channel_is_rejected_at_its_header() -> None:
    text = '\n[teams.nlp]\ntags = { team = "nlp" }\n'

    assert (
        error_for(text) == "teams.toml:2: teams.nlp: missing 'channel' (the team's Slack channel)"
    )


def test_a_team_without_tags_or_accounts_is_rejected() -> None:
    text = '[teams.nlp]\ntags = {}\nchannel = "#nlp"\n'

    assert error_for(text) == (
        "teams.toml:1: teams.nlp: needs 'tags' or 'accounts' to say which costs are the team's"
    )


def test_team_names_are_lowercase_words_with_dashes() -> None:
    text = '[teams.Fraud_Detection]\ntags = { team = "x" }\nchannel = "#x"\n'

    assert error_for(text) == (
        "teams.toml:1: teams.Fraud_Detection: team names use lowercase letters, digits and '-' only"
    )


def test_an_unknown_top_level_table_is_rejected() -> None:
    text = VALID_TEAM + '\n[team.recs]\ntags = { team = "recs" }\n'

    assert error_for(text) == (
        "teams.toml:5: unknown top-level key 'team' — did you mean 'teams'? "
        "(declare teams as [teams.<name>])"
    )


def test_teams_must_be_tables() -> None:
    assert error_for('[teams]\nnlp = "#nlp"\n').startswith(
        "teams.toml:2: teams.nlp: expected a table [teams.nlp], got text"
    )


def test_toml_syntax_errors_keep_tomllib_line_and_column() -> None:
    text = VALID_TEAM + "monthly_budget 30000\n"

    message = error_for(text)

    assert message.startswith("teams.toml:4: invalid TOML: ")
    assert "(line 4, column" in message


def test_toml_error_at_the_end_of_the_file_names_the_last_line() -> None:
    assert error_for(VALID_TEAM + "members = [\n").startswith("teams.toml:4: invalid TOML:")


def test_dotted_keys_are_located() -> None:
    text = """\
teams.nlp.tags.team = "nlp"
teams.nlp.channel = "#nlp"
teams.nlp.chanel = "#nlp"
"""
    assert error_for(text) == (
        "teams.toml:3: teams.nlp: unknown key 'chanel' — did you mean 'channel'?"
    )


def test_keys_inside_inline_tables_are_located_at_their_line() -> None:
    text = """\
[teams]
recs = { tags = { team = "recs" }, channel = "#recs" }
nlp = { tags = { team = "nlp" }, channel = "#nlp", approvers = ["dev"] }
"""
    assert error_for(text).startswith("teams.toml:3: teams.nlp.approvers: 'dev' is not a Slack")


def test_quoted_team_names_are_located() -> None:
    text = VALID_TEAM + '\n[teams."ml-ops"]\ntags = { team = "ml" }\nchannel = "#ml"\nmembers = 3\n'

    assert error_for(text).startswith("teams.toml:8: teams.ml-ops.members: expected a list")


def test_the_file_name_given_is_the_one_shown() -> None:
    with pytest.raises(ConfigError, match=r"^/etc/costbot/teams\.toml:4: "):
        load_teams(VALID_TEAM + "x = 1\n", filename="/etc/costbot/teams.toml")


# --- shared costs --------------------------------------------------------------------------

TWO_TEAMS = VALID_TEAM + '\n[teams.recs]\ntags = { team = "recs" }\nchannel = "#recs"\n'


def load_shared(text: str) -> tuple[SharedCost, ...]:
    return load_config(TWO_TEAMS + text, filename="teams.toml").shared


def shared_error_for(text: str) -> str:
    return error_for(TWO_TEAMS + text)


def test_a_shared_cost_defaults_to_proportional_among_every_team_in_file_order() -> None:
    (platform,) = load_shared('\n[shared.platform]\ntags = { team = "platform" }\n')

    assert platform == SharedCost(
        name="platform", tags={"team": "platform"}, split="proportional", among=("nlp", "recs")
    )


def test_shared_costs_load_in_file_order_with_their_split() -> None:
    text = """
[shared.platform]
accounts = ["111122223333"]
split = "even"
among = ["recs"]

[shared.support]
tags = { cost-center = "support" }
split = { nlp = 33.33, recs = 66.67 }
"""
    platform, support = load_shared(text)

    assert platform == SharedCost(
        name="platform", tags={}, accounts=("111122223333",), split="even", among=("recs",)
    )
    assert support.split == {"nlp": Decimal("33.33"), "recs": Decimal("66.67")}
    assert support.among == ("nlp", "recs")


def test_load_teams_still_returns_the_teams_of_a_file_with_shared_costs() -> None:
    text = TWO_TEAMS + '\n[shared.platform]\ntags = { team = "platform" }\n'

    assert list(load_teams(text, filename="teams.toml")) == ["nlp", "recs"]
    assert load_config(VALID_TEAM, filename="teams.toml") == CostConfig(teams=load(VALID_TEAM))


def test_every_shared_schema_key_is_a_shared_cost_field() -> None:
    fields = {f.name for f in dataclasses.fields(SharedCost)}

    assert set(SHARED_SCHEMA) <= fields - {"name"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'split = "proportinal"',
            "teams.toml:11: shared.platform.split: 'proportinal' is not a split — "
            'did you mean "proportional"?',
        ),
        (
            "split = { nlp = 50, recs = 40 }",
            "teams.toml:11: shared.platform.split: the percentages must add up to 100, "
            "these add up to 90",
        ),
        (
            "split = { nlp = 150, recs = -50 }",
            "teams.toml:11: shared.platform.split: the percentage for 'nlp' must be between",
        ),
        (
            "split = { nlpp = 50, recs = 50 }",
            "teams.toml:11: shared.platform.split: unknown team 'nlpp' — did you mean 'nlp'?",
        ),
        (
            'split = { nlp = 100 }\namong = ["nlp"]',
            "teams.toml:12: shared.platform.among: leave 'among' out: the percentages",
        ),
        ("split = 3", 'teams.toml:11: shared.platform.split: expected "proportional", "even"'),
        ("split = {}", "teams.toml:11: shared.platform.split: name at least one team"),
        ("among = []", "teams.toml:11: shared.platform.among: name at least one team"),
        ('among = ["nlp", "nlp"]', "teams.toml:11: shared.platform.among: 'nlp' is listed twice"),
        (
            'among = ["payments"]',
            "teams.toml:11: shared.platform.among: unknown team 'payments' (teams: nlp, recs)",
        ),
        ('spilt = "even"', "teams.toml:11: shared.platform: unknown key 'spilt' — did you mean"),
    ],
)
def test_shared_cost_mistakes_name_the_line_and_key(body: str, expected: str) -> None:
    text = f'\n[shared.platform]\ntags = {{ team = "platform" }}\n{body}\n'

    assert shared_error_for(text).startswith(expected)


def test_an_unknown_team_in_a_multi_line_among_points_at_its_own_line() -> None:
    text = '\n[shared.platform]\ntags = { team = "platform" }\namong = [\n  "nlp",\n  "rec",\n]\n'

    assert shared_error_for(text) == (
        "teams.toml:13: shared.platform.among: unknown team 'rec' — did you mean 'recs'?"
    )


def test_a_bad_percentage_in_a_split_table_points_at_its_own_line() -> None:
    text = """
[shared.platform]
tags = { team = "platform" }

[shared.platform.split]
nlp = 50
recz = 50
"""
    assert shared_error_for(text) == (
        "teams.toml:14: shared.platform.split: unknown team 'recz' — did you mean 'recs'?"
    )


def test_a_shared_cost_needs_tags_or_accounts() -> None:
    assert shared_error_for('\n[shared.platform]\nsplit = "even"\n') == (
        "teams.toml:9: shared.platform: needs 'tags' or 'accounts' to say which costs are shared"
    )


def test_a_shared_cost_with_no_teams_to_share_it_is_refused() -> None:
    assert error_for('[shared.platform]\ntags = { team = "platform" }\n') == (
        "teams.toml:1: shared.platform: there are no teams to share it among: declare "
        "[teams.<name>]"
    )


def test_a_misspelt_shared_table_suggests_shared() -> None:
    assert error_for('[share.platform]\ntags = { team = "platform" }\n') == (
        "teams.toml:1: unknown top-level key 'share' — did you mean 'shared'? "
        "(declare shared costs as [shared.<name>])"
    )


def test_shared_cost_names_are_lowercase_words_with_dashes() -> None:
    message = shared_error_for('\n[shared.Platform]\ntags = { team = "platform" }\n')

    assert message.startswith("teams.toml:9: shared.Platform: shared cost names use lowercase")


# --- find_team -----------------------------------------------------------------------------


@pytest.fixture
def demo_teams() -> dict[str, Team]:
    return load_teams(DEMO_TEAMS.read_text(), filename="teams.toml")


def test_find_team_by_exact_or_differently_cased_name(demo_teams: dict[str, Team]) -> None:
    assert find_team(demo_teams, "nlp").name == "nlp"
    assert find_team(demo_teams, " Fraud-Detection ").name == "fraud-detection"


def test_a_typo_suggests_the_close_team(demo_teams: dict[str, Team]) -> None:
    with pytest.raises(UnknownTeamError) as caught:
        find_team(demo_teams, "fraud-detectoin")

    assert caught.value.suggestions == ["fraud-detection"]
    assert caught.value.known == ["fraud-detection", "nlp", "recommendations"]
    assert (
        str(caught.value) == "There is no team 'fraud-detectoin' — did you mean 'fraud-detection'?"
    )
    assert caught.value.hint == "Teams: fraud-detection, nlp, recommendations"


def test_a_prefix_suggests_the_team_it_starts(demo_teams: dict[str, Team]) -> None:
    with pytest.raises(UnknownTeamError) as caught:
        find_team(demo_teams, "FRAUD")

    assert caught.value.suggestions == ["fraud-detection"]


def test_an_unrelated_name_suggests_nothing_but_lists_the_teams(
    demo_teams: dict[str, Team],
) -> None:
    with pytest.raises(UnknownTeamError) as caught:
        find_team(demo_teams, "payments")

    assert caught.value.suggestions == []
    assert str(caught.value) == "There is no team 'payments'"
    assert caught.value.known == ["fraud-detection", "nlp", "recommendations"]


# --- off-hours schedules -------------------------------------------------------------------


def config_with(schedule: str) -> CostConfig:
    return load_config(VALID_TEAM + schedule, filename="teams.toml")


def schedule_error(schedule: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config_with(schedule)
    return str(caught.value)


def test_a_schedule_loads_with_the_teams_time_zone_and_tags() -> None:
    config = config_with(
        '[schedules.nlp-dev]\nteam = "nlp"\nperiods = ["mon-fri 08:00-18:00"]\n'
        'tags = { env = "dev" }\nholidays = [2026-12-25, "2026-12-26"]\nmode = "stop_only"\n'
    )
    [schedule] = config.schedules
    assert schedule.name == "nlp-dev" and schedule.team == "nlp"
    assert schedule.timezone == "UTC"  # the team's default
    assert schedule.describe_periods() == "mon-fri 08:00-18:00"
    assert dict(schedule.tags) == {"env": "dev"} and dict(schedule.team_tags) == {"team": "nlp"}
    assert [str(day) for day in schedule.holidays] == ["2026-12-25", "2026-12-26"]
    assert schedule.mode.value == "stop_only"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'team = "nlpp"\nperiods = ["mon-fri 08:00-18:00"]\n',
            "teams.toml:5: schedules.dev.team: unknown team 'nlpp' — did you mean 'nlp'?",
        ),
        (
            'team = "nlp"\nperiods = ["mon-fri 18:00-08:00"]\n',
            "teams.toml:6: schedules.dev.periods: In 'mon-fri 18:00-08:00' the stop (08:00)",
        ),
        (
            'team = "nlp"\nperiods = ["mon-fri 08:00-18:00"]\ntimezone = "Europe/Londn"\n',
            "teams.toml:7: schedules.dev.timezone: 'Europe/Londn' is not a time zone I know. "
            "Did you mean 'Europe/London'?",
        ),
        (
            'team = "nlp"\nperiods = ["mon-fri 08:00-18:00", "fri 17:00-20:00"]\n',
            "teams.toml:6: schedules.dev.periods: The periods 'mon-fri 08:00-18:00' and "
            "'fri 17:00-20:00' overlap on fri",
        ),
        ('team = "nlp"\n', "teams.toml:4: schedules.dev: missing 'periods'"),
        (
            'team = "nlp"\nperiods = ["mon-fri 08:00-18:00"]\nmodes = "stop_only"\n',
            "teams.toml:7: schedules.dev: unknown key 'modes' — did you mean 'mode'?",
        ),
    ],
)
def test_schedule_mistakes_name_the_line_and_key(body: str, expected: str) -> None:
    assert expected in schedule_error("[schedules.dev]\n" + body)


# --- account ids: AWS for Cost Explorer and CUR, any provider's for FOCUS --------------------

AZURE_SUBSCRIPTION = "8f3c2a1e-5b7d-4c9e-a1f2-3d4e5f6a7b8c"
GCP_PROJECT = "fraud-ml-prod-4821"
OCI_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaa4sx2dq6ljmqqvo3rhz7ubyiuu5xwr6rsdwdkxo"
MULTI_CLOUD_TEAMS = f"""
[teams.fraud]
accounts = ["012345678901", "{AZURE_SUBSCRIPTION}"]
channel = "#fraud"

[teams.nlp]
accounts = ["{GCP_PROJECT}"]
channel = "#nlp"

[shared.platform]
accounts = ["{OCI_COMPARTMENT}"]
"""


def test_a_focus_source_takes_any_providers_account_ids() -> None:
    config = load_config(MULTI_CLOUD_TEAMS, filename="teams.toml", account_ids=AccountIds.ANY)

    assert config.teams["fraud"].accounts == ("012345678901", AZURE_SUBSCRIPTION)
    assert config.teams["nlp"].accounts == (GCP_PROJECT,)
    assert config.shared[0].accounts == (OCI_COMPARTMENT,)


def test_cost_explorer_and_cur_take_12_digit_aws_ids_only_and_say_why() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MULTI_CLOUD_TEAMS, filename="teams.toml", account_ids=AccountIds.AWS)

    assert str(caught.value) == (
        f"teams.toml:3: teams.fraud.accounts: '{AZURE_SUBSCRIPTION}' is not a 12-digit AWS "
        "account id (Cost Explorer and CUR sources know AWS accounts only; a FOCUS source "
        "takes any provider's)"
    )


def test_a_shared_cost_with_a_non_aws_account_is_refused_for_aws_sources() -> None:
    text = TWO_TEAMS + f'[shared.platform]\naccounts = ["{GCP_PROJECT}"]\n'

    with pytest.raises(ConfigError, match=f"shared.platform.accounts: '{GCP_PROJECT}' is not a 12"):
        load_config(text, filename="teams.toml")


@pytest.mark.parametrize("junk", ["", "two words", "'quoted'", "-starts-with-a-dash"])
def test_something_that_is_no_accounts_id_is_refused_for_focus_too(junk: str) -> None:
    text = f'[teams.nlp]\naccounts = ["{junk}"]\nchannel = "#nlp"\n'

    with pytest.raises(ConfigError) as caught:
        load_config(text, filename="teams.toml", account_ids=AccountIds.ANY)

    assert f"teams.nlp.accounts: '{junk}' is not an account id (a 12-digit AWS" in str(caught.value)
