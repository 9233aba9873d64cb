"""Changes to EC2 instances (a resize, or a stop of an idle one) and to SageMaker resources
(delete an idle endpoint, set a variant's instance count, switch an endpoint config, stop a
notebook instance): proposed from a recommendation, decided by the owning team's approvers,
carried out one persisted state per step, and settled after a crash.

What lives here, from the bottom up (each module imports only the ones above it in this list):

- ``models``: the states, ``ChangeRequest``, ``Change`` (the stored record), ``Outcome``
  (the answer to a request), ``ChangeError``.
- ``store``: the ``ChangeStore`` and ``Audit`` protocols ``bot.store.Store`` implements, and
  the ``changes`` table's columns.
- ``plan``: one execution (which way, which types, who); ``ec2``: the client configuration
  and reading ``DescribeInstances``; ``sagemaker_api``: reading endpoints, endpoint configs
  and notebook instances, and naming the endpoint config a type switch creates.
- ``texts``: what outcomes say, in sentences for Slack.
- ``records``: the store, the audit trail and the clock every step writes to.
- ``dry_run``: executions rehearsed through the real calls with ``DryRun=True`` (SageMaker,
  which has none, is rehearsed by looking and listing the calls it would make);
  ``sagemaker``: the SageMaker steps of an execution (validate, carry out, put back).
- ``execution``: validating, claiming and carrying out a change, rolling it back on failure.
- ``decisions``: proposals, approvals (now or for later), denials, snoozes, dismissals;
  ``recovery``: finishing or rolling back what a crash left half-way.
- ``runner``: ``ChangeRunner``, the one entry point for everything else in costbot,
  including the look-ups handlers need (``get``, ``for_team``, ``history``, ``unsettled``,
  ``remember_message``), so nothing outside this package touches a ``ChangeStore``.

What it may import: the standard library, botocore (errors and config; EC2 and SageMaker
clients are handed in, never built here), SageMaker's recommendation models, and the shared
engine modules ``engines.errors``, ``engines.aws_errors``, ``engines.words`` and
right-sizing's models. Never Slack, ``bot`` or ``handlers``, and never the
database: the store is handed in. ``make lint`` checks this (``.importlinter``).

Every state change is an atomic compare-and-set (``ChangeStore.transition``): of fifty
simultaneous Approve clicks or executions exactly one wins, the rest are told why not.
Everything is audited: proposals, decisions, each EC2 or SageMaker call and its result.
"""
