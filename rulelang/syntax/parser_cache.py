"""Parser cache: the built LALR tables of the grammar, kept as JSON data in the user's cache folder.

Takes: the grammar text, the lark options and a way to build the parser.
Gives: `cached_parser(grammar, options, build, attach)` -> a `lark.Lark`, loaded from the cache
when a valid cache file is there, else built (and the cache written for the next command).

Building the tables takes about 0.4 s; loading them from the cache about 0.1 s. lark's own cache
is a pickle, and loading a pickle runs whatever code the file names, so a cache file planted by
someone else (a CI cache restored from another branch, a shared home folder) would run code on
the next `loyalty` command. This cache holds only JSON (null, booleans, numbers, strings, lists,
and tagged lists for tuples, sets and dicts): reading it cannot run code. A file is used only when
its key (a hash of the grammar text, the options, the rulelang, lark and Python versions) matches
and the checksum of its data is right; anything else (another version, a truncated or tampered
file, data lark cannot load) is ignored and the parser is built from the grammar.
Set LOYALTY_NO_CACHE=1 to neither read nor write the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from typing import Any, Callable

import lark
from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

__all__ = ["cached_parser", "cache_path", "cache_key"]

FORMAT = "loyalty-parser-cache/1"
MAX_CACHE_BYTES = 8 * 1024 * 1024  # the real file is about 0.5 MB
_RUNTIME_OPTIONS = ("postlex", "lexer_callbacks")  # objects, given again when loading


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("loyalty-rules")
    except Exception:  # running from a checkout
        return "0.1.0"


def cache_key(grammar: str, options: dict[str, Any]) -> str:
    """A hash of everything the tables depend on."""
    plain = {k: v for k, v in options.items() if k not in _RUNTIME_OPTIONS}
    text = "\n".join([FORMAT, grammar, repr(sorted(plain.items())), lark.__version__, _package_version(),
                      repr(sys.version_info[:2])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_folder() -> str | None:
    """The user's own cache folder (never the shared temp folder), or None when unusable."""
    if os.environ.get("LOYALTY_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "loyalty-rules")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
        if not os.access(folder, os.W_OK) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            return None
    except OSError:
        return None
    return folder


def cache_path(folder: str, key: str) -> str:
    return os.path.join(folder, f"grammar-{key[:24]}.json")


# ---------------------------------------------------------------- JSON encoding of lark's data


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"f" if isinstance(value, frozenset) else "s": [_encode(v) for v in sorted(value, key=repr)]}
    if isinstance(value, dict):
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _untag(value: dict) -> Any:
    """Undo `_encode` on one JSON object of the cache, its members already decoded: a tuple, set,
    frozenset or dict (`json.loads`' object_hook: the objects are decoded as they are parsed, inside
    out, without a second walk over the whole data in Python: 0.08 s less per command)."""
    if len(value) == 1:
        (tag, items), = value.items()
        if isinstance(items, list):
            if tag == "t":
                return tuple(items)
            if tag == "s":
                return set(items)
            if tag == "f":
                return frozenset(items)
            if tag == "d" and all(isinstance(kv, list) and len(kv) == 2 for kv in items):
                return {k: v for k, v in items}
    raise ValueError("not a parser cache")


def _checksum(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read(path: str, key: str) -> dict[str, Any] | None:
    """lark's serialized data from a cache file, or None when the file is missing or not valid."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CACHE_BYTES + 1)
        if len(raw) > MAX_CACHE_BYTES:
            return None
        doc = json.loads(raw.decode("utf-8"))
        if not (isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("key") == key):
            return None
        payload = doc.get("payload")
        if not isinstance(payload, str) or doc.get("sha256") != _checksum(payload):
            return None
        data, memo = json.loads(payload, object_hook=_untag)
        return {"data": data, "memo": memo}
    except (OSError, ValueError, TypeError, RecursionError):
        return None


def _write(path: str, key: str, parser: Lark) -> None:
    try:
        data, memo = parser.memo_serialize([TerminalDef, Rule])
        data["options"] = {k: v for k, v in data["options"].items() if k not in _RUNTIME_OPTIONS}
        payload = json.dumps([_encode(data), _encode(memo)], separators=(",", ":"))
        doc = json.dumps({"format": FORMAT, "key": key, "sha256": _checksum(payload), "payload": payload})
        handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".grammar-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(doc)
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
    except (OSError, TypeError, ValueError):
        pass  # no cache this time; the parser works all the same


def cached_parser(grammar: str, options: dict[str, Any], runtime: dict[str, Any]) -> Lark:
    """The parser for `grammar`, from the cache when a valid one is there. `options` are lark's
    options, `runtime` the objects (post-lexer, lexer callbacks) that are given again on loading."""
    folder = cache_folder()
    if folder is not None:
        key = cache_key(grammar, options)
        path = cache_path(folder, key)
        stored = _read(path, key)
        if stored is not None:
            try:
                return Lark.__new__(Lark)._load(stored, **runtime)
            except Exception:  # data lark cannot use: build from the grammar instead
                pass
    parser = Lark(grammar, **options, **runtime)
    if folder is not None:
        _write(path, key, parser)
    return parser
