"""SageMaker: what a team runs on Amazon SageMaker, what it costs, and what to change.

- ``models``: the shared vocabulary (endpoints and their variants, notebook instances,
  training jobs, their traffic, and ``SageMakerRecommendation``).
- ``inventory``: a team's endpoints, notebooks and the period's training jobs, from the
  SageMaker and Application Auto Scaling APIs, owned by the same rule as EC2.
- ``metrics``: ``AWS/SageMaker`` invocations and CPU per endpoint variant, and notebooks' CPU
  (the CloudWatch agent's), from CloudWatch, batched.
- ``prices``: SageMaker instance prices (the Price List API, cached, or a dated snapshot).
- ``recommendations``: the rules (idle or over-provisioned endpoint, a smaller type, notebook
  left running, training without managed spot), pure.
- ``review``: a team's whole inventory reviewed in one call, biggest saving first (pure).
- ``reviewer``: ``SageMakerReviewer``, the entry point handlers call: lists, measures and
  reviews a team's resources in every account and region, with its own clients.
- ``results``: ``/cost rightsize``'s answer, EC2's recommendations with SageMaker's.

May import: the shared engines modules (``engines.models``, ``errors``, ``aws_errors``,
``words``), the teams-file ownership rule (``engines.costs.ownership``), the response cache
(``engines.costs.sources.base``), and right-sizing's vocabulary and pricing helpers
(``engines.rightsizing.models``, ``engines.rightsizing.pricing``). Never handlers or bot; no
client is built here: every AWS client is passed in.
"""
