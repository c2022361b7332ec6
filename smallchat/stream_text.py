"""Streamed text made safe to store and show, whatever the provider put in it."""

from __future__ import annotations

from collections.abc import Sequence

_REPLACEMENT_CHARACTER = "\ufffd"


class TextCleaner:
    """Makes streamed text safe to store and show: secrets masked, lone surrogates and NUL replaced.

    A provider may send a JSON escape such as ``"\\ud800"`` on its own, which Python decodes to
    a lone surrogate that neither SQLite nor a browser accepts; PostgreSQL refuses NUL. Both
    become U+FFFD. A misconfigured proxy may echo the request, API key included, into the
    reply: the key is masked. Text that may continue in the next delta (a high surrogate, the
    start of a key) is held back until it does.
    """

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self._secrets = [secret for secret in secrets if secret and len(secret) >= 4]
        self._pending = ""

    def clean(self, text: str) -> str:
        text = self._mask(self._pending + text)
        hold = self._unfinished_tail(text)
        text, self._pending = text[: len(text) - hold], text[len(text) - hold :]
        return _storable(text)

    def flush(self) -> str:
        """What is still held back once the stream has ended."""
        text, self._pending = self._pending, ""
        return _storable(text)

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _unfinished_tail(self, text: str) -> int:
        """How many trailing characters could be the start of a secret or of a surrogate pair."""
        longest = 1 if text and "\ud800" <= text[-1] <= "\udbff" else 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if secret.startswith(text[-size:]):
                    longest = size
                    break
        return longest


def _storable(text: str) -> str:
    # UTF-16 with surrogatepass joins adjacent high/low surrogates into one character;
    # decoding with "replace" turns every lone one into U+FFFD.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", _REPLACEMENT_CHARACTER)
