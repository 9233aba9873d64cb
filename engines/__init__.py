"""The domain, one package per capability: ``costs``, ``digests`` (and budgets),
``rightsizing``, ``spot``, ``schedules``, ``config`` (the teams file) and ``changes``;
``models``, ``errors``, ``aws_errors`` and ``words`` are shared by all. Each package's
``__init__`` says what it may import, and ``.importlinter`` checks it.

Engines never import Slack, never read the environment and never call ``datetime.now()``:
callers pass ``now`` and AWS clients in.
"""
