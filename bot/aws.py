"""AWS clients, built once from settings and handed to the engines."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from bot.settings import Settings

# Explicit retries: throttling (e.g. Cost Explorer's LimitExceededException) backs off.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


class AwsClients:
    """Makes boto3 clients from one session: profile, region and endpoint from settings."""

    def __init__(self, settings: Settings, *, session: boto3.Session | None = None) -> None:
        self.endpoint_url = settings.aws_endpoint_url or None
        self.region = settings.aws_region or "us-east-1"
        self.session = session or boto3.Session(
            profile_name=settings.aws_profile or None, region_name=self.region
        )

    def client(self, service: str, *, region: str | None = None) -> Any:
        return self.session.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            config=RETRY_CONFIG,
        )

    def cost_explorer(self) -> Any:
        # Cost Explorer is a global service served from us-east-1.
        return self.client("ce", region="us-east-1")
