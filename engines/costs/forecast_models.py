"""What a cost forecast says, independent of where it came from (Cost Explorer, a trend, ...).

Kept apart from the sources so that reports and Slack blocks can use ``Forecast`` without
importing boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engines.models import Metric, Period


@dataclass(frozen=True)
class Forecast:
    """Predicted spend over ``period`` in one metric and one currency.

    Args:
        period: the forecast days (half-open); they start today or later, so actual spend
            before ``period.start`` is not included.
        metric: the cost type forecast (never mixed with another).
        currency: the unit of ``amount``, ``lower`` and ``upper``.
        amount: the most likely spend (the mean of the prediction).
        lower: the low end of the prediction interval, or None when there is none.
        upper: the high end of the prediction interval, or None when there is none.
        method: how the figure was made, in words fit to show a user.
    """

    period: Period
    metric: Metric
    currency: str
    amount: Decimal
    lower: Decimal | None
    upper: Decimal | None
    method: str
