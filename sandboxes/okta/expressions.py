"""Okta's filter and search expressions: parse, check against a dialect, evaluate.

The language is SCIM's filter syntax as Okta documents it
(https://developer.okta.com/docs/api/#filter, RFC 7644 section 3.4.2.2)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | attribute "pr" | attribute OP value
    OP         := eq | ne | sw | co | gt | ge | lt | le
    value      := "quoted string" | number | true | false | null

Inside a quoted string ``\\"`` stands for ``"`` and ``\\\\`` for ``\\``; any other
backslash is an error. Operators and ``and``/``or``/``not`` are case-insensitive,
attribute names are not. Which attributes and operators an endpoint accepts, and
whether string values compare case-sensitively, is a :class:`Dialect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sandboxes.okta.clock import parse_ts

T = TypeVar("T")
Literal = str | int | float | bool | None


class ExpressionError(ValueError):
    """The expression is malformed or uses something the dialect does not allow."""


class InvalidDateError(ExpressionError):
    """A date attribute was compared with something that is not an ISO 8601 instant."""


@dataclass(frozen=True, slots=True)
class Compare:
    attribute: str
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class Present:
    attribute: str


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


Node = Compare | Present | And | Or | Not

COMPARISON_OPS = frozenset({"eq", "ne", "sw", "co", "gt", "ge", "lt", "le"})
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


# tokens ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "string", "(", ")"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == '"':
            value, i = _read_string(text, i)
            tokens.append(_Token("string", value, i))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1
            tokens.append(_Token("word", text[start:i], start))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 < len(text) and text[i + 1] in '"\\':
                out.append(text[i + 1])
                i += 2
                continue
            raise ExpressionError(f"invalid escape in string at position {i}")
        out.append(ch)
        i += 1
    raise ExpressionError(f"unterminated string starting at position {start}")


# parser ----------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self._expr()
        if self.index != len(self.tokens):
            tok = self.tokens[self.index]
            raise ExpressionError(f"unexpected {tok.text!r} at position {tok.pos}")
        return node

    def _peek_keyword(self, keyword: str) -> bool:
        if self.index >= len(self.tokens):
            return False
        tok = self.tokens[self.index]
        return tok.kind == "word" and tok.text.lower() == keyword

    def _next(self, what: str) -> _Token:
        if self.index >= len(self.tokens):
            raise ExpressionError(f"expected {what} at end of expression")
        tok = self.tokens[self.index]
        self.index += 1
        return tok

    def _expr(self) -> Node:
        node = self._term()
        while self._peek_keyword("or"):
            self.index += 1
            node = Or(node, self._term())
        return node

    def _term(self) -> Node:
        node = self._factor()
        while self._peek_keyword("and"):
            self.index += 1
            node = And(node, self._factor())
        return node

    def _factor(self) -> Node:
        if self._peek_keyword("not"):
            self.index += 1
            return Not(self._factor())
        tok = self._next("an attribute or '('")
        if tok.kind == "(":
            node = self._expr()
            closing = self._next("')'")
            if closing.kind != ")":
                raise ExpressionError(f"expected ')' at position {closing.pos}")
            return node
        if tok.kind != "word" or not _ATTRIBUTE.fullmatch(tok.text):
            raise ExpressionError(f"expected an attribute at position {tok.pos}")
        op_tok = self._next("an operator")
        op = op_tok.text.lower()
        if op_tok.kind == "word" and op == "pr":
            return Present(tok.text)
        if op_tok.kind != "word" or op not in COMPARISON_OPS:
            raise ExpressionError(f"unknown operator {op_tok.text!r} at position {op_tok.pos}")
        return Compare(tok.text, op, self._literal())

    def _literal(self) -> Literal:
        tok = self._next("a value")
        if tok.kind == "string":
            return tok.text
        word = tok.text.lower()
        if tok.kind == "word":
            if word in ("true", "false"):
                return word == "true"
            if word == "null":
                return None
            if _NUMBER.fullmatch(tok.text):
                return float(tok.text) if "." in tok.text else int(tok.text)
        raise ExpressionError(f"expected a value at position {tok.pos}")


def parse(text: str) -> Node:
    """Parse an expression; raises :class:`ExpressionError` when it is malformed."""
    return _Parser(text).parse()


# dialects --------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What one endpoint's ``filter`` or ``search`` parameter accepts.

    ``attributes`` are accepted names; any name starting with one of ``prefixes`` is
    accepted too. ``ops`` maps a name to its operators, ``default_ops`` covers the
    rest. ``date_attributes`` hold instants (compared as such).
    """

    attributes: frozenset[str]
    default_ops: frozenset[str]
    prefixes: tuple[str, ...] = ()
    ops: Mapping[str, frozenset[str]] = field(default_factory=dict)
    date_attributes: frozenset[str] = frozenset()
    allow_not: bool = True
    case_sensitive: bool = False

    def check(self, node: Node) -> None:
        """Raise :class:`ExpressionError` for anything in ``node`` this dialect rejects."""
        if isinstance(node, And | Or):
            self.check(node.left)
            self.check(node.right)
            return
        if isinstance(node, Not):
            if not self.allow_not:
                raise ExpressionError("the 'not' operator isn't supported")
            self.check(node.operand)
            return
        attribute = node.attribute
        if attribute not in self.attributes and not attribute.startswith(self.prefixes):
            raise ExpressionError(f"{attribute} is not a supported property")
        op = "pr" if isinstance(node, Present) else node.op
        allowed = self.ops.get(attribute, self.default_ops)
        if op not in allowed:
            raise ExpressionError(f"the {op!r} operator isn't supported for {attribute}")


# evaluation ------------------------------------------------------------------


class Matcher(Generic[T]):
    """A compiled expression: ``matcher(record)`` tells whether a record matches."""

    def __init__(self, node: Node, dialect: Dialect, resolve: Callable[[T, str], Any]) -> None:
        dialect.check(node)
        self._dialect = dialect
        self._resolve = resolve
        self._test = self._compile(node)

    def __call__(self, record: T) -> bool:
        return self._test(record)

    def _compile(self, node: Node) -> Callable[[T], bool]:
        if isinstance(node, And):
            left, right = self._compile(node.left), self._compile(node.right)
            return lambda r: left(r) and right(r)
        if isinstance(node, Or):
            left, right = self._compile(node.left), self._compile(node.right)
            return lambda r: left(r) or right(r)
        if isinstance(node, Not):
            inner = self._compile(node.operand)
            return lambda r: not inner(r)
        resolve, attribute = self._resolve, node.attribute
        if isinstance(node, Present):
            return lambda r: _present(resolve(r, attribute))
        literal = self._prepare(node)
        case_fold = not self._dialect.case_sensitive
        op = node.op
        return lambda r: _matches(resolve(r, attribute), op, literal, case_fold)

    def _prepare(self, node: Compare) -> Literal | datetime:
        if node.attribute in self._dialect.date_attributes and node.value is not None:
            try:
                return parse_ts(str(node.value))
            except ValueError:
                raise InvalidDateError(f"{node.value!r} is not a date") from None
        if isinstance(node.value, str) and not self._dialect.case_sensitive:
            return node.value.lower()
        return node.value


def compile_expression(text: str, dialect: Dialect, resolve: Callable[[T, str], Any]) -> Matcher[T]:
    """Parse ``text`` and check it against ``dialect``; ``resolve(record, name)`` reads values."""
    return Matcher(parse(text), dialect, resolve)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _matches(value: Any, op: str, literal: Any, case_fold: bool) -> bool:
    if isinstance(value, list):
        return any(_matches(item, op, literal, case_fold) for item in value)
    if value is None or literal is None:
        both_null = value is None and literal is None
        return {"eq": both_null, "ne": not both_null}.get(op, False)
    if isinstance(literal, datetime):
        return isinstance(value, datetime) and _order(value, op, literal)
    if isinstance(value, bool) or isinstance(literal, bool):
        same = type(value) is type(literal) and value == literal
        return {"eq": same, "ne": not same}.get(op, False)
    if isinstance(value, str) and isinstance(literal, str):
        text = value.lower() if case_fold else value
        if op == "sw":
            return text.startswith(literal)
        if op == "co":
            return literal in text
        return _order(text, op, literal)
    if isinstance(value, int | float) and isinstance(literal, int | float):
        return _order(value, op, literal)
    return op == "ne"


def _order(value: Any, op: str, literal: Any) -> bool:
    if op == "eq":
        return bool(value == literal)
    if op == "ne":
        return bool(value != literal)
    if op == "gt":
        return bool(value > literal)
    if op == "ge":
        return bool(value >= literal)
    if op == "lt":
        return bool(value < literal)
    if op == "le":
        return bool(value <= literal)
    return False
