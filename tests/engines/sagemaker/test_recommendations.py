"""What a team is told about its SageMaker resources: the rules, on plain inputs.

Prices come from the shipped snapshot (us-east-1): ml.m5.large hosting $0.115/h,
ml.g4dn.xlarge $0.736/h, ml.p3.2xlarge training $3.825/h, ml.t3.medium notebook $0.05/h.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engines.changes.models import ChangeRequest
from engines.sagemaker.models import (
    Endpoint,
    EndpointTraffic,
    Finding,
    NotebookActivity,
    NotebookInstance,
    Risk,
    SageMakerAction,
    TrainingJob,
    Variant,
)
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.recommendations import (
    ASSUMED_SPOT_DISCOUNT,
    next_smaller_type,
    off_hours_per_month,
    review_endpoint,
    review_notebook,
    review_training_job,
)

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)  # a Friday
LONG_AGO = NOW - dt.timedelta(days=60)
PRICES = SageMakerPriceBook()


def endpoint(
    name: str,
    instance_type: str,
    count: int,
    *,
    prod: bool = False,
    autoscaling_min: int | None = None,
) -> Endpoint:
    return Endpoint(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        status="InService",
        config_name=f"{name}-config",
        region="us-east-1",
        account_id="123456789012",
        variants=(
            Variant(
                "AllTraffic",
                instance_type,
                count,
                autoscaling_min=autoscaling_min,
                autoscaling_max=None if autoscaling_min is None else 8,
            ),
        ),
        tags={"team": "fraud", **({"env": "production"} if prod else {})},
        created=LONG_AGO,
    )


def traffic(
    name: str,
    daily: tuple[float, ...],
    cpu: float | None = None,
    *,
    gpu: float | None = None,
    memory: float | None = None,
    latency_ms: float | None = None,
) -> dict[str, EndpointTraffic]:
    return {
        "AllTraffic": EndpointTraffic(
            name,
            "AllTraffic",
            14,
            daily,
            cpu,
            gpu_max_percent=gpu,
            memory_max_percent=memory,
            model_latency_ms=latency_ms,
        )
    }


# --- Endpoints ---------------------------------------------------------------------------


def test_an_endpoint_nobody_called_in_14_days_is_deleted_keeping_its_config() -> None:
    idle = endpoint("old-scorer", "ml.m5.large", 2)

    (rec,) = review_endpoint(idle, traffic("old-scorer", ()), prices=PRICES, now=NOW)

    assert rec.finding is Finding.IDLE and rec.action is SageMakerAction.DELETE_ENDPOINT
    assert rec.monthly_saving == Decimal("167.90")  # 2 x 0.115 x 730
    assert "old-scorer-config" in rec.reason
    assert rec.recommended_count == 0 and rec.risk is Risk.LOW
    assert "0 invocations in 14 days on 1 variant (2 x ml.m5.large)" in rec.evidence


def test_a_called_endpoint_or_a_new_one_is_not_idle() -> None:
    busy = endpoint("scorer", "ml.m5.large", 2)
    young = Endpoint(**{**busy.__dict__, "created": NOW - dt.timedelta(days=3)})

    assert review_endpoint(busy, traffic("scorer", (0, 0, 3)), prices=PRICES, now=NOW) == []
    assert review_endpoint(young, traffic("scorer", ()), prices=PRICES, now=NOW) == []
    # Not measured at all: no verdict.
    assert review_endpoint(busy, {}, prices=PRICES, now=NOW) == []


def test_an_over_provisioned_endpoint_gets_fewer_instances_with_the_evidence() -> None:
    big = endpoint("ranker", "ml.g4dn.xlarge", 4)

    (rec,) = review_endpoint(big, traffic("ranker", (2880, 1440), cpu=12), prices=PRICES, now=NOW)

    assert rec.finding is Finding.OVER_PROVISIONED
    assert rec.action is SageMakerAction.SET_INSTANCE_COUNT
    assert (rec.current_count, rec.recommended_count) == (4, 1)
    assert rec.monthly_saving == Decimal("1611.84")  # 3 x 0.736 x 730
    assert any("peak CPU 12% of 4 x ml.g4dn.xlarge" in line for line in rec.evidence)
    assert any("0.5 per instance per minute" in line for line in rec.evidence)


def test_a_prod_endpoint_keeps_two_instances_and_says_why() -> None:
    prod = endpoint("fraud-scorer", "ml.m5.large", 4, prod=True)

    (rec,) = review_endpoint(prod, traffic("fraud-scorer", (5000,), cpu=10), prices=PRICES, now=NOW)

    assert rec.recommended_count == 2
    assert rec.monthly_saving == Decimal("167.90")  # 2 instances fewer
    assert "keeps 2 because it is prod" in rec.reason
    assert any("Availability Zones" in line for line in rec.evidence)


def test_a_prod_endpoint_already_at_two_is_left_alone() -> None:
    prod = endpoint("fraud-scorer", "ml.m5.large", 2, prod=True)

    assert (
        review_endpoint(prod, traffic("fraud-scorer", (5000,), cpu=5), prices=PRICES, now=NOW) == []
    )


def test_a_busy_endpoint_keeps_its_instances() -> None:
    busy = endpoint("ranker", "ml.m5.large", 3)
    assert review_endpoint(busy, traffic("ranker", (9000,), cpu=55), prices=PRICES, now=NOW) == []


def test_an_autoscaling_minimum_at_the_count_gets_advice_not_a_change_it_would_undo() -> None:
    scaled = endpoint("ranker", "ml.m5.large", 6, autoscaling_min=6)

    (rec,) = review_endpoint(scaled, traffic("ranker", (9000,), cpu=20), prices=PRICES, now=NOW)

    assert rec.action is SageMakerAction.LOWER_AUTOSCALING_MIN  # advice: no button
    assert (rec.current_count, rec.recommended_count) == (6, 2)
    assert rec.monthly_saving == Decimal("335.80")  # 4 x 0.115 x 730
    assert "its autoscaling minimum is 6" in rec.reason
    assert "Lower the minimum to 2 in Application Auto Scaling" in rec.risk_note
    with pytest.raises(ValueError, match="advice"):
        ChangeRequest.from_sagemaker(rec, requested_by="costbot", team="fraud")


def test_an_autoscaling_minimum_below_the_count_sets_the_count_no_lower_than_it() -> None:
    scaled = endpoint("ranker", "ml.m5.large", 6, autoscaling_min=4)

    (rec,) = review_endpoint(scaled, traffic("ranker", (9000,), cpu=20), prices=PRICES, now=NOW)

    assert rec.action is SageMakerAction.SET_INSTANCE_COUNT
    assert rec.recommended_count == 4  # 2 carry it, but autoscaling would add 2 back
    assert rec.monthly_saving == Decimal("167.90")  # 2 x 0.115 x 730: only what holds
    assert any(
        "autoscaling keeps at least 4, so 4 and not 2" in line and "$167.90/month more" in line
        for line in rec.evidence
    )


def test_an_autoscaled_variant_gets_no_smaller_type_since_aws_would_refuse_the_update() -> None:
    single = endpoint("scorer", "ml.m5.2xlarge", 1, autoscaling_min=1)

    assert review_endpoint(single, traffic("scorer", (900,), cpu=25), prices=PRICES, now=NOW) == []


def test_deleting_an_idle_autoscaled_endpoint_says_revert_does_not_bring_autoscaling_back() -> None:
    idle = endpoint("old-scorer", "ml.m5.large", 2, autoscaling_min=2)

    (rec,) = review_endpoint(idle, traffic("old-scorer", ()), prices=PRICES, now=NOW)

    assert "Revert does not register it again" in rec.risk_note


def test_without_utilization_no_count_is_proposed() -> None:
    big = endpoint("ranker", "ml.m5.large", 4)

    assert review_endpoint(big, traffic("ranker", (100,)), prices=PRICES, now=NOW) == []


def test_one_instance_at_low_cpu_moves_to_the_next_smaller_size_through_a_new_config() -> None:
    single = endpoint("scorer", "ml.m5.2xlarge", 1)

    (rec,) = review_endpoint(single, traffic("scorer", (900,), cpu=25), prices=PRICES, now=NOW)

    assert rec.action is SageMakerAction.SWITCH_ENDPOINT_CONFIG
    assert (rec.current_type, rec.recommended_type) == ("ml.m5.2xlarge", "ml.m5.xlarge")
    assert (rec.current_count, rec.recommended_count) == (1, 1)
    assert rec.monthly_saving == Decimal("168.63")  # (0.461 - 0.23) x 730
    assert rec.variant == "AllTraffic" and rec.config_name == "scorer-config"
    assert any("the peak would be about 50%" in line for line in rec.evidence)
    assert rec.risk_note.startswith(
        "UpdateEndpoint is blue/green: SageMaker rolls back by itself if the new instances "
        "fail health checks."
    )


def test_a_prod_endpoint_at_two_shrinks_its_type_and_keeps_two() -> None:
    prod = endpoint("fraud-scorer", "ml.c5.xlarge", 2, prod=True)

    (rec,) = review_endpoint(prod, traffic("fraud-scorer", (5000,), cpu=20), prices=PRICES, now=NOW)

    assert rec.action is SageMakerAction.SWITCH_ENDPOINT_CONFIG
    assert rec.recommended_type == "ml.c5.large" and rec.recommended_count == 2
    assert rec.monthly_saving == Decimal("148.92")  # 2 x (0.204 - 0.102) x 730
    assert any("fewest a prod endpoint keeps" in line for line in rec.evidence)


def test_a_type_is_not_shrunk_when_the_peak_would_pass_60_percent_or_above_the_floor() -> None:
    busy = endpoint("scorer", "ml.m5.2xlarge", 1)
    assert review_endpoint(busy, traffic("scorer", (900,), cpu=31), prices=PRICES, now=NOW) == []
    # Above the floor, fewer instances come first (the count rule), not a smaller type.
    (rec,) = review_endpoint(
        endpoint("scorer", "ml.m5.2xlarge", 3), traffic("scorer", (900,), cpu=10),
        prices=PRICES, now=NOW,
    )  # fmt: skip
    assert rec.action is SageMakerAction.SET_INSTANCE_COUNT
    assert (
        review_endpoint(
            endpoint("scorer", "ml.m5.2xlarge", 1),
            traffic("scorer", (900,)),
            prices=PRICES,
            now=NOW,
        )
        == []
    )  # no CPU figure: no verdict


def test_the_next_smaller_size_stays_in_its_cpu_family_and_never_below_large() -> None:
    assert next_smaller_type("ml.m5.2xlarge") == "ml.m5.xlarge"
    assert next_smaller_type("ml.m5.xlarge") == "ml.m5.large"
    assert next_smaller_type("ml.c5.18xlarge") == "ml.c5.9xlarge"
    assert next_smaller_type("ml.m5.large") is None
    assert next_smaller_type("ml.c5.9xlarge") is None  # no size with exactly half
    assert next_smaller_type("ml.g4dn.2xlarge") is None  # GPU: its CPU says nothing
    assert next_smaller_type("ml.inf1.2xlarge") is None
    gpu = endpoint("ranker", "ml.g4dn.2xlarge", 1)
    assert review_endpoint(gpu, traffic("ranker", (900,), cpu=5), prices=PRICES, now=NOW) == []


def test_a_gpu_bound_variant_keeps_its_instances_though_its_cpu_is_low() -> None:
    gpu_bound = endpoint("ranker", "ml.g4dn.xlarge", 4)

    recs = review_endpoint(
        gpu_bound, traffic("ranker", (2880,), cpu=8, gpu=70), prices=PRICES, now=NOW
    )

    assert recs == []  # 4 x 70 % / 60 % = 5 instances needed: none to spare


def test_a_quiet_gpu_gets_fewer_instances_judged_on_the_busier_of_cpu_and_gpu() -> None:
    ranker = endpoint("ranker", "ml.g4dn.xlarge", 4)

    (rec,) = review_endpoint(
        ranker,
        traffic("ranker", (2880,), cpu=8, gpu=22, memory=38, latency_ms=41.2),
        prices=PRICES,
        now=NOW,
    )

    assert rec.action is SageMakerAction.SET_INSTANCE_COUNT
    assert (rec.current_count, rec.recommended_count) == (4, 2)  # ceil(4 x 22 / 60)
    assert rec.reason.startswith("Variant AllTraffic peaked at 8% CPU and 22% GPU on 4 instances")
    evidence = "\n".join(rec.evidence)
    assert "peak CPU 8% of 4 x ml.g4dn.xlarge over 14 days" in evidence
    assert "peak GPU 22% of 1 GPU per instance" in evidence
    assert "peak memory 38% per instance" in evidence
    assert "model latency 41 ms on average" in evidence
    assert "on 2 instances the peak would be about 44% GPU" in evidence


def test_memory_is_no_reason_to_keep_instances() -> None:
    # Each instance holds the model: 80 % memory stays 80 % on fewer instances.
    scorer = endpoint("scorer", "ml.m5.large", 4)

    (rec,) = review_endpoint(
        scorer, traffic("scorer", (900,), cpu=10, memory=80), prices=PRICES, now=NOW
    )

    assert rec.recommended_count == 1
    assert any("peak memory 80% per instance" in line for line in rec.evidence)


def test_a_gpu_type_without_a_gpu_figure_is_judged_on_cpu_and_says_so() -> None:
    ranker = endpoint("ranker", "ml.p3.8xlarge", 4)

    (rec,) = review_endpoint(ranker, traffic("ranker", (2880,), cpu=12), prices=PRICES, now=NOW)

    assert rec.recommended_count == 1
    assert (
        "GPU utilization not published for ml.p3.8xlarge (4 GPUs per instance): judged on CPU only"
    ) in rec.evidence
    assert rec.reason.startswith("Variant AllTraffic peaked at 12% CPU on 4 instances")


def test_a_gpu_figure_alone_is_enough_to_judge() -> None:
    ranker = endpoint("ranker", "ml.p3.2xlarge", 3)

    (rec,) = review_endpoint(ranker, traffic("ranker", (500,), gpu=15), prices=PRICES, now=NOW)

    assert rec.recommended_count == 1
    assert "CPU utilization not published: judged on GPU only" in rec.evidence
    # Neither CPU nor GPU: nothing proposed, whatever the memory and latency.
    assert (
        review_endpoint(
            ranker,
            traffic("ranker", (500,), memory=10, latency_ms=5),
            prices=PRICES,
            now=NOW,
        )
        == []
    )


def test_memory_over_45_percent_blocks_the_smaller_type() -> None:
    single = endpoint("scorer", "ml.m5.2xlarge", 1)

    blocked = traffic("scorer", (900,), cpu=25, memory=60)
    assert review_endpoint(single, blocked, prices=PRICES, now=NOW) == []
    assert (
        review_endpoint(
            single, traffic("scorer", (900,), cpu=25, memory=46), prices=PRICES, now=NOW
        )
        == []
    )

    (rec,) = review_endpoint(
        single,
        traffic("scorer", (900,), cpu=25, memory=20, latency_ms=7.25),
        prices=PRICES,
        now=NOW,
    )
    assert rec.recommended_type == "ml.m5.xlarge"
    assert any(
        "peak memory 20% per instance: about 40% with half the memory on ml.m5.xlarge" in line
        for line in rec.evidence
    )
    assert any("model latency 7.2 ms on average" in line for line in rec.evidence)
    assert rec.risk is Risk.MEDIUM  # the CPU would be about 50 % there


def test_a_smaller_type_without_a_memory_figure_says_the_fit_is_unchecked() -> None:
    prod = endpoint("fraud-scorer", "ml.c5.xlarge", 2, prod=True)

    (rec,) = review_endpoint(prod, traffic("fraud-scorer", (5000,), cpu=10), prices=PRICES, now=NOW)
    assert any("memory utilization not published" in line for line in rec.evidence)
    assert rec.risk is Risk.MEDIUM  # CPU about 20 % there, but the model's fit is unknown

    (known,) = review_endpoint(
        prod, traffic("fraud-scorer", (5000,), cpu=10, memory=15), prices=PRICES, now=NOW
    )
    assert known.risk is Risk.LOW  # about 20 % CPU and 30 % memory on ml.c5.large


# --- Notebooks ---------------------------------------------------------------------------


NOTEBOOK = NotebookInstance(
    name="fraud-lab",
    arn="arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/fraud-lab",
    status="InService",
    instance_type="ml.t3.medium",
    region="us-east-1",
    account_id="123456789012",
)


def test_a_quiet_notebook_running_at_night_is_stopped() -> None:
    night = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)  # 23:30 in Dublin

    rec = review_notebook(
        NOTEBOOK,
        NotebookActivity("fraud-lab", 0.8),
        prices=PRICES,
        now=night,
        timezone="Europe/Dublin",
    )

    assert rec is not None and rec.action is SageMakerAction.STOP_NOTEBOOK
    assert "outside working hours" in rec.reason and "Fri 23:30" in rec.reason
    assert rec.monthly_saving == (Decimal("0.05") * off_hours_per_month()).quantize(Decimal("0.01"))
    assert rec.monthly_saving == Decimal("24.55")  # 113 of 168 weekly hours x 730 x 0.05


def test_a_notebook_in_working_hours_or_busy_at_night_is_left_running() -> None:
    afternoon = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
    night = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    quiet, busy = NotebookActivity("fraud-lab", 0.8), NotebookActivity("fraud-lab", 40)

    assert (
        review_notebook(NOTEBOOK, quiet, prices=PRICES, now=afternoon, timezone="Europe/Dublin")
        is None
    )
    assert (
        review_notebook(NOTEBOOK, busy, prices=PRICES, now=night, timezone="Europe/Dublin") is None
    )
    # 14:00 UTC is 06:00 in Los Angeles: before that team's day starts.
    assert review_notebook(
        NOTEBOOK, quiet, prices=PRICES, now=afternoon, timezone="America/Los_Angeles"
    )


# --- Training jobs -----------------------------------------------------------------------


def job(name: str, *, spot: bool = False, checkpoints: bool = True) -> TrainingJob:
    return TrainingJob(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        status="Completed",
        instance_type="ml.p3.2xlarge",
        instance_count=2,
        billable_seconds=36_000,  # 10 h on each of 2 instances
        managed_spot=spot,
        has_checkpoints=checkpoints,
        region="us-east-1",
        account_id="123456789012",
    )


def test_training_on_demand_is_moved_to_managed_spot_with_the_stated_discount() -> None:
    rec = review_training_job(job("nightly"), prices=PRICES, period_days=30)

    assert rec is not None and rec.action is SageMakerAction.USE_MANAGED_SPOT
    assert Decimal("0.50") == ASSUMED_SPOT_DISCOUNT
    # 20 instance-hours x (3.825 - 1.91) = 38.30 in 30 days; x 730 / 720 for the month.
    assert any("$38.30 in the 30-day period" in line for line in rec.evidence)
    assert rec.monthly_saving == Decimal("38.83")
    assert any("spot assumed 50% below on-demand" in line for line in rec.evidence)
    assert rec.risk is Risk.LOW


def test_a_job_without_checkpoints_is_told_to_add_checkpoints_first() -> None:
    rec = review_training_job(job("nightly", checkpoints=False), prices=PRICES)

    assert rec is not None and rec.action is SageMakerAction.ADD_CHECKPOINTS
    assert rec.reason.startswith("Add checkpoints first")
    assert "starts over" in rec.risk_note and rec.risk is Risk.HIGH


def test_a_job_already_on_spot_gets_nothing() -> None:
    assert review_training_job(job("nightly", spot=True), prices=PRICES) is None
