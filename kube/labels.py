"""Label selectors: the string form of `?labelSelector=` and the structured form in specs.

The string form is parsed as apimachinery's `labels.Parse` does it (same lexer, grammar, validation and error
messages), so a selector Kubernetes refuses is refused here with the words a Kubernetes user knows:

    <selector>    ::= <requirement> | <requirement> "," <selector>
    <requirement> ::= [!] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]

KEY is a qualified name (an optional DNS-subdomain prefix and "/", then at most 63 characters of
`[A-Za-z0-9_.-]` starting and ending alphanumeric); VALUE is empty or such a name. Requirements are sorted by key.
One deliberate difference: Go's lexer takes a NUL byte for the end of the string (so "\\x00anything" selects
everything); here NUL is an ordinary character, and so an invalid one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Requirement", "Selector", "from_label_selector", "go_quote", "is_dns1123_subdomain", "is_qualified_name",
    "is_valid_label_value", "matches", "parse",
]

# ---------------------------------------------------------------- apimachinery's util/validation, as text

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character")
_LABEL_KEY_RE = re.compile(f"^{_LABEL_KEY_FMT}$")
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                          "'.', and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}'," for e in examples)
    return f"{msg} (e.g. {shown} regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def _byte_len(value: str) -> int:
    """Go measures strings in UTF-8 bytes."""
    return len(value.encode("utf-8", "surrogatepass"))


def _fullmatch(pattern: re.Pattern[str], value: str) -> bool:
    # `$` in Python also matches before a final "\n"; Go's does not.
    return "\n" not in value and pattern.match(value) is not None


def is_dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain: the error strings, [] when valid."""
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if not _fullmatch(_DNS1123_SUBDOMAIN_RE, value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName (a label key): `[prefix/]name`; the error strings, [] when valid."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {m}" for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a valid label key " + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append(f"name part {_max_len_error(63)}")
    if not _fullmatch(_LABEL_KEY_RE, name):
        errs.append("name part " + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """IsValidLabelValue: the error strings, [] when valid."""
    errs = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if not _fullmatch(_LABEL_VALUE_RE, value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(value: str) -> str:
    """Go's `%q` (strconv.Quote), so messages quote values as Kubernetes' do."""
    out = []
    for ch in value:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _invalid(path: str, value: Any, detail: str) -> str:
    """A field.Invalid error as text: `path: Invalid value: "v": detail`."""
    if isinstance(value, str):
        shown = go_quote(value)
    else:  # Go marshals other values as JSON, HTML-escaped
        shown = json.dumps(list(value), separators=(",", ":"), ensure_ascii=False)
        for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                        ("\u2029", "\\u2029")):
            shown = shown.replace(ch, esc)
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(errs: list[str]) -> str:
    unique = list(dict.fromkeys(errs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------- requirements and selectors


_INT64 = re.compile(r"[+-]?[0-9]+")


def _int64(text: str | None) -> int | None:
    """strconv.ParseInt(text, 10, 64), None when Go would refuse it (no spaces, underscores or other digits)."""
    if text is None or not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Equals, NotEquals, Gt, Lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator in ("In", "Equals"):
            return present and value in self.values
        if self.operator in ("NotIn", "NotEquals"):
            return not present or value not in self.values
        if self.operator in ("Gt", "Lt"):
            number = _int64(value) if present else None
            bound = _int64(self.values[0]) if len(self.values) == 1 else None
            if number is None or bound is None:
                return False
            return number > bound if self.operator == "Gt" else number < bound
        raise ValueError(f"unknown operator {self.operator}")

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        if self.operator in ("In", "NotIn"):
            return f"{self.key} {self.operator.lower()} ({','.join(sorted(self.values))})"
        op = {"Equals": "=", "NotEquals": "!=", "Gt": ">", "Lt": "<"}[self.operator]
        return f"{self.key}{op}{self.values[0] if self.values else ''}"


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _new_requirement(key: str, operator: str, values: Iterable[str]) -> Requirement:
    """NewRequirement: check the values against the operator and as label values (the key is checked already)."""
    vals = list(values)
    errs: list[str] = []
    if operator in ("In", "NotIn") and not vals:
        errs.append(_invalid("values", vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in ("Equals", "NotEquals") and len(vals) != 1:
        errs.append(_invalid("values", vals, "exact-match compatibility requires one single value"))
    elif operator in ("Gt", "Lt"):
        if len(vals) != 1:
            errs.append(_invalid("values", vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
        errs += [_invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                 for i, v in enumerate(vals) if _int64(v) is None]
    for i, v in enumerate(vals):
        if problems := is_valid_label_value(v):
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(problems)))
    if errs:
        raise ValueError(_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


# Lexer: the same tokens as apimachinery's (keywords `in`/`notin` are identifiers where a value is expected).
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_SYMBOLS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")
_ID, _END, _ERROR = "identifier", "end of string", "error"


def _lex(text: str) -> list[tuple[str, str]]:
    """(token, literal) pairs; token is a symbol, "in"/"notin", _ID, _ERROR, and finally _END."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            items.append((_END, ""))
            return items
        if text[i] in _SPECIAL:
            j = i
            while j < n and text[j] in _SPECIAL:
                j += 1
            run = text[i:j]
            # Longest prefix of the run of special characters that is an operator, as Go's scanSpecialSymbol.
            best = ""
            for k in range(1, len(run) + 1):
                if run[:k] in _SYMBOLS:
                    best = run[:k]
                elif best:
                    break
            if not best:
                items.append((_ERROR, f"error expected: keyword found '{run}'"))
                i = j
            else:
                items.append((best, best))
                i += len(best)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
            j += 1
        word = text[i:j]
        items.append((word if word in ("in", "notin") else _ID, word))
        i = j


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _token(self, values: bool, advance: bool) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if advance:
            self.pos += 1
        if values and tok in ("in", "notin"):
            tok = _ID
        return tok, lit

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        return self._token(values, advance=False)

    def consume(self, values: bool = True) -> tuple[str, str]:
        return self._token(values, advance=True)

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok == _END:
                return requirements
            if tok not in (_ID, "!"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except ValueError as exc:
                raise ValueError(f"unable to parse requirement: {exc}") from None
            tok, lit = self.consume()
            if tok == _END:
                return requirements
            if tok != ",":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.lookahead()
            if tok not in (_ID, "!"):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = None
        tok, lit = self.consume()
        if tok == "!":
            operator = "DoesNotExist"
            tok, lit = self.consume()
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        key = lit
        if problems := is_qualified_name(key):
            raise ValueError(_invalid("<nil>", key, "; ".join(problems)))
        if operator == "DoesNotExist" or self.lookahead()[0] in (_END, ","):
            # `!key` takes no operator: in "!a=b" the "=" is then refused where a "," was expected.
            return _new_requirement(key, operator or "Exists", [])
        tok, lit = self.consume(values=False)
        ops = {"in": "In", "notin": "NotIn", "=": "Equals", "==": "Equals", "!=": "NotEquals", ">": "Gt", "<": "Lt"}
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        operator = ops[tok]
        values = self.value_set() if operator in ("In", "NotIn") else self.exact_value()
        return _new_requirement(key, operator, sorted(values))

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, ","):
            found = self.identifiers()
            if self.consume()[0] != ")":
                raise ValueError(f"found '{lit}', expected: ')'")
            return found
        if tok == ")":
            self.consume()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                found.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == ",":
                    continue
                if tok2 == ")":
                    return found
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == ",":
                if not found:
                    found.add("")  # "(,"
                tok2, _ = self.lookahead()
                if tok2 == ")":
                    found.add("")  # ",)"
                    return found
                if tok2 == ",":
                    self.consume()
                    found.add("")  # ",,"
                continue
            raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_END, ","):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def parse(text: str | None) -> Selector:
    """Parse `?labelSelector=` as Kubernetes does; ValueError with Kubernetes' message when it is invalid."""
    if not text:
        return Selector()
    requirements = _Parser(text).parse()
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """The structured `{matchLabels, matchExpressions}` form. None or {} selects everything."""
    if not selector:
        return Selector()
    reqs = [Requirement(k, "Equals", (v,)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], expr["operator"], tuple(expr.get("values") or ())))
    return Selector(tuple(reqs))


def matches(text: str | None, labels: Mapping[str, str] | None) -> bool:
    return parse(text).matches(labels)
