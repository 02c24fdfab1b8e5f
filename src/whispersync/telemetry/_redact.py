"""Secret redaction, applied before a record leaves the process.

Two checks, both built to be cheap on the common path:

* key names: a key is split into words (``xiApiKey`` -> ``xi api key``) and is
  secret when a word or an adjacent pair names a secret. The verdict is cached
  per key, so a repeated key costs one dict lookup (~40 ns).
* string values: only strings that contain an assignment, a URL, ``Bearer``
  or a known token prefix are run through the masking regexes.

``input_tokens`` stays visible (``tokens`` is a count); ``token``,
``access_token`` and ``X-Api-Key`` do not.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token",
        "apikey", "authorization", "auth", "cookie", "cookies", "credential",
        "credentials", "privatekey", "webhookurl", "signingkey",
    }
)
_SECRET_PAIRS = frozenset(
    {"apikey", "webhookurl", "privatekey", "accesskey", "secretkey", "signingkey", "clientsecret"}
)

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")

_key_cache: dict[str, bool] = {}
_KEY_CACHE_MAX = 4096


def _classify(key: str) -> bool:
    words = [w for w in _NON_WORD.split(_CAMEL.sub(r"\1_\2", key).lower()) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(a + b in _SECRET_PAIRS for a, b in zip(words, words[1:]))


def is_secret_key(key: Any) -> bool:
    """True when a field named *key* holds a secret."""
    verdict = _key_cache.get(key)
    if verdict is None:
        verdict = _classify(key) if isinstance(key, str) else False
        if len(_key_cache) >= _KEY_CACHE_MAX:
            _key_cache.clear()  # keys are identifiers in code; overflow means junk keys
        _key_cache[key] = verdict
    return verdict


def _maybe_secret(value: str) -> bool:
    """Could *value* hold a secret? Plain prose ("Processing transcript") says no.

    A chain of substring tests costs ~0.15 µs on a short string; one regex with
    the same alternatives costs ~0.5 µs, and this runs on every string field.
    """
    return (
        "=" in value or ":" in value or "earer" in value or "EARER" in value
        or "asic " in value or "ASIC " in value or "xox" in value or "AKIA" in value
        or "sk-" in value or "sk_" in value or ("_" in value and "gh" in value)
    )


# Strings _maybe_secret found plain. The same values recur in every memo's records
# (agent and queue names, a memo's id in its spans and log lines, the correlation
# id in every span): a set lookup (~20 ns) replaces the substring tests (~250 ns).
# The verdict depends on the string alone, so remembering it changes no output;
# secret-shaped strings are never kept. Short strings only, bounded, cleared on
# overflow (unique ids churn it; common values come back at once).
_plain: set[str] = set()
_PLAIN_MAX = 2048
_PLAIN_LEN = 128


def _maybe_secret_unknown(value: str) -> bool:
    """_maybe_secret for a str not in ``_plain``; a plain one is remembered."""
    if _maybe_secret(value):
        return True
    if len(value) <= _PLAIN_LEN:
        if len(_plain) >= _PLAIN_MAX:
            _plain.clear()
        _plain.add(value)
    return False


# Every pattern below runs in time linear in the string: a log line can carry any
# client text (an unknown agent name, a title), and a backtracking regex that
# retries from every position of a long run stalls the process (it holds the GIL).
# So each pattern starts only where a run of its characters starts (a lookbehind),
# and consumes the run possessively: each character is looked at a bounded number
# of times. The masking is the same as matching from any position would give.

# A key holds a secret when its run of key characters contains one of these.
_KEY_CHARS = r"[A-Za-z0-9_.-]"
_KEYWORD = (
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey"
    r"|authorization|cookie|webhook[_-]?url|private[_-]?key|access[_-]?key)"
)
# The whole run of key characters, when it holds a keyword (checked by a lookahead
# that stays inside the run), then the separator: api_key=..., "password": "...".
_ASSIGNMENT = re.compile(
    rf"(?<!{_KEY_CHARS})((?={_KEY_CHARS}*?{_KEYWORD}){_KEY_CHARS}++[\"']?\s*+[=:]\s*+[\"']?)([^\s\"'&,;}}]++)",
    re.I,
)
# scheme://user:password@host. A scheme starts at a word boundary with a letter;
# the run before :// is matched whole and checked for such a start (_SCHEME_START).
_SCHEME_CHARS = r"[a-z0-9+.-]"
_USERINFO = re.compile(rf"(?<!{_SCHEME_CHARS})({_SCHEME_CHARS}++://[^/\s:@]++):[^@\s/]++@", re.I)
_SCHEME_START = re.compile(r"\b[a-z]", re.I)


def _mask_userinfo(m: re.Match[str]) -> str:
    if _SCHEME_START.search(m.string, m.start(), m.start() + m.group(1).index("://")) is None:
        return m.group(0)  # no scheme: "123://..." is not a URL
    return m.group(1) + ":" + MASK + "@"


# Each pattern with the text it cannot match without, for ASCII strings (see redact_string).
_AUTH = re.compile(r"\b(bearer|basic)(\s++)[A-Za-z0-9\-._~+/]++=*+", re.I)
# Slack incoming webhooks carry their secret in the path.
_SLACK = re.compile(r"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]++")
# Well-known token shapes: Slack, GitHub, AWS access key ids, sk- API keys.
_TOKEN = re.compile(r"\b(?:xox[abposr]-[A-Za-z0-9-]{10,}+|gh[pousr]_[A-Za-z0-9]{20,}+"
                    r"|AKIA[0-9A-Z]{16}|sk[-_][A-Za-z0-9_-]{20,}+)")
# Every spelling _KEYWORD allows contains one of these, in lower case.
_KEYWORD_PARTS = ("passw", "pwd", "secret", "token", "api", "authorization", "cookie", "webhook", "private",
                  "access")

_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], Any, Any], ...] = (
    # Authorization: Bearer abc.def / Basic dXNlcjpwYXNz
    (_AUTH, r"\1\2" + MASK, lambda value, low: "bearer" in low or "basic" in low),
    (_SLACK, r"\1" + MASK, lambda value, low: "hooks.slack.com/" in value),
    (_USERINFO, _mask_userinfo, lambda value, low: "://" in value and "@" in value),
    (_ASSIGNMENT, r"\1" + MASK, lambda value, low: any(part in low for part in _KEYWORD_PARTS)),
    (_TOKEN, MASK, lambda value, low: "xox" in value or "gh" in value or "AKIA" in value or "sk" in value),
)


def redact_string(value: str) -> str:
    """Mask secret-shaped parts of a free-text string.

    A pattern runs only on a string holding the text it cannot match without (a
    keyword, "://", a token's prefix): each regex costs ~3-25 µs on a short line and
    grows with its length, and most strings that pass _maybe_secret (an error
    message, a timestamp: a ":") hold none (issue 15). Masking only removes text, so
    it never creates what a later pattern needs. Under re.I a few non-ASCII letters
    match ASCII ones ("ſ" is "s", the Kelvin sign is "k") where lower() keeps them
    apart, so a string that is not ASCII goes through every pattern.
    """
    if not _maybe_secret(value):
        return value
    if not value.isascii():
        return _redact_every_pattern(value)
    low = value.lower()
    for pattern, repl, may_match in _VALUE_PATTERNS:
        if may_match(value, low):
            value = pattern.sub(repl, value)
    return value


def _redact_every_pattern(value: str) -> str:
    for pattern, repl, _ in _VALUE_PATTERNS:
        value = pattern.sub(repl, value)
    return value


def redact_value(value: Any) -> Any:
    """Return *value* with secrets masked; containers are copied, not mutated."""
    kind = type(value)
    if kind is str:
        return redact_string(value)
    if kind is dict or isinstance(value, dict):
        return redact_flat(value)
    if kind is list or kind is tuple:
        return [redact_value(v) for v in value]
    return value


def redact_flat(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of *values* with secrets masked, as :func:`redact_value` gives.

    Built for the common record part, a flat dict of scalars (span annotations,
    metadata): the dict is copied once in C and only what needs masking is
    replaced, where a comprehension would call back into Python for every item.
    """
    return redact_fields(dict(values))


def redact_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Mask secrets in a fresh dict *in place* and return it.

    Only for dicts the caller owns (``**fields`` of a log call): mutating saves
    a copy per log line. Nested containers are copied by :func:`redact_value`.
    """
    cache, plain = _key_cache, _plain
    for key, value in fields.items():
        secret = cache.get(key)
        if secret is None:
            secret = is_secret_key(key)
        if secret:
            fields[key] = MASK
        else:
            kind = type(value)
            if kind is str:
                if value not in plain and _maybe_secret_unknown(value):
                    fields[key] = redact_string(value)
            elif kind is not int and kind is not float and kind is not bool and value is not None:
                fields[key] = redact_value(value)
    return fields
