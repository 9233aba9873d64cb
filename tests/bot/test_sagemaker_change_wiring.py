"""The bot's change runner carries out SageMaker changes through the bot's own AWS clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import boto3
from moto import mock_aws

from bot.app import build_deps
from bot.settings import Settings
from bot.store import Store
from engines.changes.models import ChangeRequest, Kind, State

DEMO_TEAMS = Path(__file__).resolve().parents[2] / "bot" / "demo" / "teams.toml"
NOW = dt.datetime(2026, 12, 6, 22, 0, tzinfo=dt.UTC)
REGION = "us-east-1"


def test_an_approved_notebook_stop_is_carried_out_with_the_bots_sagemaker_client(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_notebook_instance(
            NotebookInstanceName="fraud-lab",
            InstanceType="ml.t3.xlarge",
            RoleArn="arn:aws:iam::123456789012:role/sagemaker",
        )
        settings = Settings(
            db_path=tmp_path / "costbot.db",
            teams_file=DEMO_TEAMS,
            dry_run=False,
            aws_region=REGION,
        )
        store = Store(settings.db_path)
        changes = build_deps(settings, store=store, now=lambda: NOW).changes
        assert changes is not None
        request = ChangeRequest(
            instance_id="fraud-lab",
            account_id="",
            region=REGION,
            from_type="ml.t3.xlarge",
            to_type="ml.t3.xlarge",
            monthly_saving=Decimal("72.42"),
            requested_by="costbot",
            kind=Kind.NOTEBOOK_STOP,
        )
        change_id = changes.propose(request).id
        assert changes.approve(change_id, approver="U0DEMOALICE", approvers=["U0DEMOALICE"]).ok

        outcome = changes.execute(change_id)

        assert outcome.state is State.DONE, outcome.text
        status = sm.describe_notebook_instance(NotebookInstanceName="fraud-lab")
        assert status["NotebookInstanceStatus"] == "Stopped"
