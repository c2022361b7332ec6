"""Turning stored text and numbers into what the pages show."""

from __future__ import annotations

import re

from smallchat.money import format_usd
from smallchat.repository import MessageRecord

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def escape_dollars(text: str) -> str:
    """Markdown with literal ``$`` signs (Streamlit would otherwise read ``$...$`` as LaTeX)."""
    return text.replace("$", r"\$")


_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+")
# Punctuation that ends a sentence (or a shortened title) rather than the address.
_ADDRESS_TAIL = re.compile(r"[.,;:!?)\]}…]+$")


def escape_markdown(text: str) -> str:
    """Plain text shown through Markdown exactly as typed, line breaks included.

    Web addresses become links whose text is the address as typed: left to Markdown's own
    autolinking, the escapes would end up inside the link's target.
    """
    parts, position = [], 0
    for match in _WEB_ADDRESS.finditer(text):
        address = match.group()
        tail = _ADDRESS_TAIL.search(address)
        if tail:
            address = address[: tail.start()]
        end = match.start() + len(address)
        parts.append(_escape_plain(text[position : match.start()]))
        target = address if address.startswith("http") else f"http://{address}"
        target = target.replace("(", "%28").replace(")", "%29")
        parts.append(f"[{_escape_plain(address)}]({target})")
        position = end
    parts.append(_escape_plain(text[position:]))
    return "".join(parts).replace("\n", "  \n")


def _escape_plain(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def error_text(error: BaseException) -> str:
    """An error's message for a Markdown element, shown exactly as written.

    Messages quote the provider's own words and values the user typed, which may hold
    ``$``, ``*``, ``<tags>`` or links: none of it may be read as Markdown or LaTeX.
    """
    return escape_markdown(str(error))


def reply_caption(message: MessageRecord) -> str:
    """The line under a reply: tokens in / cached / out and the cost, with its caveats."""
    usage = message.usage
    if usage is None:
        return ""
    approx = "~" if message.usage_estimated else ""
    parts = [f"{approx}{usage.prompt:,} in", f"{approx}{usage.cached:,} cached", f"{approx}{usage.completion:,} out"]
    if usage.reasoning:
        parts[-1] += f" (of which {usage.reasoning:,} reasoning)"
    if message.cost is None:
        parts.append(f"cost n/a: no known price for {message.model}")
    else:
        parts.append(format_usd(message.cost) + (" estimated" if message.usage_estimated else ""))
    if message.forecast_cost is not None and message.cost is not None:
        parts.append(f"forecast {format_usd(message.forecast_cost)}")
    if not message.complete:
        parts.append("reply incomplete")
    return escape_dollars(" · ".join(parts))


def format_count(count: int) -> str:
    """A count for a headline: exact below a million, then three significant figures ("73.5B")."""
    if count < 1_000_000:
        return f"{count:,}"
    for size, suffix in ((10**6, "M"), (10**9, "B"), (10**12, "T")):
        # A count, not money: three significant figures through a float are all we show.
        text = f"{count / size:.3g}"
        if "e" not in text:  # "1e+03" means it rounds up into the next unit
            return text + suffix
    return f"{count / 10**12:,.0f}T"
