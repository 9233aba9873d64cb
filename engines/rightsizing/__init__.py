"""Right-sizing: what each EC2 instance should be, from how busy it was.

- ``models``: the shared vocabulary (instances, utilization, type facts, recommendations).
- ``utilization``: CloudWatch percentiles per instance.
- ``catalog``: the instance types and the running instances, from EC2.
- ``pricing``: on-demand prices (the shipped snapshot, or the Price List API).
- ``candidates``: type families, what a workload needs, which types may replace it.
- ``recommendations``: the rules that turn all of that into a ``Recommendation``.
- ``fleet_review``: a team's whole fleet reviewed in one call (``FleetReviewer``).

May import: the shared engines modules (``engines.models``, ``errors``, ``aws_errors``,
``words``) and the response cache of the cost sources (``engines.costs.sources.base``). No other
capability: spot and changes build on this package, not the other way round.
"""
