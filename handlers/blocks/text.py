"""Renders a Block Kit message as readable terminal text (for ``costbot ask``)."""

from __future__ import annotations

import re
from typing import Any

EMOJI = {
    ":warning:": "⚠",
    ":x:": "✗",
    ":white_check_mark:": "✓",
    ":hourglass_flowing_sand:": "⏳",
    ":chart_with_upwards_trend:": "↗",
    ":chart_with_downwards_trend:": "↘",
    ":heavy_minus_sign:": "–",
    ":arrow_up:": "↑",
    ":arrow_down:": "↓",
    ":moneybag:": "$",
    ":rotating_light:": "!",
    ":information_source:": "i",
}


def render_text(msg: dict[str, Any]) -> str:
    """The message as lines of plain text; falls back to ``text`` when it has no blocks."""
    blocks = msg.get("blocks") or []
    if not blocks:
        return _plain(msg.get("text", ""))
    return "\n".join(line for block in blocks for line in _render_block(block)).rstrip()


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = block["text"]["text"]
        return [title, "=" * len(title)]
    if kind == "divider":
        return ["-" * 40]
    if kind == "section":
        lines = [_plain(block["text"]["text"])] if block.get("text") else []
        lines += ["  " + _plain(f["text"]).replace("\n", ": ", 1) for f in block.get("fields", [])]
        return lines
    if kind == "context":
        return [_plain(" ".join(e.get("text", e.get("alt_text", "")) for e in block["elements"]))]
    if kind == "actions":
        return [" ".join(f"[{e['text']['text']}]" for e in block["elements"] if "text" in e)]
    if kind == "image":
        return [f"(image: {block.get('alt_text', '')} {block.get('image_url', '')})"]
    return []


def _plain(text: str) -> str:
    text = re.sub(r"<@([A-Z0-9]+)(\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<#[A-Z0-9]+\|([^>]*)>", r"#\1", text)
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    for code, symbol in EMOJI.items():
        text = text.replace(code, symbol)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
