"""AWS clients, built once from settings and handed to the engines.

Other accounts are reached through a role per account (``[accounts.<id>]`` in the teams
file): costbot assumes it with STS and keeps the temporary credentials until shortly before
they expire.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config

from bot.settings import Settings
from engines.changes.ec2 import EC2_CLIENT_CONFIG
from engines.models import AccountAccess

# Explicit retries: throttling (e.g. Cost Explorer's LimitExceededException) and 5xx back off.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)
# EC2 mutations share one account-wide request budget (RequestLimitExceeded): adaptive mode
# also slows the client down, so a burst of changes does not starve everyone else.
SERVICE_CONFIGS = {"ec2": RETRY_CONFIG.merge(EC2_CLIENT_CONFIG)}
ROLE_SESSION_NAME = "costbot"
REFRESH_BEFORE_EXPIRY = dt.timedelta(minutes=5)


class AwsClients:
    """Makes boto3 clients: the bot's own account from settings, others by assumed role.

    Args:
        settings: profile, region and endpoint.
        session: the bot's own session (the demo passes the sandbox's).
        accounts: roles to assume in other accounts.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: boto3.Session | None = None,
        accounts: Iterable[AccountAccess] = (),
    ) -> None:
        self.endpoint_url = settings.aws_endpoint_url or None
        self.region = settings.aws_region or "us-east-1"
        self.session = session or boto3.Session(
            profile_name=settings.aws_profile or None, region_name=self.region
        )
        self.accounts = {access.account_id: access for access in accounts}
        self._assumed: dict[str, tuple[boto3.Session, dt.datetime]] = {}
        self._lock = threading.Lock()

    def client(self, service: str, *, region: str | None = None) -> Any:
        return self._client(self.session, service, region)

    def client_for(self, service: str, *, account_id: str, region: str) -> Any:
        """A client in ``account_id`` (through its role) or, for the bot's own account or an
        account without a role, with the bot's own credentials."""
        access = self.accounts.get(account_id)
        session = self._assumed_session(access) if access else self.session
        return self._client(session, service, region)

    def targets(self) -> list[tuple[str, str]]:
        """(account id, region) pairs to review: the bot's own region, then each account's."""
        pairs = [("", self.region)]
        for access in self.accounts.values():
            pairs += [(access.account_id, region) for region in access.regions or (self.region,)]
        return pairs

    def cost_explorer(self) -> Any:
        # Cost Explorer is a global service served from us-east-1.
        return self.client("ce", region="us-east-1")

    def _client(self, session: boto3.Session, service: str, region: str | None) -> Any:
        return session.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            config=SERVICE_CONFIGS.get(service, RETRY_CONFIG),
        )

    def _assumed_session(self, access: AccountAccess) -> boto3.Session:
        with self._lock:
            cached = self._assumed.get(access.account_id)
            now = dt.datetime.now(dt.UTC)
            if cached is not None and cached[1] - REFRESH_BEFORE_EXPIRY > now:
                return cached[0]
            session, expires = self._assume(access)
            self._assumed[access.account_id] = (session, expires)
            return session

    def _assume(self, access: AccountAccess) -> tuple[boto3.Session, dt.datetime]:
        request: dict[str, Any] = {"RoleArn": access.role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if access.external_id:
            request["ExternalId"] = access.external_id
        credentials = self.client("sts").assume_role(**request)["Credentials"]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )
        return session, credentials["Expiration"]
