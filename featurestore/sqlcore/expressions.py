"""Compile sqlglot expression trees into Python closures evaluated per row by the request-mode engine.

A deployed SELECT is parsed once and executed for every request, and window aggregates evaluate their argument
expressions on every window row, so expressions are compiled ahead of time: each sqlglot node becomes a closure
``row -> value`` that captures exactly what it needs (child closures, constants, a type-specialised kernel from
:mod:`featurestore.sqlcore.functions`), with no per-row type dispatch. Column values come from the engine through a
:class:`Scope`, which also computes ``agg(...) OVER w`` calls (the engine owns windows).

Semantics follow OpenMLDB (hybridse):

* NULL propagates through arithmetic, comparisons and strict functions; AND/OR/NOT use three-valued logic.
* Arithmetic promotes int16 < int32 < int64 < float < double (bool counts as an integer). Integer results
  wrap around like C (int32 + int32 stays int32, so 2147483647 + 1 = -2147483648); ``float`` results are
  rounded to float32. ``/`` is always double; ``DIV`` is integer division truncating toward zero; ``%`` keeps
  the dividend's sign. Division or modulo by zero gives NULL. A timestamp behaves as int64 milliseconds, and
  timestamp +/- integer stays a timestamp.
* Integer literals are int32 when they fit, else int64; decimal literals are double.
* Default output names follow OpenMLDB's engine: a column keeps its bare name; ``sum(x) OVER w`` is
  ``sum(x)over w``; other expressions use hybridse's expression text (``c2 + 1``, ``substr(c, 1, 6)``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlglot import exp

from featurestore.sqlcore import functions as F
from featurestore.sqlcore.functions import NULL_TYPE, Aggregate, FunctionError

__all__ = [
    "Compiled",
    "ExpressionError",
    "Scope",
    "compile_aggregate_args",
    "compile_expression",
    "literal_value",
]


class ExpressionError(ValueError):
    """An expression cannot be compiled; the message names the construct and the column or function at fault."""


@dataclass
class Compiled:
    """A compiled expression: ``fn(row)`` evaluates it, ``type`` is its OpenMLDB type, ``name`` its output name."""

    fn: Callable[[Any], Any]
    type: str
    name: str
    #: True when the value does not depend on the row (literals and folded constant sub-expressions).
    constant: bool = False
    #: The value of a constant expression.
    value: Any = None


class Scope(Protocol):
    """What an expression can see: the columns of the current row and the window aggregates."""

    def column(self, table: str | None, name: str) -> tuple[Callable[[Any], Any], str]:
        """Return a getter (row -> value) and the type of a column; raise ExpressionError if unknown/ambiguous."""
        ...

    def window_call(self, node: exp.Window) -> tuple[Callable[[Any], Any], str]:
        """Return a getter and type for an aggregate OVER a window (the engine computes it)."""
        ...


# ---------------------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------------------


def compile_expression(node: exp.Expression, scope: Scope) -> Compiled:
    """Compile ``node`` against ``scope``; the result's type is one of sqlir.TYPES (a bare NULL is a string)."""
    c = _compile(node, scope)
    if c.type == NULL_TYPE:
        c = Compiled(c.fn, "string", c.name, c.constant, c.value)
    return c


def compile_aggregate_args(call: exp.Expression, scope: Scope) -> tuple[Aggregate, list[Compiled]]:
    """For a function call used over a window, return its Aggregate (bound to the argument types) and arguments.

    The engine evaluates each argument on every window row and passes one list per argument (newest row
    first) to ``Aggregate.compute``. ``count(*)`` compiles its single argument to the constant 1.
    """
    if isinstance(call, exp.Window):
        call = call.this
    name, arg_nodes = _call_parts(call)
    if isinstance(call, exp.Count) and isinstance(call.this, exp.Distinct):
        raise ExpressionError("count(DISTINCT ...) is not supported over a window; use distinct_count(...)")
    args: list[Compiled] = []
    for a in arg_nodes:
        if isinstance(a, exp.Star):
            args.append(_const(1, "int32", "*"))
        else:
            args.append(_compile(a, scope))
    try:
        agg = F.aggregate(name)
        types = [("int32" if a.type == NULL_TYPE and i > 0 else a.type) for i, a in enumerate(args)]
        bound = agg.bind(types)
    except FunctionError as e:
        raise ExpressionError(str(e)) from e
    return bound, args


def literal_value(node: exp.Expression) -> tuple[Any, str]:
    """The (python value, type) of a constant expression: literals, negative numbers, timestamp('...')...

    An untyped NULL gives ``(None, "null")``; raises ExpressionError when the expression reads a column.
    """
    c = _compile(node, _NO_COLUMNS)
    if not c.constant:
        raise ExpressionError(f"not a constant expression: {node.sql()}")
    return c.value, c.type


class _NoColumns:
    def column(self, table: str | None, name: str) -> tuple[Callable[[Any], Any], str]:
        raise ExpressionError(f"column {name} cannot be used in a constant expression")

    def window_call(self, node: exp.Window) -> tuple[Callable[[Any], Any], str]:
        raise ExpressionError("a window aggregate cannot be used in a constant expression")


_NO_COLUMNS = _NoColumns()


# ---------------------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------------------


def _compile(node: exp.Expression, scope: Scope) -> Compiled:
    for cls in type(node).__mro__:
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return handler(node, scope)
    raise ExpressionError(f"unsupported expression {type(node).__name__}: {node.sql()}")


def _const(value: Any, type_: str, name: str) -> Compiled:
    return Compiled(lambda row, _v=value: _v, type_, name, True, value)


def _make(fn: Callable[[Any], Any], type_: str, name: str, children: list[Compiled], fold: bool = True) -> Compiled:
    """Wrap a closure, folding it into a constant when every child is constant."""
    if fold and all(c.constant for c in children):
        try:
            value = fn(None)
        except Exception:  # noqa: BLE001 - a failing fold is left for run time, where it fails the same way
            return Compiled(fn, type_, name)
        return _const(value, type_, name)
    return Compiled(fn, type_, name)


def _strict1(kernel: Callable[[Any], Any], f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def fn(row: Any) -> Any:
        v = f(row)
        return None if v is None else kernel(v)

    return fn


def _convert(c: Compiled, conv: Callable[[Any], Any] | None, type_: str) -> Compiled:
    """Apply a value conversion (NULL stays NULL) to a compiled expression."""
    if conv is None:
        if c.type == type_:
            return c
        return Compiled(c.fn, type_, c.name, c.constant, c.value)
    return _make(_strict1(conv, c.fn), type_, c.name, [c])


# ---------------------------------------------------------------------------------------------------------
# Leaves
# ---------------------------------------------------------------------------------------------------------

_BIGINT_LITERAL = re.compile(r"\d+[lL]")


def _column(node: exp.Column, scope: Scope) -> Compiled:
    if isinstance(node.this, exp.Star):
        raise ExpressionError(f"{node.sql()} cannot be used inside an expression")
    name = node.name
    ident = node.this
    if not node.table and isinstance(ident, exp.Identifier) and not ident.quoted and _BIGINT_LITERAL.fullmatch(name):
        # OpenMLDB's bigint literal suffix (1590115420000L) reaches us as a column name from some dialects.
        value = int(name[:-1])
        return _const(value, "int64", str(value))
    getter, type_ = scope.column(node.table or None, name)
    return Compiled(getter, type_, name)


def _int_literal_type(v: int) -> str:
    if -2147483648 <= v <= 2147483647:
        return "int32"
    if -(2**63) <= v <= 2**63 - 1:
        return "int64"
    raise ExpressionError(f"integer literal {v} is out of the int64 range")


def _literal(node: exp.Literal, scope: Scope) -> Compiled:
    text = node.this
    if node.is_string:
        return _const(text, "string", text)
    if re.fullmatch(r"[0-9]+", text):
        v = int(text)
        return _const(v, _int_literal_type(v), str(v))
    try:
        f = float(text)
    except ValueError:
        raise ExpressionError(f"invalid numeric literal {text}") from None
    return _const(f, "double", F.fmt_double(f))


def _boolean(node: exp.Boolean, scope: Scope) -> Compiled:
    v = bool(node.this)
    return _const(v, "bool", "true" if v else "false")


def _null(node: exp.Null, scope: Scope) -> Compiled:
    return _const(None, NULL_TYPE, "null")


def _paren(node: exp.Paren, scope: Scope) -> Compiled:
    return _compile(node.this, scope)


def _alias(node: exp.Alias, scope: Scope) -> Compiled:
    c = _compile(node.this, scope)
    return Compiled(c.fn, c.type, node.alias, c.constant, c.value)


# ---------------------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------------------


def _arith_type(op: str, lt: str, rt: str, sql: str) -> str:
    for t in (lt, rt):
        if t not in ("bool", "timestamp", NULL_TYPE) and not F.is_numeric(t):
            raise ExpressionError(f"operator {op} does not apply to {t} in {sql}")
    if "timestamp" in (lt, rt) and op in ("+", "-"):
        other = rt if lt == "timestamp" else lt
        if other == "timestamp":
            return "timestamp" if op == "+" else "int64"
        if other in F.INT_TYPES or other in ("bool", NULL_TYPE):
            return "timestamp"
    lt = "int64" if lt == "timestamp" else lt
    rt = "int64" if rt == "timestamp" else rt
    return F.promote(lt, rt)


def _post(out: str) -> tuple[int, int, Callable[[Any], Any] | None]:
    """(lo, hi, fixup): integer results outside [lo, hi] go through fixup (wrap); float results always do."""
    if out in F.INT_TYPES or out == "timestamp":
        lo, hi = {"int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}.get(out, (-(2**63), 2**63 - 1))
        return lo, hi, F.wrap_int(out)
    if out == "float":
        return 0, 0, F.to_float32
    return 0, 0, None


def _binop_closure(opf: Callable[[Any, Any], Any], lhs: Compiled, rhs: Compiled, out: str) -> Callable[[Any], Any]:
    """A NULL-propagating closure for + - *, with C overflow wrap (ints) or float32 rounding (float)."""
    lo, hi, fix = _post(out)
    lf, rf = lhs.fn, rhs.fn
    is_int = out in F.INT_TYPES or out == "timestamp"
    if rhs.constant:
        c = rhs.value
        if c is None:
            return lambda row: None
        if is_int:

            def fn(row: Any) -> Any:
                a = lf(row)
                if a is None:
                    return None
                r = opf(a, c)
                return r if lo <= r <= hi else fix(r)

        elif fix is not None:

            def fn(row: Any) -> Any:
                a = lf(row)
                return None if a is None else fix(opf(a, c))

        else:

            def fn(row: Any) -> Any:
                a = lf(row)
                return None if a is None else opf(a, c)

        return fn
    if lhs.constant:
        c = lhs.value
        if c is None:
            return lambda row: None
        if is_int:

            def fn(row: Any) -> Any:
                b = rf(row)
                if b is None:
                    return None
                r = opf(c, b)
                return r if lo <= r <= hi else fix(r)

        elif fix is not None:

            def fn(row: Any) -> Any:
                b = rf(row)
                return None if b is None else fix(opf(c, b))

        else:

            def fn(row: Any) -> Any:
                b = rf(row)
                return None if b is None else opf(c, b)

        return fn
    if is_int:

        def fn(row: Any) -> Any:
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            if b is None:
                return None
            r = opf(a, b)
            return r if lo <= r <= hi else fix(r)

    elif fix is not None:

        def fn(row: Any) -> Any:
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            return None if b is None else fix(opf(a, b))

    else:

        def fn(row: Any) -> Any:
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            return None if b is None else opf(a, b)

    return fn


def _nullable2(kernel: Callable[[Any, Any], Any], lhs: Compiled, rhs: Compiled) -> Callable[[Any], Any]:
    lf, rf = lhs.fn, rhs.fn

    def fn(row: Any) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else kernel(a, b)

    return fn


def _fdiv(a: Any, b: Any) -> float | None:
    # OpenMLDB's "/" always produces a double; dividing by zero gives NULL.
    return None if b == 0 else a / b


def _int_div_kernel(out: str) -> Callable[[Any, Any], Any]:
    wrap = F.wrap_int(out)

    def idiv(a: Any, b: Any) -> int | None:
        if b == 0:
            return None
        a, b = int(a), int(b)
        q = abs(a) // abs(b)  # C truncates toward zero
        return wrap(-q if (a < 0) != (b < 0) else q)

    return idiv


_ARITH = {exp.Add: ("+", operator.add), exp.Sub: ("-", operator.sub), exp.Mul: ("*", operator.mul)}


def _arith(node: exp.Binary, scope: Scope) -> Compiled:
    op, opf = _ARITH[type(node)]
    lhs, rhs = _compile(node.this, scope), _compile(node.expression, scope)
    out = _arith_type(op, lhs.type, rhs.type, node.sql())
    return _make(_binop_closure(opf, lhs, rhs, out), out, _binary_name(op, lhs, rhs, node), [lhs, rhs])


def _div(node: exp.Div, scope: Scope) -> Compiled:
    lhs, rhs = _compile(node.this, scope), _compile(node.expression, scope)
    _arith_type("/", lhs.type, rhs.type, node.sql())
    return _make(_nullable2(_fdiv, lhs, rhs), "double", _binary_name("/", lhs, rhs, node), [lhs, rhs])


def _intdiv(node: exp.IntDiv, scope: Scope) -> Compiled:
    lhs, rhs = _compile(node.this, scope), _compile(node.expression, scope)
    out = _arith_type("DIV", lhs.type, rhs.type, node.sql())
    if out not in F.INT_TYPES:
        out = "int64"  # DIV on floating operands truncates to an integer
    return _make(_nullable2(_int_div_kernel(out), lhs, rhs), out, _binary_name("DIV", lhs, rhs, node), [lhs, rhs])


def _mod(node: exp.Mod, scope: Scope) -> Compiled:
    lhs, rhs = _compile(node.this, scope), _compile(node.expression, scope)
    out = _arith_type("%", lhs.type, rhs.type, node.sql())
    if out == "timestamp":
        out = "int64"
    kernel = F.mod_kernel([out, out])
    return _make(_nullable2(kernel, lhs, rhs), out, _binary_name("%", lhs, rhs, node), [lhs, rhs])


def _neg(node: exp.Neg, scope: Scope) -> Compiled:
    inner = node.this
    if isinstance(inner, exp.Literal) and not inner.is_string:
        # A negative literal is one constant: -2147483648 is an int32, not -(int64 2147483648).
        c = _literal(inner, scope)
        v = -c.value
        t = _int_literal_type(v) if isinstance(v, int) else "double"
        return _const(v, t, str(v) if isinstance(v, int) else F.fmt_double(v))
    c = _compile(inner, scope)
    if c.type not in ("bool", NULL_TYPE, "timestamp") and not F.is_numeric(c.type):
        raise ExpressionError(f"unary minus does not apply to {c.type} in {node.sql()}")
    out = "int32" if c.type == "bool" else ("int64" if c.type == "timestamp" else c.type)
    if out == NULL_TYPE:
        return _const(None, NULL_TYPE, _expr_text(node))
    lo, hi, fix = _post(out)
    f = c.fn
    if out in F.INT_TYPES:

        def neg(row: Any) -> Any:
            v = f(row)
            if v is None:
                return None
            r = -v
            return r if lo <= r <= hi else fix(r)

    else:

        def neg(row: Any) -> Any:
            v = f(row)
            return None if v is None else -v

    return _make(neg, out, _expr_text(node), [c])


def _dpipe(node: exp.DPipe, scope: Scope) -> Compiled:
    return _call("concat", [node.this, node.expression], node, scope)


# ---------------------------------------------------------------------------------------------------------
# Comparisons and logic
# ---------------------------------------------------------------------------------------------------------

_ORDERED_NUMERIC = F.NUMERIC_TYPES | {"bool", "timestamp"}


def _comparison_operands(lhs: Compiled, rhs: Compiled, sql: str) -> tuple[Compiled, Compiled]:
    """Bring both operands to a comparable representation (string literals vs dates, date vs timestamp...)."""
    lt, rt = lhs.type, rhs.type
    if lt == rt or NULL_TYPE in (lt, rt):
        return lhs, rhs
    if lt in _ORDERED_NUMERIC and rt in _ORDERED_NUMERIC:
        return lhs, rhs  # Python compares ints, floats and bools numerically, timestamps are int64 ms
    pair = {lt, rt}
    if pair == {"date", "timestamp"}:
        target = "timestamp"
    elif "string" in pair:
        target = (pair - {"string"}).pop()
        if target in F.INT_TYPES or target in ("float", "bool"):
            target = "double" if target != "bool" else "bool"
    else:
        raise ExpressionError(f"cannot compare {lt} with {rt} in {sql}")
    try:
        lhs2 = _convert(lhs, None if lt == target else F.cast_kernel(lt, target), target)
        rhs2 = _convert(rhs, None if rt == target else F.cast_kernel(rt, target), target)
    except FunctionError as e:
        raise ExpressionError(f"cannot compare {lt} with {rt} in {sql}: {e}") from e
    return lhs2, rhs2


def _compare_closure(opf: Callable[[Any, Any], bool], lhs: Compiled, rhs: Compiled) -> Callable[[Any], Any]:
    lf, rf = lhs.fn, rhs.fn
    if rhs.constant:
        c = rhs.value
        if c is None:
            return lambda row: None

        def fn(row: Any) -> Any:
            a = lf(row)
            return None if a is None else opf(a, c)

        return fn
    if lhs.constant:
        c = lhs.value
        if c is None:
            return lambda row: None

        def fn(row: Any) -> Any:
            b = rf(row)
            return None if b is None else opf(c, b)

        return fn

    def fn(row: Any) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else opf(a, b)

    return fn


def _build_compare(op: str, lhs: Compiled, rhs: Compiled, sql: str, name: str) -> Compiled:
    lhs, rhs = _comparison_operands(lhs, rhs, sql)
    return _make(_compare_closure(_CMP_FUNCS[op], lhs, rhs), "bool", name, [lhs, rhs])


_CMP_FUNCS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_CMP_NODES = {exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}


def _compare(node: exp.Binary, scope: Scope) -> Compiled:
    op = _CMP_NODES[type(node)]
    lhs, rhs = _compile(node.this, scope), _compile(node.expression, scope)
    return _build_compare(op, lhs, rhs, node.sql(), _binary_name(op, lhs, rhs, node))


def _null_safe_eq(node: exp.NullSafeEQ, scope: Scope) -> Compiled:
    lhs, rhs = _comparison_operands(_compile(node.this, scope), _compile(node.expression, scope), node.sql())
    lf, rf = lhs.fn, rhs.fn

    def fn(row: Any) -> bool:
        a, b = lf(row), rf(row)
        if a is None or b is None:
            return a is None and b is None
        return a == b

    return _make(fn, "bool", _binary_name("<=>", lhs, rhs, node), [lhs, rhs])


def _as_bool(c: Compiled, sql: str) -> Compiled:
    """A condition operand as bool: numbers are true when non-zero, as in C."""
    if c.type in ("bool", NULL_TYPE):
        return c
    if c.type in _ORDERED_NUMERIC:
        return _convert(c, lambda v: v != 0, "bool")
    raise ExpressionError(f"a {c.type} value cannot be used as a condition in {sql}")


def _build_and(lhs: Compiled, rhs: Compiled, name: str) -> Compiled:
    lf, rf = lhs.fn, rhs.fn

    def fn(row: Any) -> Any:
        a = lf(row)
        if a is False:
            return False
        b = rf(row)
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True

    return _make(fn, "bool", name, [lhs, rhs])


def _build_or(lhs: Compiled, rhs: Compiled, name: str) -> Compiled:
    lf, rf = lhs.fn, rhs.fn

    def fn(row: Any) -> Any:
        a = lf(row)
        if a is True:
            return True
        b = rf(row)
        if b is True:
            return True
        if a is None or b is None:
            return None
        return False

    return _make(fn, "bool", name, [lhs, rhs])


def _build_not(c: Compiled, name: str) -> Compiled:
    f = c.fn

    def fn(row: Any) -> Any:
        v = f(row)
        return None if v is None else not v

    return _make(fn, "bool", name, [c])


def _logic(node: exp.Binary, scope: Scope) -> Compiled:
    op = {exp.And: "AND", exp.Or: "OR", exp.Xor: "XOR"}[type(node)]
    sql = node.sql()
    lhs, rhs = _as_bool(_compile(node.this, scope), sql), _as_bool(_compile(node.expression, scope), sql)
    name = _binary_name(op, lhs, rhs, node)
    if op == "AND":
        return _build_and(lhs, rhs, name)
    if op == "OR":
        return _build_or(lhs, rhs, name)
    return _make(_nullable2(operator.ne, lhs, rhs), "bool", name, [lhs, rhs])


def _not(node: exp.Not, scope: Scope) -> Compiled:
    inner = _compile(node.this, scope)
    return _build_not(_as_bool(inner, node.sql()), _fallback_name(node))


def _is(node: exp.Is, scope: Scope) -> Compiled:
    c = _compile(node.this, scope)
    f = c.fn
    target = node.expression
    name = _fallback_name(node)
    if isinstance(target, exp.Null):
        return _make(lambda row: f(row) is None, "bool", name, [c])
    if isinstance(target, exp.Boolean):
        want = bool(target.this)
        b = _as_bool(c, node.sql()).fn
        return _make(lambda row: b(row) is want, "bool", name, [c])
    raise ExpressionError(f"unsupported IS test: {node.sql()}")


def _negated(node: exp.Expression, c: Compiled) -> Compiled:
    """Apply the ``negate`` flag some sqlglot predicates carry (``x NOT LIKE y``)."""
    return _build_not(c, _fallback_name(node)) if node.args.get("negate") else c


def _like(node: exp.Expression, scope: Scope, escape_node: exp.Expression | None = None) -> Compiled:
    ignore_case = isinstance(node, exp.ILike)
    target = _compile(node.this, scope)
    pattern = _compile(node.expression, scope)
    for c in (target, pattern):
        if c.type not in ("string", NULL_TYPE):
            raise ExpressionError(f"LIKE needs string operands, got {c.type} in {node.sql()}")
    escape: str | None = "\\"
    if escape_node is not None:
        esc = _compile(escape_node, scope)
        if not esc.constant:
            raise ExpressionError(f"the ESCAPE character must be a constant in {node.sql()}")
        escape = esc.value
        if escape is None:
            return _const(None, "bool", _fallback_name(node))
    tf = target.fn
    name = _fallback_name(node)
    if escape is not None and len(escape) >= 2:
        # hybridse: an escape string of two or more characters is invalid and never matches.
        fn = _strict1(lambda v: False, tf)
    elif pattern.constant:
        if pattern.value is None:
            return _const(None, "bool", name)
        rx = F.like_regex(pattern.value, escape or None, ignore_case)
        if rx is None:
            fn = _strict1(lambda v: False, tf)
        else:
            match = rx.fullmatch

            def fn(row: Any) -> Any:
                v = tf(row)
                return None if v is None else match(v) is not None

    else:
        fn = _nullable2(lambda s, p: F.like_match(s, p, escape, ignore_case), target, pattern)
    return _negated(node, _make(fn, "bool", name, [target, pattern]))


def _like_node(node: exp.Like, scope: Scope) -> Compiled:
    return _like(node, scope)


def _escape(node: exp.Escape, scope: Scope) -> Compiled:
    if not isinstance(node.this, exp.Like | exp.ILike):
        raise ExpressionError(f"unsupported ESCAPE expression: {node.sql()}")
    return _like(node.this, scope, node.expression)


def _comparison_type(types: list[str], sql: str) -> str:
    known = [t for t in types if t != NULL_TYPE]
    if not known:
        return NULL_TYPE
    if all(t in _ORDERED_NUMERIC for t in known):
        return "double" if any(t in F.FLOAT_TYPES for t in known) else "int64"
    non_string = {t for t in known if t != "string"}
    if not non_string:
        return "string"
    if non_string == {"date", "timestamp"} or non_string == {"timestamp"}:
        return "timestamp"
    if len(non_string) == 1:
        t = non_string.pop()
        return "double" if t in F.NUMERIC_TYPES else t
    raise ExpressionError(f"incompatible types {sorted(set(known))} in {sql}")


def _to_comparison(c: Compiled, target: str) -> Compiled:
    if c.type in (target, NULL_TYPE) or (c.type in _ORDERED_NUMERIC and target in _ORDERED_NUMERIC):
        return c
    return _convert(c, F.cast_kernel(c.type, target), target)


def _in(node: exp.In, scope: Scope) -> Compiled:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise ExpressionError(f"IN with a subquery is not supported: {node.sql()}")
    probe = _compile(node.this, scope)
    items = [_compile(e, scope) for e in node.expressions]
    target = _comparison_type([probe.type] + [i.type for i in items], node.sql())
    try:
        probe = _to_comparison(probe, target)
        items = [_to_comparison(i, target) for i in items]
    except FunctionError as e:
        raise ExpressionError(f"{node.sql()}: {e}") from e
    pf = probe.fn
    name = _fallback_name(node)
    if all(i.constant for i in items):
        has_null = any(i.value is None for i in items)
        values = frozenset(i.value for i in items if i.value is not None)
        miss = None if has_null else False

        def fn(row: Any) -> Any:
            v = pf(row)
            if v is None:
                return None
            return True if v in values else miss

    else:
        fns = [i.fn for i in items]

        def fn(row: Any) -> Any:
            v = pf(row)
            if v is None:
                return None
            saw_null = False
            for f in fns:
                x = f(row)
                if x is None:
                    saw_null = True
                elif x == v:
                    return True
            return None if saw_null else False

    return _negated(node, _make(fn, "bool", name, [probe, *items]))


def _between(node: exp.Between, scope: Scope) -> Compiled:
    v = _compile(node.this, scope)
    lo, hi = _compile(node.args["low"], scope), _compile(node.args["high"], scope)
    sql = node.sql()
    ge = _build_compare(">=", v, lo, sql, sql)
    le = _build_compare("<=", v, hi, sql, sql)
    return _negated(node, _build_and(ge, le, _fallback_name(node)))


# ---------------------------------------------------------------------------------------------------------
# CASE / IF / COALESCE / CAST
# ---------------------------------------------------------------------------------------------------------


def _unify_branches(branches: list[Compiled], sql: str) -> tuple[list[Compiled], str]:
    try:
        out = F.unify("CASE", [b.type for b in branches])
    except FunctionError as e:
        raise ExpressionError(f"{e} in {sql}") from e
    return [_convert(b, F.widen_kernel(b.type, out), out) for b in branches], out


def _build_case(conds: list[Compiled], values: list[Compiled], default: Compiled, name: str, sql: str) -> Compiled:
    branches, out = _unify_branches([*values, default], sql)
    pairs = tuple(zip([c.fn for c in conds], [b.fn for b in branches[:-1]], strict=True))
    dflt = branches[-1].fn
    if len(pairs) == 1:
        (cf, vf) = pairs[0]

        def fn(row: Any) -> Any:
            return vf(row) if cf(row) is True else dflt(row)

    else:

        def fn(row: Any) -> Any:
            for cf, vf in pairs:
                if cf(row) is True:
                    return vf(row)
            return dflt(row)

    return _make(fn, out, name, [*conds, *branches])


def _case(node: exp.Case, scope: Scope) -> Compiled:
    sql = node.sql()
    subject = node.this
    conds, values = [], []
    subject_c = _compile(subject, scope) if subject is not None else None
    for branch in node.args.get("ifs") or []:
        when = _compile(branch.this, scope)
        if subject_c is not None:
            when = _build_compare("=", subject_c, when, sql, sql)
        conds.append(_as_bool(when, sql))
        values.append(_compile(branch.args["true"], scope))
    default_node = node.args.get("default")
    default = _compile(default_node, scope) if default_node is not None else _const(None, NULL_TYPE, "null")
    return _build_case(conds, values, default, _fallback_name(node), sql)


def _if(node: exp.If, scope: Scope) -> Compiled:
    sql = node.sql()
    cond = _as_bool(_compile(node.this, scope), sql)
    then = _compile(node.args["true"], scope)
    other = node.args.get("false")
    default = _compile(other, scope) if other is not None else _const(None, NULL_TYPE, "null")
    name = f"if({cond.name}, {then.name}, {default.name})"
    return _build_case([cond], [then], default, name, sql)


_CAST_TYPES = {
    "INT": "int32",
    "UINT": "int32",
    "MEDIUMINT": "int32",
    "BIGINT": "int64",
    "UBIGINT": "int64",
    "SMALLINT": "int16",
    "TINYINT": "int16",
    "USMALLINT": "int16",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DECIMAL": "double",
    "TEXT": "string",
    "VARCHAR": "string",
    "CHAR": "string",
    "NCHAR": "string",
    "NVARCHAR": "string",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "DATETIME": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "TIMESTAMPLTZ": "timestamp",
}


def _cast(node: exp.Cast, scope: Scope) -> Compiled:
    to = node.args["to"]
    target = _CAST_TYPES.get(to.this.name) if isinstance(to, exp.DataType) else None
    if target is None:
        raise ExpressionError(f"unsupported CAST target type {to.sql()} in {node.sql()}")
    c = _compile(node.this, scope)
    try:
        conv = F.cast_kernel(c.type, target)
    except FunctionError as e:
        raise ExpressionError(f"{e} in {node.sql()}") from e
    out = _convert(c, None if c.type == target else conv, target)
    return Compiled(out.fn, out.type, _fallback_name(node), out.constant, out.value)


# ---------------------------------------------------------------------------------------------------------
# Function calls
# ---------------------------------------------------------------------------------------------------------

#: sqlglot node classes that stand for OpenMLDB scalar functions (the original spelling is lost; these are the
#: canonical OpenMLDB names).
_SCALAR_CLASSES = {
    "Substring": "substr",
    "Concat": "concat",
    "ConcatWs": "concat_ws",
    "Abs": "abs",
    "Lower": "lower",
    "Upper": "upper",
    "Length": "char_length",
    "Pow": "pow",
    "Ln": "ln",
    "Log": "log",
    "Exp": "exp",
    "Sqrt": "sqrt",
    "Floor": "floor",
    "Ceil": "ceil",
    "Round": "round",
    "Trunc": "truncate",
    "Hour": "hour",
    "Minute": "minute",
    "Second": "second",
    "Year": "year",
    "Month": "month",
    "Day": "day",
    "DayOfMonth": "dayofmonth",
    "DayOfWeek": "dayofweek",
    "DayOfYear": "dayofyear",
    "WeekOfYear": "weekofyear",
    "Week": "week",
    "Timestamp": "timestamp",
    "Date": "date",
    "TsOrDsToDate": "date",
    "String": "string",
    "Int64": "int64",
    "Replace": "replace",
    "Reverse": "reverse",
    "Sin": "sin",
    "Cos": "cos",
    "Tan": "tan",
    "Asin": "asin",
    "Acos": "acos",
    "Atan": "atan",
    "Atan2": "atan2",
    "Cot": "cot",
    "Degrees": "degrees",
    "Radians": "radians",
    "Chr": "char",
    "Hex": "hex",
    "Unhex": "unhex",
    "LastDay": "last_day",
    "DateDiff": "datediff",
    "AddMonths": "add_months",
    "TimeToStr": "date_format",
    "StrToUnix": "unix_timestamp",
    "RegexpLike": "regexp_like",
    "Nvl2": "nvl2",
    "Coalesce": "ifnull",
}
#: sqlglot node classes that stand for OpenMLDB window aggregates.
_AGGREGATE_CLASSES = {
    "Sum": "sum",
    "Count": "count",
    "Avg": "avg",
    "Min": "min",
    "Max": "max",
    "FirstValue": "first_value",
    "LastValue": "last_value",
    "Lag": "lag",
    "Median": "median",
    "Stddev": "stddev",
    "StddevSamp": "stddev_samp",
    "StddevPop": "stddev_pop",
    "Variance": "variance",
    "VariancePop": "var_pop",
}
_CLASS_NAMES: dict[type, str] = {}
for _table in (_SCALAR_CLASSES, _AGGREGATE_CLASSES):
    for _cls_name, _fn_name in _table.items():
        _cls = getattr(exp, _cls_name, None)
        if _cls is not None:
            _CLASS_NAMES[_cls] = _fn_name
#: Arguments sqlglot fills in on its own (a default format...), which the OpenMLDB call never had.
_IMPLICIT_ARGS = {"StrToUnix": ("format",), "TsOrDsToDate": ("format",), "Week": ("mode",)}


def call_parts(node: exp.Expression) -> tuple[str, list[exp.Expression]]:
    """The OpenMLDB function name and argument nodes of a sqlglot call node (``count(*)``: ``count``, ``[*]``)."""
    return _call_parts(node)


def _call_parts(node: exp.Expression) -> tuple[str, list[exp.Expression]]:
    """The OpenMLDB function name and argument nodes of a sqlglot call node."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), list(node.expressions)
    if isinstance(node, exp.Trim):
        position = (node.args.get("position") or "").upper()
        name = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "trim")
        chars = node.args.get("expression")
        return name, [node.this] + ([chars] if chars is not None else [])
    if not isinstance(node, exp.Func):
        raise ExpressionError(f"not a function call: {node.sql()}")
    name = _CLASS_NAMES.get(type(node)) or node.sql_name().lower()
    skip = _IMPLICIT_ARGS.get(type(node).__name__, ())
    args: list[exp.Expression] = []
    for key in type(node).arg_types:
        if key in skip:
            continue
        value = node.args.get(key)
        if isinstance(value, exp.Expression):
            args.append(value)
        elif isinstance(value, list):
            args.extend(v for v in value if isinstance(v, exp.Expression))
    if name == "ifnull" and len(args) != 2:
        name = "coalesce"
    return name, args


def _func(node: exp.Func, scope: Scope) -> Compiled:
    name, args = _call_parts(node)
    if isinstance(node, exp.AggFunc) or name in F.AGGREGATES and name not in F.SCALARS:
        raise ExpressionError(f"aggregate function {name}() needs an OVER window: {node.sql()}")
    return _call(name, args, node, scope)


def _call(name: str, arg_nodes: list[exp.Expression], node: exp.Expression, scope: Scope) -> Compiled:
    try:
        fn_def = F.scalar(name)
    except FunctionError as e:
        raise ExpressionError(f"{e}: {node.sql()}") from e
    args = [_compile(a, scope) for a in arg_nodes]
    types = [a.type for a in args]
    try:
        out = fn_def.result_type(types)
        kernel = fn_def.bind(types)
    except FunctionError as e:
        raise ExpressionError(f"{e}: {node.sql()}") from e
    fns = [a.fn for a in args]
    call_name = f"{name}({', '.join(_expr_text(n) for n in arg_nodes)})"
    if fn_def.strict:
        fn = _strict_call(kernel, fns)
    else:
        fn = _plain_call(kernel, fns)
    return _make(fn, out, call_name, args, fold=fn_def.deterministic)


def _strict_call(k: Callable[..., Any], fns: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    if len(fns) == 1:
        return _strict1(k, fns[0])
    if len(fns) == 2:
        f0, f1 = fns

        def call2(row: Any) -> Any:
            a = f0(row)
            if a is None:
                return None
            b = f1(row)
            return None if b is None else k(a, b)

        return call2
    if len(fns) == 3:
        f0, f1, f2 = fns

        def call3(row: Any) -> Any:
            a = f0(row)
            if a is None:
                return None
            b = f1(row)
            if b is None:
                return None
            c = f2(row)
            return None if c is None else k(a, b, c)

        return call3
    fs = tuple(fns)

    def calln(row: Any) -> Any:
        vals = [f(row) for f in fs]
        return None if None in vals else k(*vals)

    return calln


def _plain_call(k: Callable[..., Any], fns: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    if len(fns) == 1:
        f0 = fns[0]
        return lambda row: k(f0(row))
    if len(fns) == 2:
        f0, f1 = fns
        return lambda row: k(f0(row), f1(row))
    fs = tuple(fns)
    return lambda row: k(*[f(row) for f in fs])


def _window(node: exp.Window, scope: Scope) -> Compiled:
    getter, type_ = scope.window_call(node)
    return Compiled(getter, type_, _window_name(node))


# ---------------------------------------------------------------------------------------------------------
# Output names (hybridse GetExprString / GenerateExpressionName)
# ---------------------------------------------------------------------------------------------------------

_OP_NAMES = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
    exp.IntDiv: "DIV",
    exp.And: "AND",
    exp.Or: "OR",
    exp.Xor: "XOR",
    **_CMP_NODES,
}


def _expr_text(node: exp.Expression) -> str:
    """hybridse's GetExprString of a (nested) expression: columns keep their qualifier here."""
    if isinstance(node, exp.Paren):
        return f"({_expr_text(node.this)})"  # hybridse keeps brackets as a unary "()" operator
    if isinstance(node, exp.Column):
        parts = [p for p in (node.catalog, node.db, node.table) if p]
        return ".".join([*parts, "*" if isinstance(node.this, exp.Star) else node.name])
    if isinstance(node, exp.Star):
        return "*"
    if isinstance(node, exp.Literal | exp.Boolean | exp.Null) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)
    ):
        try:
            return _compile(node, _NO_COLUMNS).name
        except ExpressionError:
            return node.sql()
    if isinstance(node, exp.Neg):
        return "- " + _expr_text(node.this)
    if isinstance(node, exp.Not) and not isinstance(node.this, exp.Is | exp.In | exp.Between | exp.Like):
        return "NOT " + _expr_text(node.this)
    op = _OP_NAMES.get(type(node))
    if op is not None:
        return f"{_expr_text(node.this)} {op} {_expr_text(node.expression)}"
    if isinstance(node, exp.Window):
        return _window_name(node)
    if isinstance(node, exp.Cast):
        to = node.args.get("to")
        target = _CAST_TYPES.get(to.this.name) if isinstance(to, exp.DataType) else None
        if target is not None:
            return f"{target}({_expr_text(node.this)})"  # hybridse prints CAST(x AS t) as t(x)
        return node.sql()
    if isinstance(node, exp.Func | exp.Trim) and not isinstance(node, exp.Case | exp.If):
        try:
            name, args = _call_parts(node)
        except ExpressionError:
            return node.sql()
        return f"{name}({', '.join(_expr_text(a) for a in args)})"
    return node.sql()


def _binary_name(op: str, lhs: Compiled, rhs: Compiled, node: exp.Binary) -> str:
    """hybridse BinaryExpr::GetExprString: ``lhs OP rhs`` with single spaces."""
    return f"{_expr_text(node.this)} {op} {_expr_text(node.expression)}"


def _fallback_name(node: exp.Expression) -> str:
    return _expr_text(node)


def _window_name(node: exp.Window) -> str:
    call = node.this
    alias = node.args.get("alias")
    wname = alias.name if isinstance(alias, exp.Expression) else (alias or "")
    try:
        name, args = _call_parts(call)
        text = f"{name}({', '.join(_expr_text(a) for a in args)})"
    except ExpressionError:
        text = call.sql()
    if not wname or wname.startswith("__w"):
        # hybridse names an inline (unnamed) OVER (...) window like this.
        return f"{text}over ANONYMOUS_WINDOW "
    return f"{text}over {wname}"


# ---------------------------------------------------------------------------------------------------------
# Handler table
# ---------------------------------------------------------------------------------------------------------

_HANDLERS: dict[type, Callable[[Any, Scope], Compiled]] = {
    exp.Column: _column,
    exp.Literal: _literal,
    exp.Boolean: _boolean,
    exp.Null: _null,
    exp.Paren: _paren,
    exp.Alias: _alias,
    exp.Add: _arith,
    exp.Sub: _arith,
    exp.Mul: _arith,
    exp.Div: _div,
    exp.IntDiv: _intdiv,
    exp.Mod: _mod,
    exp.Neg: _neg,
    exp.DPipe: _dpipe,
    exp.EQ: _compare,
    exp.NEQ: _compare,
    exp.GT: _compare,
    exp.GTE: _compare,
    exp.LT: _compare,
    exp.LTE: _compare,
    exp.NullSafeEQ: _null_safe_eq,
    exp.And: _logic,
    exp.Or: _logic,
    exp.Xor: _logic,
    exp.Not: _not,
    exp.Is: _is,
    exp.Like: _like_node,
    exp.ILike: _like_node,
    exp.Escape: _escape,
    exp.In: _in,
    exp.Between: _between,
    exp.Case: _case,
    exp.If: _if,
    exp.Cast: _cast,
    exp.Window: _window,
    exp.Trim: lambda node, scope: _call(*_call_parts(node), node, scope),
    exp.Func: _func,
}
