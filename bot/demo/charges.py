"""The demo organisation's spend that is not EC2 instance-hours, as plain data: storage,
SageMaker endpoints and training (fraud-detection's are resources of their own:
``bot.demo.sagemaker_fleet``), databases, data transfer, logs, a NAT gateway; and the
billing terms around it (the savings plan, a monthly credit, sales tax).

Nothing here touches AWS. ``bot.demo.focus_export`` bills these lines next to the instances
of ``bot.demo.fleet``, whose teams they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.demo.fleet import SHARED_TEAM

_F, _R, _N, _P = "fraud-detection", "recommendations", "nlp", SHARED_TEAM


@dataclass(frozen=True)
class AwsService:
    """A service as AWS Data Exports (FOCUS 1.0) names it."""

    name: str  # ServiceName
    category: str  # ServiceCategory (FOCUS allowed values)
    code: str  # x_ServiceCode


EC2 = AwsService("Amazon Elastic Compute Cloud", "Compute", "AmazonEC2")
S3 = AwsService("Amazon Simple Storage Service", "Storage", "AmazonS3")
SAGEMAKER = AwsService("Amazon SageMaker", "AI and Machine Learning", "AmazonSageMaker")
RDS = AwsService("Amazon Relational Database Service", "Databases", "AmazonRDS")
DATA_TRANSFER = AwsService("AWS Data Transfer", "Networking", "AWSDataTransfer")
CLOUDWATCH = AwsService("Amazon CloudWatch", "Management and Governance", "AmazonCloudWatch")
VPC = AwsService("Amazon Virtual Private Cloud", "Networking", "AmazonVPC")


@dataclass(frozen=True)
class DemoCharge:
    """A daily usage line that is not an instance-hour (storage, endpoints, transfer ...).

    ``quantity`` is today's level in ``pricing_unit``; with ``per_month`` it is a stock
    billed per month (GB stored), so a day costs ``quantity / days_in_month * unit_price``.
    ``daily_growth`` makes the level grow linearly towards today; ``jitter`` is the
    day-to-day swing as a share (0.1 = +/-10 %).
    """

    name: str  # ResourceName
    team: str | None
    env: str | None
    service: AwsService
    usage_type: str  # x_UsageType
    operation: str  # x_Operation
    description: str  # ChargeDescription
    resource_type: str
    resource_id: str  # may contain {account}
    pricing_unit: str
    unit_price: Decimal
    quantity: Decimal
    per_month: bool = False
    daily_growth: Decimal = Decimal("0")
    jitter: Decimal = Decimal("0")
    started_days_ago: int | None = None  # None: before the export window
    resource_tags: tuple[tuple[str, str], ...] = ()  # more tags (a SageMaker model_name)

    @property
    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        if self.team is not None:
            tags["team"] = self.team
        if self.env is not None:
            tags["env"] = self.env
        return tags | dict(self.resource_tags)


def _bucket(name: str, team: str | None, gb: str, growth: str = "0.002") -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod" if team else None, service=S3,
        usage_type="TimedStorage-ByteHrs", operation="StandardStorage",
        description="$0.023 per GB - first 50 TB / month of storage used",
        resource_type="Bucket", resource_id=f"arn:aws:s3:::{name}", pricing_unit="GB-Mo",
        unit_price=Decimal("0.023"), quantity=Decimal(gb), per_month=True,
        daily_growth=Decimal(growth), jitter=Decimal("0.002"),
    )  # fmt: skip


def _endpoint(name: str, team: str, instance_type: str, price: str, count: int) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=SAGEMAKER,
        usage_type=f"USE1-Host:{instance_type}", operation="RunInstance",
        description=f"${price} per Hosted Instance Hour for {instance_type}",
        resource_type="Endpoint",
        resource_id=f"arn:aws:sagemaker:us-east-1:{{account}}:endpoint/{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(24 * count),
    )  # fmt: skip


def _training(name: str, team: str, instance_type: str, price: str, hours: str) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=SAGEMAKER,
        usage_type=f"USE1-Train:{instance_type}", operation="RunInstance",
        description=f"${price} per Training Instance Hour for {instance_type}",
        resource_type="TrainingJob",
        resource_id=f"arn:aws:sagemaker:us-east-1:{{account}}:training-job/{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(hours),
        jitter=Decimal("0.6"),
    )  # fmt: skip


def _database(name: str, team: str, instance_class: str, price: str) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=RDS,
        usage_type=f"Multi-AZUsage:{instance_class}", operation="CreateDBInstance:0014",
        description=f"${price} per RDS {instance_class} Multi-AZ instance hour running PostgreSQL",
        resource_type="DBInstance", resource_id=f"arn:aws:rds:us-east-1:{{account}}:db:{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(24),
    )  # fmt: skip


def _egress(team: str | None, gb_per_day: str) -> DemoCharge:
    label = team or "shared"
    return DemoCharge(
        name=f"{label}-internet-egress", team=team, env="prod" if team else None,
        service=DATA_TRANSFER, usage_type="USE1-DataTransfer-Out-Bytes",
        operation="", description="$0.09 per GB - first 10 TB / month data transfer out",
        resource_type="DataTransfer", resource_id="", pricing_unit="GB",
        unit_price=Decimal("0.09"), quantity=Decimal(gb_per_day), jitter=Decimal("0.25"),
    )  # fmt: skip


def _logs(team: str | None, gb_per_day: str) -> DemoCharge:
    label = team or "shared"
    return DemoCharge(
        name=f"/aws/{label}/application", team=team, env="prod" if team else None,
        service=CLOUDWATCH, usage_type="USE1-DataProcessing-Bytes", operation="PutLogEvents",
        description="$0.50 per GB custom log data ingested", resource_type="LogGroup",
        resource_id=f"arn:aws:logs:us-east-1:{{account}}:log-group:/aws/{label}/application",
        pricing_unit="GB", unit_price=Decimal("0.50"), quantity=Decimal(gb_per_day),
        jitter=Decimal("0.2"),
    )  # fmt: skip


CHARGES: tuple[DemoCharge, ...] = (
    _bucket("fraud-transactions-lake", _F, "150000"),
    _database("fraud-rules-db", _F, "db.r5.2xlarge", "2.00"),
    _egress(_F, "400"),
    _logs(_F, "30"),
    _bucket("recs-interactions-lake", _R, "250000", "0.003"),
    _endpoint("recs-realtime-ranker", _R, "ml.g5.2xlarge", "1.515", 8),
    _training("recs-candidate-gen", _R, "ml.p3.8xlarge", "14.688", "9"),
    _database("recs-catalog-db", _R, "db.r5.2xlarge", "2.00"),
    _egress(_R, "1500"),
    _logs(_R, "40"),
    _bucket("nlp-corpora", _N, "200000", "0.004"),
    _endpoint("nlp-summarizer", _N, "ml.g5.2xlarge", "1.515", 4),
    _training("nlp-distillation", _N, "ml.p3.8xlarge", "14.688", "6"),
    _egress(_N, "500"),
    _logs(_N, "20"),
    _bucket("platform-build-artifacts", _P, "8000"),
    _logs(_P, "40"),
    _bucket("athena-query-results-demo", None, "2500", "0.01"),
    _egress(None, "300"),
    DemoCharge(
        name="nat-gateway-main", team=None, env=None, service=VPC,
        usage_type="USE1-NatGateway-Hours", operation="NatGateway",
        description="$0.045 per NAT Gateway Hour", resource_type="NatGateway",
        resource_id="arn:aws:ec2:us-east-1:{account}:natgateway/nat-0demo5f1e2d3c4b5a6",
        pricing_unit="Hrs", unit_price=Decimal("0.045"), quantity=Decimal(24 * 3),
    ),
    DemoCharge(
        name="nat-gateway-main-bytes", team=None, env=None, service=VPC,
        usage_type="USE1-NatGateway-Bytes", operation="NatGateway",
        description="$0.045 per GB Data Processed by NAT Gateways", resource_type="NatGateway",
        resource_id="arn:aws:ec2:us-east-1:{account}:natgateway/nat-0demo5f1e2d3c4b5a6",
        pricing_unit="GB", unit_price=Decimal("0.045"), quantity=Decimal("900"),
        jitter=Decimal("0.3"),
    ),
)  # fmt: skip

# fraud-detection's SageMaker is billed resource by resource (``bot.demo.sagemaker_billing``):
# its endpoints and notebooks at their prices, and its training jobs share each day's
# training spend, which is this line's (the same day-to-day swing as before those resources
# existed, so the team's figures did not move).
FRAUD_TRAINING_SPEND = _training("fraud-hpo-sweeps", _F, "ml.g4dn.12xlarge", "4.89", "12")

# One savings plan covers the instances marked ``savings_plan_covered``: the effective rate is
# this share of on-demand (a 1-year no-upfront Compute Savings Plan saves about 28 %).
SAVINGS_PLAN_RATE = Decimal("0.72")
SAVINGS_PLAN_ID = "savingsplan/3f2a9c1e-6b7d-4e52-9a0c-demo0000c0de"

# Other lines: a promotional credit on the 3rd of each month, sales tax for each closed month.
MONTHLY_CREDIT = Decimal("-250.00")
TAX_RATE = Decimal("0.06")
