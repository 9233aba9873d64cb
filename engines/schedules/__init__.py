"""Off-hours schedules: dev and training resources up in working hours, stopped outside them.

- ``model``: schedules, periods, overrides and resources, and reading what people write
  (names, times, days, time zones, modes). Pure.
- ``desired``: whether a resource should run at an instant, the next change, the saving. Pure.
- ``enforcement``: ``OffHours``, which applies changes of desired state every minute, warns
  before stops and takes overrides.
- ``store``: what enforcement keeps between minutes (``bot.store.Store`` implements it).
- ``aws``: the AWS adapter: finds tagged EC2 instances, Auto Scaling groups, RDS databases and
  SageMaker notebook instances, stops and starts them.
- ``results``: what ``/cost schedule`` answers (a list, one schedule, an outcome), with the
  CLI's ``--json`` shape.

May import: the shared engines modules only (``engines.models``, ``errors``, ``aws_errors``,
``words``). The teams file (``engines.config``) reads schedules through ``model``.
"""
