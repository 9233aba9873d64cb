"""The demo's AWS: moto's server in-process, seeded with the demo fleet, plus a FOCUS export.

``start_demo_world`` launches every instance of ``bot.demo.fleet.FLEET`` (tagged, in a VPC
spread over three zones), stops the ones meant to be stopped, puts 15 days of hourly
CloudWatch metrics for each running instance (AWS/EC2 CPU and network; CWAgent memory and,
for GPU types, NVIDIA GPU utilisation and memory), creates fraud-detection's SageMaker
(endpoints, notebooks, training jobs, with their metrics: ``bot.demo.sagemaker_world``) and
writes the FOCUS export with the real instance and volume ids and the SageMaker ARNs. Point
boto3 at ``DemoWorld.endpoint_url`` (or use ``DemoWorld.client``) and give
``focus:<DemoWorld.focus_glob>`` as the cost source.

moto keeps its state in module globals shared by everything in the process, so there is one
demo world per process at a time: starting one resets moto (the documented
``/moto-api/reset``). Notes for whoever queries the metrics: moto computes percentiles for
neither API (ask for Average/Maximum/Minimum/Sum/SampleCount), and its ``GetMetricData`` cost
grows with periods x all stored datapoints (an hourly 14-day query takes seconds); prefer
``GetMetricStatistics`` or daily periods against moto. Instance ``LaunchTime`` in moto is the
wall clock, not the fleet's ``launched_days_ago`` (no rule reads it); SageMaker's creation
times and training times are set to the demo's clock, since the SageMaker rules read them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.cloudwatch.models import cloudwatch_backends
from moto.server import ThreadedMotoServer

from bot.demo.charges import FRAUD_TRAINING_SPEND
from bot.demo.fleet import (
    AVAILABILITY_ZONES,
    FLEET,
    METRICS,
    REGION,
    DemoInstance,
    floor_to_hour,
    hourly_utilization,
    was_running,
)
from bot.demo.focus_export import daily_spend, write_focus_export
from bot.demo.sagemaker_world import backdate, create_sagemaker, metric_data

logger = logging.getLogger(__name__)

METRIC_DAYS = 15  # hourly datapoints before "now": Compute Optimizer's 14 days and a spare
EXPORT_DAYS = 75
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
VPC_CIDR = "10.42.0.0/16"
FALLBACK_IMAGE_ID = "ami-04681a1dbd79675a5"  # amzn2-ami-hvm in moto's default images
SECURITY_GROUP = "ml-workers"
KEY_NAME = "ml-platform"
INSTANCE_PROFILE = "ml-batch-worker"


@dataclass
class DemoWorld:
    """A running demo AWS. Stop it with ``stop()`` (or use it as a context manager)."""

    endpoint_url: str
    region: str
    account_id: str
    focus_dir: Path
    focus_glob: str
    instance_ids: dict[str, str]  # Name tag -> instance id
    now: dt.datetime  # the demo's clock
    volume_ids: dict[str, str] = field(default_factory=dict)  # Name tag -> root volume id
    seed_seconds: float = 0.0  # how long seeding took
    _server: ThreadedMotoServer | None = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, *, config: Config | None = None) -> Any:
        """A boto3 client for ``service`` on the demo endpoint, with dummy credentials."""
        retries = Config(retries={"mode": "standard", "max_attempts": 3})
        with self._lock:  # boto3 sessions are not thread-safe; the clients are
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region, **DUMMY_CREDENTIALS)
            return self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                config=retries.merge(config) if config else retries,
            )

    def stop(self) -> None:
        """Stop the moto server (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> DemoWorld:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _fast_metrics() -> None:
    # moto's own GetMetricData is too slow for two weeks of the fleet's metrics, and its
    # catalog lacks the P3 types two demo trainers run on.

    from bot.demo.moto_catalog import add_p3_types
    from bot.demo.moto_cloudwatch import use_indexed_metrics

    use_indexed_metrics()
    add_p3_types()


def _sagemaker_updates() -> None:
    # moto has no UpdateEndpoint: an approved smaller endpoint type would end rolled back.
    from bot.demo.moto_sagemaker import install_update_endpoint

    install_update_endpoint()


def _spot_market(now: dt.datetime) -> None:
    # moto's spot prices are placeholders; the demo serves a realistic (synthesised) market.
    from bot.demo.spot_market import install_spot_market

    install_spot_market(now)


def start_demo_world(*, workdir: Path, now: dt.datetime, seed: int = 7) -> DemoWorld:
    """Start moto in-process, seed it with the demo fleet, write the export under ``workdir``.

    Args:
        workdir: the export goes to ``workdir / "focus"``.
        now: the demo's clock (timezone-aware); metrics and billing end at this hour.
        seed: varies the export's day-to-day swings; metrics depend only on the fleet.
    """
    started = time.perf_counter()
    _fast_metrics()
    _sagemaker_updates()
    _spot_market(now)
    server = _start_server()
    host, port = server.get_host_and_port()
    world = DemoWorld(
        endpoint_url=f"http://{host}:{port}",
        region=REGION,
        account_id="",
        focus_dir=workdir / "focus",
        focus_glob=str(workdir / "focus" / "*.parquet"),
        instance_ids={},
        now=now,
        _server=server,
    )
    try:
        _reset_moto(world.endpoint_url)
        world.account_id = world.client("sts").get_caller_identity()["Account"]
        _seed(world, FLEET, seed)
    except BaseException:
        world.stop()
        raise
    world.seed_seconds = time.perf_counter() - started
    logger.info("demo world ready at %s in %.1f s", world.endpoint_url, world.seed_seconds)
    return world


# --- Server -----------------------------------------------------------------------------------


def _start_server() -> ThreadedMotoServer:
    _quiet_request_log()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def _quiet_request_log() -> None:
    """Keep werkzeug's per-request lines out of the console, unless someone configured it."""
    werkzeug_logger = logging.getLogger("werkzeug")
    if werkzeug_logger.level == logging.NOTSET:
        werkzeug_logger.setLevel(logging.WARNING)


def _reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


# --- Seeding ----------------------------------------------------------------------------------


def _seed(world: DemoWorld, fleet: Sequence[DemoInstance], seed: int) -> None:
    ec2 = world.client("ec2")
    subnets = _create_network(ec2)
    image_id = _find_image(ec2)
    launch = _launch_identity(ec2, world.client("iam"), subnets)
    for instance in fleet:
        instance_id, volume_id = _launch(ec2, instance, image_id, subnets, launch)
        world.instance_ids[instance.name] = instance_id
        if volume_id:
            world.volume_ids[instance.name] = volume_id
    _stop_stopped_instances(ec2, fleet, world.instance_ids)
    _create_databases(world.client("rds"))
    _create_sagemaker(world, seed)
    _put_metrics(world, fleet)
    write_focus_export(
        world.focus_dir,
        fleet=fleet,
        instance_ids=world.instance_ids,
        volume_ids=world.volume_ids,
        account_id=world.account_id,
        now=world.now,
        days=EXPORT_DAYS,
        fmt="parquet",
        seed=seed,
    )


DEV_DATABASES = (
    # (identifier, class, tags): RDS instances off-hours schedules can stop and start.
    ("fraud-dev-postgres", "db.t3.medium", {"team": "fraud-detection", "env": "dev"}),
)


def _create_databases(rds: Any) -> None:
    for identifier, db_class, tags in DEV_DATABASES:
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass=db_class,
            Engine="postgres",
            MasterUsername="demo",
            MasterUserPassword="demo-only-not-a-secret",
            AllocatedStorage=20,
            Tags=[{"Key": k, "Value": v} for k, v in {"Name": identifier, **tags}.items()],
        )


def _create_sagemaker(world: DemoWorld, seed: int) -> None:
    """fraud-detection's endpoints, notebooks and training jobs (``bot.demo.sagemaker_world``),
    dated by the demo's clock and billed by the export."""
    create_sagemaker(
        world.client("sagemaker"),
        world.client("application-autoscaling"),
        account_id=world.account_id,
    )
    today = world.now.astimezone(dt.UTC).date()

    def spend_on(days_ago: int) -> Decimal:
        day = today - dt.timedelta(days=days_ago)
        return daily_spend(FRAUD_TRAINING_SPEND, day, now=world.now, seed=seed)

    backdate(account_id=world.account_id, region=world.region, now=world.now, spend_on=spend_on)


def _create_network(ec2: Any) -> dict[str, str]:
    """A VPC with one subnet per zone; returns zone -> subnet id."""
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=[_tags("vpc", {"Name": "ml"})])
    vpc_id = vpc_id["Vpc"]["VpcId"]
    subnets = {}
    for index, zone in enumerate(AVAILABILITY_ZONES):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.42.{index * 16}.0/20",
            AvailabilityZone=zone,
            TagSpecifications=[_tags("subnet", {"Name": f"ml-private-{zone[-1]}"})],
        )
        subnets[zone] = subnet["Subnet"]["SubnetId"]
    return subnets


def _launch_identity(ec2: Any, iam: Any, subnets: dict[str, str]) -> dict[str, Any]:
    """A security group, key pair and instance profile every demo instance runs with (so a
    spot plan built from a running instance has real ids to copy)."""
    vpc_id = ec2.describe_subnets(SubnetIds=[next(iter(subnets.values()))])["Subnets"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName=SECURITY_GROUP, Description="ML workers", VpcId=vpc_id
    )
    ec2.create_key_pair(KeyName=KEY_NAME)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    trust += '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    iam.create_role(RoleName=INSTANCE_PROFILE, AssumeRolePolicyDocument=trust)
    iam.create_instance_profile(InstanceProfileName=INSTANCE_PROFILE)
    iam.add_role_to_instance_profile(
        InstanceProfileName=INSTANCE_PROFILE, RoleName=INSTANCE_PROFILE
    )
    return {
        "SecurityGroupIds": [group["GroupId"]],
        "KeyName": KEY_NAME,
        "IamInstanceProfile": {"Name": INSTANCE_PROFILE},
    }


def _find_image(ec2: Any) -> str:
    """An Amazon Linux 2 image moto knows (filtered: listing all of them takes seconds)."""
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*x86_64*"]}]
    )["Images"]
    return images[0]["ImageId"] if images else FALLBACK_IMAGE_ID


def _launch(
    ec2: Any,
    instance: DemoInstance,
    image_id: str,
    subnets: dict[str, str],
    identity: dict[str, Any],
) -> tuple[str, str | None]:
    """Run one instance with its tags on instance and root volume; returns both ids."""
    response = ec2.run_instances(
        **identity,
        ImageId=image_id,
        InstanceType=instance.instance_type,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets[instance.availability_zone],
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": instance.root_volume_gb, "VolumeType": "gp3"},
            }
        ],
        TagSpecifications=[_tags("instance", instance.tags), _tags("volume", instance.tags)],
    )
    launched = response["Instances"][0]
    volume_ids = [
        mapping["Ebs"]["VolumeId"]
        for mapping in launched.get("BlockDeviceMappings", [])
        if "Ebs" in mapping
    ]
    return launched["InstanceId"], (volume_ids[0] if volume_ids else None)


def _stop_stopped_instances(
    ec2: Any, fleet: Sequence[DemoInstance], instance_ids: dict[str, str]
) -> None:
    to_stop = [instance_ids[instance.name] for instance in fleet if instance.is_stopped]
    if to_stop:
        ec2.stop_instances(InstanceIds=to_stop)


def _tags(resource_type: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "ResourceType": resource_type,
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }


def _put_metrics(world: DemoWorld, fleet: Sequence[DemoInstance]) -> None:
    """Two weeks of hourly metrics, stored straight into moto's CloudWatch backend.

    moto runs in this process, so this is the store its API answers from. Sending the ~54,000
    datapoints through PutMetricData (serialised, sent, parsed) took half the world's start-up.
    """
    backend = cloudwatch_backends[world.account_id][world.region]
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sagemaker = metric_data(world.now, invocation_days=EXPORT_DAYS, metric_days=METRIC_DAYS)
    for namespace, datum in chain(_metric_data(fleet, world.instance_ids, world.now), sagemaker):
        datum["Timestamp"] = datum["Timestamp"].replace(tzinfo=None)  # moto keeps naive UTC
        by_namespace[namespace].append(datum)
    for namespace, data in by_namespace.items():
        backend.put_metric_data(namespace, data)


def _metric_data(
    fleet: Sequence[DemoInstance], instance_ids: dict[str, str], now: dt.datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(namespace, MetricDatum) for every hour each instance ran in the last METRIC_DAYS."""
    last_hour = floor_to_hour(now)
    hours = [last_hour - dt.timedelta(hours=n) for n in range(METRIC_DAYS * 24, 0, -1)]
    for instance in fleet:
        dimensions = [{"Name": "InstanceId", "Value": instance_ids[instance.name]}]
        for hour in hours:
            if not was_running(instance, hour, now):
                continue
            for name, value in hourly_utilization(instance, hour).items():
                spec = METRICS[name]
                yield (
                    spec.namespace,
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": hour,
                        "Value": value,
                        "Unit": spec.unit,
                    },
                )
