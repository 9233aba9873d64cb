"""A local stand-in for Slack, for `costbot demo` and for tests.

It plays Slack's part in both directions, on one WSGI app served by waitress:

* Slack -> bot: slash commands, Block Kit button clicks, select menus, modal submissions and
  ``app_home_opened`` events are built exactly as Slack builds them, signed with the signing
  secret (``X-Slack-Request-Timestamp`` / ``X-Slack-Signature``) and POSTed to the bot's
  events URL. The ack is treated as Slack treats it: a slash command's ack body becomes an
  ephemeral message (``response_type: in_channel`` makes it public and echoes the command),
  a non-2xx answer or one later than 3 s shows an ephemeral error from Slackbot.
* bot -> Slack: the Web API under ``<base_url>/api/<method>`` (so that
  ``slack_sdk.WebClient(base_url=standin.api_url)`` works unchanged), ``response_url``s under
  ``<base_url>/response/<id>`` (5 uses within 30 minutes, as Slack), file uploads (the
  ``files_upload_v2`` flow) with the files served back under ``<base_url>/files/<id>``.
* the browser workspace: ``GET /`` (static/index.html, app.js, style.css) and a small JSON API
  under ``/ui/api/`` with a long-poll event stream, so that messages the bot posts by itself
  appear without a reload.

Behaviour follows Slack where it matters to a bot: ``trigger_id`` is single-use and expires
after 3 s; ``chat.update``/``chat.delete`` work only on the bot's own, non-ephemeral messages;
a block_actions ``response_url`` replaces (``replace_original``) or deletes
(``delete_original``) the message holding the button (ephemeral ones too), and a slash
command's one replaces or deletes the last message it posted (its ack included), keeping that
message's visibility: an ephemeral note stays ephemeral; a slash command from a surface that
gives none comes without ``response_url`` (``send_command(response_url=False)``);
``files.completeUploadExternal`` takes ``blocks`` (ignored with ``initial_comment``), so an
answer and its chart are one message; blocks are checked against Block Kit's main limits
(``invalid_blocks``); the
block_actions payload of an ephemeral message carries no ``message`` (use
``container.message_ts``). ``fail_next`` injects 429/5xx answers; ``calls`` records every
Web API call. ``channel_rate_limit`` (messages per second per channel, off by default)
answers ``chat.postMessage`` beyond it with 429 and ``Retry-After``, as Slack does.

``enable_socket_mode(app_token)`` plays Socket Mode instead (``bot.demo.socket_mode``):
``apps.connections.open`` answers a ``ws://`` URL and the same requests go to the bot as
envelopes on its WebSocket, their acks standing for the HTTP answers.

The parts, one module each, composed into ``SlackStandIn`` (``wsgi``):

* ``blocks``: Slack's limits on blocks, views and messages, the one validator (tests use
  ``limit_violations`` on every message the builders make);
* ``workspace``: the state (people, channels, messages, views, injected failures);
* ``dispatch`` and ``interactions``: Slack -> bot, signed, and what a person does;
* ``response_url``: what the bot posts to a ``response_url``;
* ``web_api``, ``views_api``, ``files_api``: the Web API methods;
* ``ui_api``: the browser workspace's JSON API; ``wsgi``: routing and the server's lifecycle;
* ``http_io``: answers, bodies, form and multipart parameters.

It may import the standard library, ``slack_sdk.signature``, ``bot.server`` (to serve) and
``bot.demo.people``/``bot.demo.socket_mode``; never handlers or engines: it plays Slack.
"""

from .blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_TEXT_CHARS,
    MAX_VIEW_BLOCKS,
    limit_violations,
    validate_blocks,
    validate_view,
)
from .response_url import RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL_S
from .ui_api import LONG_POLL_S
from .workspace import SLACKBOT_USER_ID, CommandResult
from .wsgi import STATIC_DIR, SlackStandIn

__all__ = [
    "LONG_POLL_S",
    "MAX_MESSAGE_BLOCKS",
    "MAX_TEXT_CHARS",
    "MAX_VIEW_BLOCKS",
    "RESPONSE_URL_MAX_USES",
    "RESPONSE_URL_TTL_S",
    "SLACKBOT_USER_ID",
    "STATIC_DIR",
    "CommandResult",
    "SlackStandIn",
    "limit_violations",
    "validate_blocks",
    "validate_view",
]
