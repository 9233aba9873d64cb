"""Slack's limits on messages, Block Kit and views: the one validator, for the stand-in and tests.

The stand-in refuses what Slack refuses with these checks (``invalid_blocks``, and
``invalid_arguments`` for a view), and the builder tests assert that every message costbot
builds passes ``limit_violations``. The numbers are Slack's, written down here on their own,
not taken from the builders' constants: a builder that clipped to a wrong number would
otherwise agree with its own check.

Sources: FACTS.md, Slack ("Block Kit: 50 blocks per message, 100 in modals and App Home;
section text 3,000 chars; at most 10 fields of 2,000 chars; header text 150; button ``value``
2,000; ``action_id`` and ``block_id`` 255"), and for the rest Slack's Block Kit reference
(blocks, block elements, composition objects, view objects) and its changelog "Truncating
really long messages" (2018-04: message text over 40,000 characters).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

# FACTS.md, Slack, "Block Kit".
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # modals and App Home
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_VALUE = 2000
MAX_ID = 255  # action_id, block_id (and a view's callback_id)
# Slack's Block Kit reference.
MAX_BUTTON_TEXT = 75
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_ALT_TEXT = 2000
MAX_VIEW_TITLE = 24  # also a modal's submit and close labels
MAX_PRIVATE_METADATA = 3000
# Slack's changelog, 2018-04, "Truncating really long messages".
MAX_TEXT_CHARS = 40_000

KNOWN_BLOCKS = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


def limit_violations(msg: dict[str, Any]) -> list[str]:
    """Every way a message (``text`` and ``blocks``) breaks Slack's limits (empty: fine).

    Besides the blocks' limits, a message needs its plain-text fallback ``text``: Slack shows it
    in notifications and to screen readers, and a message of blocks alone has none."""
    problems = []
    text = msg.get("text")
    if not text:
        problems.append("no plain-text fallback 'text'")
    elif len(str(text)) > MAX_TEXT_CHARS:
        problems.append(f"text is longer than {MAX_TEXT_CHARS:,} characters (msg_too_long)")
    return problems + validate_blocks(msg.get("blocks", []))


def _too_long(limit: int, ptr: str) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{ptr}]"


def _plain_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def validate_blocks(
    blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, where: str = "blocks"
) -> list[str]:
    """Check blocks against Block Kit's limits; return Slack-style error lines (empty: ok)."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:/{where}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"[ERROR] must be less than {limit + 1} items [json-pointer:/{where}]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"/{where}/{i}"
        if not isinstance(block, dict):
            errors.append(f"[ERROR] must be an object [json-pointer:{ptr}]")
            continue
        kind = block.get("type")
        if kind not in KNOWN_BLOCKS:
            errors.append(f"[ERROR] unsupported type: {kind} [json-pointer:{ptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_ID:
                errors.append(_too_long(MAX_ID, f"{ptr}/block_id"))
            if block_id in block_ids:
                errors.append(
                    f"[ERROR] duplicate block_id: {block_id} [json-pointer:{ptr}/block_id]"
                )
            block_ids.add(block_id)
        if kind == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/text]")
            elif _plain_len(text) > MAX_HEADER_TEXT:
                errors.append(_too_long(MAX_HEADER_TEXT, f"{ptr}/text"))
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if not text and not fields:
                errors.append(f"[ERROR] must provide text or fields [json-pointer:{ptr}]")
            if _plain_len(text) > MAX_SECTION_TEXT:
                errors.append(_too_long(MAX_SECTION_TEXT, f"{ptr}/text"))
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
                    errors.append(
                        f"[ERROR] must be at most {MAX_FIELDS} items [json-pointer:{ptr}/fields]"
                    )
                else:
                    for j, field in enumerate(fields):
                        if _plain_len(field) > MAX_FIELD_TEXT:
                            errors.append(_too_long(MAX_FIELD_TEXT, f"{ptr}/fields/{j}"))
            if block.get("accessory") is not None:
                errors += _validate_element(block["accessory"], f"{ptr}/accessory")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
                errors.append(
                    f"[ERROR] must have 1 to {MAX_ACTIONS_ELEMENTS} elements "
                    f"[json-pointer:{ptr}/elements]"
                )
            else:
                seen: set[str] = set()
                for j, element in enumerate(elements):
                    errors += _validate_element(element, f"{ptr}/elements/{j}")
                    aid = element.get("action_id") if isinstance(element, dict) else None
                    if aid is None:
                        continue
                    if aid in seen:
                        errors.append(
                            f"[ERROR] duplicate action_id: {aid} [json-pointer:{ptr}/elements/{j}]"
                        )
                    seen.add(aid)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                errors.append(
                    f"[ERROR] must have 1 to {MAX_CONTEXT_ELEMENTS} elements "
                    f"[json-pointer:{ptr}/elements]"
                )
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                errors.append(f"[ERROR] must provide image_url [json-pointer:{ptr}]")
            alt = block.get("alt_text")
            if not isinstance(alt, str) or not alt or len(alt) > MAX_ALT_TEXT:
                errors.append(
                    f"[ERROR] alt_text: 1 to {MAX_ALT_TEXT} characters "
                    f"[json-pointer:{ptr}/alt_text]"
                )
        elif kind == "input":
            if not isinstance(block.get("label"), dict):
                errors.append(f"[ERROR] must provide a label [json-pointer:{ptr}/label]")
            if not isinstance(block.get("element"), dict):
                errors.append(f"[ERROR] must provide an element [json-pointer:{ptr}/element]")
    return errors


def _validate_element(element: Any, ptr: str) -> list[str]:
    if not isinstance(element, dict) or "type" not in element:
        return [f"[ERROR] must be an element object [json-pointer:{ptr}]"]
    errors: list[str] = []
    if len(str(element.get("action_id", ""))) > MAX_ID:
        errors.append(_too_long(MAX_ID, f"{ptr}/action_id"))
    if element["type"] == "button":
        text = element.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            errors.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/text]")
        elif _plain_len(text) > MAX_BUTTON_TEXT:
            errors.append(_too_long(MAX_BUTTON_TEXT, f"{ptr}/text"))
        if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
            errors.append(_too_long(MAX_BUTTON_VALUE, f"{ptr}/value"))
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(f"[ERROR] must be primary or danger [json-pointer:{ptr}/style]")
    return errors


def validate_view(view: Any) -> list[str]:
    """Check a modal or App Home view (and its blocks); return Slack-style error lines."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") not in ("modal", "home"):
        errors.append("[ERROR] must be modal or home [json-pointer:/view/type]")
    if view.get("type") == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or not 1 <= _plain_len(title) <= MAX_VIEW_TITLE:
            errors.append(
                f"[ERROR] title: plain_text of 1 to {MAX_VIEW_TITLE} characters "
                "[json-pointer:/view/title]"
            )
        for key in ("submit", "close"):
            if view.get(key) is not None and _plain_len(view[key]) > MAX_VIEW_TITLE:
                errors.append(_too_long(MAX_VIEW_TITLE, f"/view/{key}"))
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            errors.append(
                "[ERROR] a view with input blocks needs submit [json-pointer:/view/submit]"
            )
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        errors.append(_too_long(MAX_PRIVATE_METADATA, "/view/private_metadata"))
    if len(str(view.get("callback_id", ""))) > MAX_ID:
        errors.append(_too_long(MAX_ID, "/view/callback_id"))
    errors += validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, where="view/blocks")
    return errors


def iter_elements(blocks: Sequence[dict]) -> Iterable[tuple[dict, dict]]:
    """Yield (block, element) for every interactive element in the blocks."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict):
                    yield block, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def with_ids(blocks: list | None) -> list:
    """A copy of the blocks where each block and element has its ids, as Slack stores them.

    Slack gives a block without ``block_id`` (and an interactive element without
    ``action_id``) a random one, which then shows in payloads and API answers.
    """
    out = copy.deepcopy(blocks) if blocks else []
    for block in out:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)[:5]
    for _block, element in iter_elements(out):
        if not element.get("action_id") and element.get("type") not in ("image",):
            element["action_id"] = secrets.token_urlsafe(4)[:5]
    return out
