"""OpenMLDB's SQL dialect, parsed with sqlglot and translated into ``featurestore.sqlcore.sqlir`` statements.

OpenMLDB speaks a MySQL-flavoured SQL with feature-engineering extensions: ``LAST JOIN`` (join the latest
matching row), window specs with ``UNION`` sources, ``ROWS_RANGE`` frames measured in time (``3d``, ``10m``),
``MAXSIZE`` / ``EXCLUDE CURRENT_ROW`` / ``EXCLUDE CURRENT_TIME`` / ``INSTANCE_NOT_IN_WINDOW`` attributes,
``INDEX(KEY=..., TS=..., TTL=...)`` table elements, ``DEPLOY name SELECT ...`` and a trailing
``CONFIG (execute_mode = 'request', values = (...))`` on queries.

Parsing happens in two steps:

1. ``OpenMLDB`` is a sqlglot ``Dialect`` whose tokenizer and parser override only what differs from sqlglot's
   base grammar; the extensions above become a few small custom nodes (``WindowDefinition``,
   ``FrameBoundary``, ``LastJoinClause``, ``IndexDefinition``, ``DeployStatement``), everything else is
   sqlglot's own tree. Every function call stays an ``exp.Anonymous`` with its lower-case name (``sum``,
   ``count_where``, ``topn_frequency``...): OpenMLDB has hundreds of UDFs whose semantics differ from
   sqlglot's typed functions, so the engine dispatches on names rather than on sqlglot classes.
2. ``_Translator`` walks those trees into the ``sqlir`` dataclasses, validating what sqlglot's grammar is
   more permissive about (one ORDER BY column per window, no FOLLOWING, units only in ROWS_RANGE...) and
   converting units: frame offsets to milliseconds, TTLs to minutes (absolute) and rows (latest).
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import TokenType

from featurestore.limits import WINDOW_OFFSET_MAX
from featurestore.sqlcore import sqlir


class SqlError(ValueError):
    """Raised for syntax errors and unsupported statements; the message names what is wrong / unsupported."""


# Time units of interval literals (``10m``, ``3d``), in milliseconds.
UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

# OpenMLDB column types by sqlglot's parsed type (``string``, ``int64``... are sqlglot keywords already).
_COLUMN_TYPES = {
    exp.DType.BOOLEAN: "bool",
    exp.DType.SMALLINT: "int16",
    exp.DType.INT: "int32",
    exp.DType.BIGINT: "int64",
    exp.DType.FLOAT: "float",
    exp.DType.DOUBLE: "double",
    exp.DType.TEXT: "string",
    exp.DType.VARCHAR: "string",
    exp.DType.DATE: "date",
    exp.DType.TIMESTAMP: "timestamp",
}
_TTL_TYPES = ("absolute", "latest", "absandlat", "absorlat")

# First words after which the second word is needed to name an unsupported statement ("CREATE INDEX").
_TWO_WORD_STATEMENTS = {"ALTER", "CREATE", "DROP", "LOAD", "SHOW", "STOP", "TRUNCATE"}
_SUPPORTED = {"CREATE": {"DATABASE", "TABLE"}, "DROP": {"DATABASE", "TABLE"}}
# Statements left to sqlglot's own parser (with the overrides below), by first word.
_PLAIN_STATEMENTS = {"USE", "DESC", "DESCRIBE", "SET", "INSERT", "SELECT", "("}


# --- custom tree nodes for OpenMLDB's extensions -------------------------------------------------------------


class FrameBoundary(exp.Expression):
    """``UNBOUNDED PRECEDING`` | ``<offset> [OPEN] PRECEDING`` | ``CURRENT ROW``; offset is a number or Interval."""

    arg_types = {"this": True, "offset": False, "open": False}  # this: unbounded | preceding | current_row


class WindowDefinition(exp.Expression):
    """A window spec, named (``WINDOW w AS (...)``, ``this`` = name) or inline (``OVER (...)``)."""

    arg_types = {
        "this": False,
        "union": False,
        "partition_by": False,
        "order": False,
        "kind": True,  # rows | rows_range
        "start": True,
        "end": True,
        "maxsize": False,
        "exclude_current_row": False,
        "exclude_current_time": False,
        "instance_not_in_window": False,
    }


class LastJoinClause(exp.Expression):
    """``LAST JOIN <table or subquery> [ORDER BY col] ON cond``."""

    arg_types = {"this": True, "order": False, "on": True}


class IndexDefinition(exp.Expression):
    """``INDEX [name] (KEY=..., TS=..., TTL=..., TTL_TYPE=...)`` inside CREATE TABLE; options are exp.Property."""

    arg_types = {"this": False, "expressions": True}


class LoadDataStatement(exp.Expression):
    """``LOAD DATA INFILE 'path' INTO TABLE [db.]t [OPTIONS(...)]``."""

    arg_types = {"this": True, "path": True, "options": False}


class SelectIntoStatement(exp.Expression):
    """``<select> INTO OUTFILE 'path' [OPTIONS(...)]``, with the SELECT's text in ``sql``."""

    arg_types = {"this": True, "path": True, "options": False, "sql": True}


class StopJobStatement(exp.Expression):
    """``STOP JOB <id>``."""

    arg_types = {"this": True}


class ExecuteDeploymentStatement(exp.Expression):
    """``EXECUTE DEPLOYMENT [db.]name [LIMIT n] [INTO OUTFILE 'path' [OPTIONS(...)]]`` (an extension)."""

    arg_types = {"this": True, "limit": False, "path": False, "options": False}


class CreateProcedureStatement(exp.Expression):
    """``CREATE PROCEDURE name (params) BEGIN <select> END``; params are exp.ColumnDef, ``const`` ones marked."""

    arg_types = {"this": True, "params": True, "expression": True, "sql": True}


class DeployStatement(exp.Expression):
    """``DEPLOY [IF NOT EXISTS] name [OPTIONS(...)] <select>``, with the SELECT's original text in ``sql``."""

    arg_types = {"this": True, "exists": False, "options": False, "expression": True, "sql": True}


# --- the dialect -----------------------------------------------------------------------------------------------


class OpenMLDB(Dialect):
    """sqlglot dialect for OpenMLDB SQL."""

    # Identifiers are case-sensitive in OpenMLDB; keywords are not (sqlglot matches keywords case-insensitively).
    NORMALIZATION_STRATEGY = NormalizationStrategy.CASE_SENSITIVE
    NORMALIZE_FUNCTIONS = False  # generate function names as parsed (lower case)

    class Tokenizer(tokens.Tokenizer):
        # "double quotes" are string literals, not identifiers; only backquotes quote identifiers.
        QUOTES = ["'", '"']
        IDENTIFIERS = ["`"]
        STRING_ESCAPES = ["\\", "'"]
        # sqlglot swallows everything after a command keyword into one string; SHOW has a grammar here.
        COMMANDS = tokens.Tokenizer.COMMANDS - {TokenType.SHOW, TokenType.EXECUTE}

    class Parser(parser.Parser):
        # No builders for known functions: every call is parsed as exp.Anonymous (see the module docstring).
        FUNCTIONS: dict = {}
        FUNCTION_PARSERS = {"CAST": parser.Parser.FUNCTION_PARSERS["CAST"]}

        # INDEX(...) is a table element; OPTIONS(...) follows the column list.
        CONSTRAINT_PARSERS = {**parser.Parser.CONSTRAINT_PARSERS, "INDEX": lambda self: self._parse_index_definition()}
        SCHEMA_UNNAMED_CONSTRAINTS = {*parser.Parser.SCHEMA_UNNAMED_CONSTRAINTS, "INDEX"}
        PROPERTY_PARSERS = {**parser.Parser.PROPERTY_PARSERS, "OPTIONS": lambda self: self._parse_options()}

        def _parse_statement(self) -> exp.Expr | None:
            if not self._curr:
                return None
            first = self._curr.text.upper()
            second = self._next.text.upper() if self._next else ""
            if first == "DEPLOY":
                self._advance()
                return self._parse_deploy()
            if first == "SHOW":
                self._advance()
                return self._parse_show_statement()
            if first == "LOAD" and second == "DATA":
                self._advance(2)
                return self._parse_load_data()
            if first == "STOP" and second == "JOB":
                self._advance(2)
                return self.expression(StopJobStatement(this=self._parse_job_id()))
            if first == "EXECUTE" and second == "DEPLOYMENT":
                self._advance(2)
                return self._parse_execute_deployment()
            if first == "DROP" and second in ("DEPLOYMENT", "PROCEDURE"):
                self._advance(2)
                exists = self._parse_exists()
                return self.expression(exp.Drop(tables=[self._parse_table_parts()], kind=second, exists=exists))
            if first == "CREATE" and second == "PROCEDURE":
                self._advance(2)
                return self._parse_create_procedure()
            supported = second in _SUPPORTED[first] if first in _SUPPORTED else first in _PLAIN_STATEMENTS
            if not supported:
                name = f"{first} {second}" if first in _TWO_WORD_STATEMENTS and second else first
                raise SqlError(f"unsupported statement: {name}")
            start = self._curr
            statement = super()._parse_statement()
            if self._curr and self._curr.token_type == TokenType.INTO:
                if not isinstance(statement, (exp.Select, exp.Subquery)):
                    raise SqlError("unsupported statement: INTO OUTFILE after a statement that is not a SELECT")
                sql = self._find_sql(start, self._prev)
                self._advance()
                if not self._match_text_seq("OUTFILE"):
                    raise SqlError("unsupported statement: SELECT INTO (only SELECT ... INTO OUTFILE 'path')")
                path = self._parse_path_string("INTO OUTFILE")
                options = self._parse_options() if self._match_text_seq("OPTIONS") else []
                return self.expression(SelectIntoStatement(this=statement, path=path, options=options, sql=sql))
            return statement

        def _parse_path_string(self, after: str) -> exp.Literal:
            if not self._match(TokenType.STRING):
                self.raise_error(f"Expected a quoted file path after {after}")
            return exp.Literal.string(self._prev.text)

        def _parse_load_data(self) -> LoadDataStatement:
            if not self._match_text_seq("INFILE"):
                self.raise_error("Expected INFILE after LOAD DATA")
            path = self._parse_path_string("LOAD DATA INFILE")
            if not self._match(TokenType.INTO) or not self._match(TokenType.TABLE):
                self.raise_error("Expected INTO TABLE <table> after the file path")
            if self._match(TokenType.STRING):  # upstream's grammar also takes the table name as a string
                table = exp.to_table(self._prev.text)
            else:
                table = self._parse_table_parts()
            options = self._parse_options() if self._match_text_seq("OPTIONS") else []
            return self.expression(LoadDataStatement(this=table, path=path, options=options))

        def _parse_execute_deployment(self) -> ExecuteDeploymentStatement:
            name = self._parse_table_parts()
            limit = None
            if self._match(TokenType.LIMIT):
                if not self._match(TokenType.NUMBER):
                    self.raise_error("Expected a number after LIMIT")
                limit = exp.Literal.number(self._prev.text)
            path = options = None
            if self._match(TokenType.INTO):
                if not self._match_text_seq("OUTFILE"):
                    self.raise_error("Expected OUTFILE after INTO")
                path = self._parse_path_string("INTO OUTFILE")
                options = self._parse_options() if self._match_text_seq("OPTIONS") else []
            return self.expression(ExecuteDeploymentStatement(this=name, limit=limit, path=path, options=options))

        def _parse_job_id(self) -> exp.Expr:
            if not self._curr or self._curr.token_type == TokenType.SEMICOLON:
                self.raise_error("Expected a job id")
            self._advance()
            return exp.Literal.string(self._prev.text)

        def _parse_as_command(self, start: Any) -> exp.Command:
            # sqlglot falls back to an opaque Command for syntax it does not model (CREATE TABLE ... LIKE ...).
            while self._curr:
                self._advance()
            raise SqlError(f"unsupported statement: {self._find_sql(start, self._prev)[:80]}")

        def _parse_set(self, unset: bool = False, tag: bool = False) -> exp.Expr:
            # SET [GLOBAL|SESSION] name = v | SET @@[global.|session.]name = v (sqlglot reads @@x as nested params)
            scope = "session"
            if self._match(TokenType.PARAMETER):
                if not self._match(TokenType.PARAMETER):
                    self.raise_error("Expected @@ before a system variable (user variables are not supported)")
                if self._curr.text.upper() in ("GLOBAL", "SESSION") and self._next.token_type == TokenType.DOT:
                    scope = self._curr.text.lower()
                    self._advance(2)
            elif self._match_texts(("GLOBAL", "SESSION")):
                scope = self._prev.text.lower()
            name = self._parse_var(any_token=True)
            if not self._match(TokenType.EQ):
                self.raise_error("Expected = in SET")
            item = exp.SetItem(this=exp.EQ(this=name, expression=self._parse_disjunction()), kind=scope)
            return self.expression(item)

        def _parse_show_statement(self) -> exp.Expr:
            if self._match_text_seq("DATABASES"):
                return exp.Show(this="databases")
            if self._match_text_seq("TABLES"):
                db = self._parse_id_var(any_token=False) if self._match_set((TokenType.FROM, TokenType.IN)) else None
                return exp.Show(this="tables", db=db)
            if self._match_text_seq("DEPLOYMENTS"):
                return exp.Show(this="deployments")
            if self._match_text_seq("DEPLOYMENT"):
                return exp.Show(this="deployment", target=self._parse_table_parts())
            if self._match_text_seq("TABLE", "STATUS"):
                return exp.Show(this="table_status")
            if self._match_text_seq("JOBS"):
                component = None
                if self._match(TokenType.FROM):
                    if not self._match_texts(("TASKMANAGER", "NAMESERVER")):
                        self.raise_error("Expected TASKMANAGER or NAMESERVER after SHOW JOBS FROM")
                    component = self._prev.text.lower()
                like = None
                if self._match(TokenType.LIKE):
                    like = self._parse_path_string("LIKE")
                return exp.Show(this="jobs", target=like, scope=component)
            if self._match_text_seq("JOBLOG"):
                return exp.Show(this="joblog", target=self._parse_job_id())
            if self._match_text_seq("JOB"):
                return exp.Show(this="job", target=self._parse_job_id())
            scope = self._prev.text.lower() if self._match_texts(("GLOBAL", "SESSION")) else None
            if self._match_text_seq("VARIABLES"):
                return exp.Show(this="variables", scope=scope)
            raise SqlError(f"unsupported statement: SHOW {self._curr.text.upper() if self._curr else ''}".rstrip())

        def _parse_deploy(self) -> DeployStatement:
            exists = self._parse_exists(not_=True)
            name = self._parse_table_parts()
            options = self._parse_options() if self._match_text_seq("OPTIONS") else []
            start = self._curr
            if start.token_type not in (TokenType.SELECT, TokenType.L_PAREN):
                self.raise_error("Expected SELECT after DEPLOY <name>")
            select = super()._parse_statement()
            # The deployment keeps the query exactly as written, from SELECT to the statement's last token.
            sql = self._find_sql(start, self._prev)
            return self.expression(
                DeployStatement(this=name, exists=exists, options=options, expression=select, sql=sql)
            )

        def _parse_create_procedure(self) -> CreateProcedureStatement:
            first = self._parse_id_var(any_token=False)
            if first is None:
                self.raise_error("Expected the procedure's name")
            if self._match(TokenType.DOT):
                name = exp.Table(this=self._parse_id_var(any_token=False), db=first)
            else:
                name = exp.Table(this=first)

            def param() -> exp.Expr:
                const = self._match_text_seq("CONST")
                column = self._parse_column_def(self._parse_id_var(any_token=False))
                if not isinstance(column, exp.ColumnDef):
                    self.raise_error("Expected a parameter: [const] name type")
                column.set("constraints", [exp.ColumnConstraint(kind=exp.var("CONST"))] if const else [])
                return column

            params = self._parse_wrapped_csv(param)
            if not self._match_text_seq("BEGIN"):
                self.raise_error("Expected BEGIN <select> END after the procedure's parameters")
            start = self._curr
            if start is None or start.token_type not in (TokenType.SELECT, TokenType.L_PAREN):
                self.raise_error("Expected SELECT after BEGIN")
            select = super()._parse_statement()
            sql = self._find_sql(start, self._prev)
            self._match_text_seq("END")  # "; END" is dropped before parsing (_procedure_bodies)
            if self._curr and self._curr.token_type not in (TokenType.SENTINEL, TokenType.SEMICOLON):
                self.raise_error("Expected END after the procedure's SELECT")
            return self.expression(CreateProcedureStatement(this=name, params=params, expression=select, sql=sql))

        def _parse_options(self) -> list[exp.Expr]:
            """``(key = value, ...)`` as exp.Property nodes; keys may be keywords (``values``, ``key``...)."""

            def entry() -> exp.Expr:
                if self._curr.token_type in (TokenType.R_PAREN, TokenType.COMMA, TokenType.SENTINEL):
                    self.raise_error("Expected an option name")
                self._advance()
                key = exp.var(self._prev.text)
                if not self._match(TokenType.EQ):
                    self.raise_error(f"Expected = after option {key.name}")
                return self.expression(exp.Property(this=key, value=self._parse_disjunction()))

            return self._parse_wrapped_csv(entry)

        def _parse_index_definition(self) -> IndexDefinition:
            name = None if self._match(TokenType.L_PAREN, advance=False) else self._parse_id_var(any_token=False)

            def entry() -> exp.Expr:
                self._advance()
                key = self._prev.text.upper()
                if not self._match(TokenType.EQ):
                    self.raise_error(f"Expected = after index option {key}")
                value = self._parse_ttl_value() if key == "TTL" else self._parse_disjunction()
                return self.expression(exp.Property(this=exp.var(key), value=value))

            return self.expression(IndexDefinition(this=name, expressions=self._parse_wrapped_csv(entry)))

        def _parse_ttl_value(self) -> exp.Expr:
            if self._match(TokenType.L_PAREN):
                values = self._parse_csv(self._parse_duration)
                self._match_r_paren()
                return exp.Tuple(expressions=values)
            return self._parse_duration()

        def _parse_duration(self) -> exp.Expr:
            """A number, or an interval literal like ``10m`` (sqlglot tokenizes it as NUMBER + adjacent VAR)."""
            if not self._match(TokenType.NUMBER):
                self.raise_error("Expected a number or an interval such as 10s, 5m, 3h, 1d")
            number = exp.Literal.number(self._prev.text)
            if self._curr.token_type == TokenType.VAR and self._is_connected():
                unit = self._curr.text.lower()
                if unit not in UNIT_MS:
                    raise SqlError(f"invalid time unit in {self._prev.text}{self._curr.text}: use s, m, h or d")
                self._advance()
                return exp.Interval(this=number, unit=exp.var(unit))
            return number

        # --- SELECT extensions ---

        def _parse_table_alias(self, alias_tokens: Any = None) -> exp.TableAlias | None:
            # Keep "t1 LAST JOIN", "t1 CONFIG (" and "t1 OPTIONS (" from reading the keyword as t1's alias.
            if (self._curr.text.upper() == "LAST" and self._next.token_type == TokenType.JOIN) or (
                self._curr.text.upper() in ("CONFIG", "OPTIONS") and self._next.token_type == TokenType.L_PAREN
            ):
                return None
            return super()._parse_table_alias(alias_tokens)

        def _parse_join(
            self, skip_join_token: bool = False, parse_bracket: bool = False, alias_tokens: Any = None
        ) -> exp.Expr | None:
            if not self._match_text_seq("LAST", "JOIN"):
                return super()._parse_join(skip_join_token, parse_bracket, alias_tokens)
            right = self._parse_table(parse_bracket=parse_bracket, alias_tokens=alias_tokens)
            order = self._parse_order()
            if not self._match(TokenType.ON):
                self.raise_error("Expected ON after LAST JOIN <table> [ORDER BY <column>]")
            return self.expression(LastJoinClause(this=right, order=order, on=self._parse_disjunction()))

        def _parse_query_modifiers(self, this: Any) -> Any:
            this = super()._parse_query_modifiers(this)
            # Trailing CONFIG (...) / OPTIONS (...) of a query, kept as lists of exp.Property.
            while (
                isinstance(this, exp.Select)
                and self._curr.text.upper() in ("CONFIG", "OPTIONS")
                and self._next.token_type == TokenType.L_PAREN
            ):
                key = self._curr.text.lower()
                self._advance()
                this.set(key, self._parse_options())
            return this

        def _parse_named_window(self) -> exp.Expr | None:
            name = self._parse_id_var(any_token=False)
            if not self._match(TokenType.ALIAS):
                self.raise_error("Expected AS after the window name")
            window = self._parse_window_definition()
            window.set("this", name)
            return window

        def _parse_window(self, this: exp.Expr | None, alias: bool = False) -> exp.Expr | None:
            if not self._match(TokenType.OVER):
                return super()._parse_window(this, alias)
            if self._match(TokenType.L_PAREN, advance=False):
                return self.expression(exp.Window(this=this, spec=self._parse_window_definition()))
            name = self._parse_id_var(any_token=False)
            if name is None:
                self.raise_error("Expected a window name or ( after OVER")
            return self.expression(exp.Window(this=this, alias=name))

        def _parse_window_definition(self) -> WindowDefinition:
            if not self._match(TokenType.L_PAREN):
                self.raise_error("Expected ( to start a window definition")
            union = self._parse_csv(self._parse_table) if self._match(TokenType.UNION) else None
            partition_by = self._parse_partition_by()
            order = self._parse_order()
            if self._match_text_seq("ROWS_RANGE"):
                kind = "rows_range"
            elif self._match(TokenType.ROWS):
                kind = "rows"
            elif self._match_texts(("RANGE", "GROUPS")):
                raise SqlError(
                    f"{self._prev.text.upper()} frames are not supported in OpenMLDB (use ROWS or ROWS_RANGE)"
                )
            else:
                self.raise_error("Expected ROWS or ROWS_RANGE")
            if not self._match(TokenType.BETWEEN):
                self.raise_error(f"Expected BETWEEN after {kind.upper()}")
            start = self._parse_frame_boundary()
            if not self._match(TokenType.AND):
                self.raise_error("Expected AND between the window frame bounds")
            end = self._parse_frame_boundary()
            window = WindowDefinition(
                union=union, partition_by=partition_by, order=order, kind=kind, start=start, end=end
            )
            # The attributes after the frame may come in any order.
            while True:
                if self._match_text_seq("MAXSIZE"):
                    if not self._match(TokenType.NUMBER):
                        self.raise_error("Expected a number after MAXSIZE")
                    window.set("maxsize", exp.Literal.number(self._prev.text))
                elif self._match_text_seq("EXCLUDE", "CURRENT_ROW"):
                    window.set("exclude_current_row", True)
                elif self._match_text_seq("EXCLUDE", "CURRENT_TIME"):
                    window.set("exclude_current_time", True)
                elif self._match_text_seq("INSTANCE_NOT_IN_WINDOW"):
                    window.set("instance_not_in_window", True)
                else:
                    break
            self._match_r_paren()
            return self.expression(window)

        def _parse_frame_boundary(self) -> FrameBoundary:
            if self._match_text_seq("CURRENT", "ROW"):
                return self.expression(FrameBoundary(this="current_row"))
            if self._match_text_seq("UNBOUNDED"):
                boundary = FrameBoundary(this="unbounded")
            else:
                boundary = FrameBoundary(this="preceding", offset=self._parse_duration())
            boundary.set("open", self._match_text_seq("OPEN"))
            if self._match_text_seq("FOLLOWING"):
                raise SqlError("FOLLOWING is not supported in OpenMLDB windows")
            if not self._match_text_seq("PRECEDING"):
                self.raise_error("Expected PRECEDING")
            return self.expression(boundary)


# --- public API ------------------------------------------------------------------------------------------------

_DIALECT = OpenMLDB()


def parse(sql: str) -> list[sqlir.Statement]:
    """Parse one or more ';'-separated statements (empty ones are skipped) into sqlir statements."""
    return [_Translator().statement(tree) for tree in _parse_trees(sql) if tree is not None]


def parse_one(sql: str) -> sqlir.Statement:
    """Parse exactly one statement."""
    statements = parse(sql)
    if len(statements) != 1:
        raise SqlError(f"expected exactly one statement, got {len(statements)}")
    return statements[0]


def parse_expression(sql: str) -> exp.Expression:
    """Parse a standalone expression, e.g. a DEFAULT value or a CONFIG values tuple."""
    trees = _parse_trees(sql, into=exp.Condition)
    if len(trees) != 1 or trees[0] is None:
        raise SqlError("expected exactly one expression")
    return _lower_function_names(trees[0])


def _parse_trees(sql: str, into: type[exp.Expr] | None = None) -> list[exp.Expr | None]:
    """sqlglot trees for sql (statements, or expressions of type ``into``); sqlglot errors become SqlError."""
    try:
        tokens = _procedure_bodies(_DIALECT.tokenize(sql))
        sql_parser = _DIALECT.parser(error_level=ErrorLevel.IMMEDIATE)
        return sql_parser.parse_into(into, tokens, sql) if into else sql_parser.parse(tokens, sql)
    except ParseError as error:
        # sqlglot's message underlines the error with terminal colour codes; rebuild it from the parts.
        detail = error.errors[0] if error.errors else {}
        if not detail.get("description"):
            raise SqlError(f"syntax error: {error}") from None
        near = f"{detail.get('start_context', '')}{detail.get('highlight', '')}".strip()[-40:]
        raise SqlError(
            f"syntax error: {detail['description']} at line {detail.get('line')}, column {detail.get('col')}"
            f" near '{near}'"
        ) from None
    except TokenError as error:
        raise SqlError(f"syntax error: {error}") from None


def _procedure_bodies(tokens: list) -> list:
    """Drop the ``; END`` that closes a procedure's SELECT (``BEGIN SELECT ...; END;``), so that the statement
    splitter keeps the procedure whole (an ``END`` without the ``;`` is matched by the procedure's parser)."""
    kept = []
    in_procedure = skip_end = False
    for i, token in enumerate(tokens):
        text = token.text.upper()
        if skip_end:  # the END itself goes too: the SELECT then ends where the statement does
            skip_end = in_procedure = False
            continue
        if text == "PROCEDURE" and kept and kept[-1].text.upper() == "CREATE":
            in_procedure = True
        elif in_procedure and token.token_type == TokenType.SEMICOLON:
            following = tokens[i + 1].text.upper() if i + 1 < len(tokens) else ""
            if following == "END":
                skip_end = True
                continue
            in_procedure = False
        kept.append(token)
    return kept


def _lower_function_names(tree: exp.Expr) -> exp.Expr:
    # OpenMLDB function names are case-insensitive; the engine looks them up in lower case.
    for call in tree.find_all(exp.Anonymous):
        call.set("this", call.name.lower())
    return tree


# --- sqlglot tree -> sqlir -------------------------------------------------------------------------------------


def literal_value(node: exp.Expr | None) -> Any:
    """The Python value of a literal: numbers, strings, true/false, null, negatives, (tuples) and [arrays]."""
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        try:
            return int(text)
        except ValueError:
            return float(text)
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -literal_value(node.this)
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, (exp.Tuple, exp.Array)):
        return [literal_value(item) for item in node.expressions]
    if isinstance(node, exp.Column) and not node.table:  # a bare word, e.g. TTL_TYPE=absolute
        return node.name
    raise SqlError(f"expected a literal value, got {_sql(node)}")


def _sql(node: exp.Expr | None) -> str:
    return node.sql(dialect=_DIALECT) if isinstance(node, exp.Expr) else repr(node)


def _int(node: exp.Expr | None, what: str) -> int:
    value = literal_value(node)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SqlError(f"{what} must be an integer, got {_sql(node)}")
    return value


def _options(properties: list[exp.Expr] | None, key_case: str) -> dict[str, Any]:
    options = {}
    for prop in properties or []:
        key = prop.name.upper() if key_case == "upper" else prop.name.lower()
        options[key] = literal_value(prop.args.get("value"))
    return options


def _table_name(table: exp.Expr | None, what: str) -> tuple[str, str | None]:
    """(name, db) of a [db.]name reference."""
    if not isinstance(table, exp.Table) or table.args.get("catalog") or not table.name:
        raise SqlError(f"expected a [database.]{what} name, got {_sql(table)}")
    return table.name, table.text("db") or None


class _Translator:
    """Turns one parsed statement into its sqlir form; inline windows get names __w0, __w1... per statement."""

    def __init__(self) -> None:
        self.inline_windows = 0

    def statement(self, tree: exp.Expr) -> sqlir.Statement:
        tree = _lower_function_names(tree)
        if isinstance(tree, exp.Create):
            return self.create(tree)
        if isinstance(tree, exp.Drop):
            return self.drop(tree)
        if isinstance(tree, exp.Use):
            return sqlir.UseDatabase(name=_table_name(tree.this, "database")[0])
        if isinstance(tree, exp.Show):
            return self.show(tree)
        if isinstance(tree, exp.Describe):
            name, db = _table_name(tree.this, "table")
            return sqlir.Describe(table=name, db=db)
        if isinstance(tree, exp.SetItem):
            assignment = tree.this
            return sqlir.SetVariable(
                name=assignment.this.name, value=literal_value(assignment.expression), scope=tree.text("kind")
            )
        if isinstance(tree, exp.Insert):
            return self.insert(tree)
        if isinstance(tree, CreateProcedureStatement):
            name, db = _table_name(tree.this, "procedure")
            params = []
            for node in tree.args["params"]:
                const = any(c.args.get("kind") == exp.var("CONST") for c in node.constraints)
                node.set("constraints", [])
                column = self.column(node)
                params.append(sqlir.ProcedureParam(name=column.name, type=column.type, const=const))
            return sqlir.CreateProcedure(
                name=name, params=params, select=self.select(tree.expression), sql=tree.text("sql"), db=db
            )
        if isinstance(tree, DeployStatement):
            name, db = _table_name(tree.this, "deployment")
            options = {key: _option_text(value) for key, value in _options(tree.args.get("options"), "upper").items()}
            return sqlir.Deploy(
                name=name,
                select=self.select(tree.expression),
                sql=tree.text("sql"),
                options=options,
                if_not_exists=bool(tree.args.get("exists")),
                db=db,
            )
        if isinstance(tree, (exp.Select, exp.Subquery, exp.SetOperation)):
            return self.select(tree)
        if isinstance(tree, SelectIntoStatement):
            return sqlir.SelectInto(
                select=self.select(tree.this),
                path=tree.args["path"].this,
                options=_options(tree.args.get("options"), "lower"),
                sql=tree.text("sql"),
            )
        if isinstance(tree, LoadDataStatement):
            name, db = _table_name(tree.this, "table")
            return sqlir.LoadData(
                path=tree.args["path"].this, table=name, db=db, options=_options(tree.args.get("options"), "lower")
            )
        if isinstance(tree, StopJobStatement):
            return sqlir.StopJob(job_id=tree.this.this)
        if isinstance(tree, ExecuteDeploymentStatement):
            name, db = _table_name(tree.this, "deployment")
            limit = tree.args.get("limit")
            path = tree.args.get("path")
            return sqlir.ExecuteDeployment(
                name=name,
                db=db,
                limit=int(limit.this) if limit is not None else None,
                path=path.this if path is not None else None,
                options=_options(tree.args.get("options"), "lower"),
            )
        raise SqlError(f"unsupported statement: {_sql(tree)[:60]}")

    # --- DDL ---

    def create(self, tree: exp.Create) -> sqlir.Statement:
        kind = tree.text("kind").upper()
        if kind == "DATABASE":
            return sqlir.CreateDatabase(
                name=_table_name(tree.this, "database")[0], if_not_exists=bool(tree.args.get("exists"))
            )
        schema = tree.this
        if kind != "TABLE" or not isinstance(schema, exp.Schema) or tree.expression is not None:
            raise SqlError(f"unsupported statement: {_sql(tree)[:60]}")
        name, db = _table_name(schema.this, "table")
        columns: list[sqlir.ColumnDef] = []
        indexes: list[sqlir.IndexDef] = []
        for element in schema.expressions:
            if isinstance(element, exp.ColumnDef):
                columns.append(self.column(element))
            elif isinstance(element, IndexDefinition):
                indexes.append(self.index(element))
            else:
                raise SqlError(f"unsupported: {_sql(element)} (only columns and INDEX(...) are allowed)")
        if not columns:
            raise SqlError(f"table {name} needs at least one column")
        types = {column.name: column.type for column in columns}
        if len(types) != len(columns):
            raise SqlError(f"table {name} has duplicate column names")
        for index in indexes:
            for column in [*index.keys, index.ts] if index.ts else index.keys:
                if column not in types:
                    raise SqlError(f"INDEX refers to unknown column {column}")
            if index.ts and types[index.ts] not in ("timestamp", "int64"):
                raise SqlError(f"INDEX TS column {index.ts} must be a timestamp or bigint")
        options: dict[str, Any] = {}
        for prop in (tree.args.get("properties") or exp.Properties()).expressions:
            if type(prop) is not exp.Property:  # sqlglot's typed properties (ENGINE=...) are not OpenMLDB's
                raise SqlError(f"unsupported table property: {_sql(prop)}")
            options.update(_options([prop], "upper"))
        return sqlir.CreateTable(
            name=name,
            columns=columns,
            indexes=indexes,
            db=db,
            if_not_exists=bool(tree.args.get("exists")),
            options=options,
        )

    def column(self, node: exp.ColumnDef) -> sqlir.ColumnDef:
        kind = node.args.get("kind")
        type_name = _COLUMN_TYPES.get(kind.this) if isinstance(kind, exp.DataType) else None
        if type_name is None:
            raise SqlError(f"unsupported column type for {node.name}: {_sql(kind)}")
        column = sqlir.ColumnDef(name=node.name, type=type_name)
        for constraint in node.constraints:
            spec = constraint.args.get("kind")
            if isinstance(spec, exp.NotNullColumnConstraint):
                column.not_null = not spec.args.get("allow_null")
            elif isinstance(spec, exp.DefaultColumnConstraint):
                column.default = _default_value(spec.this, type_name, node.name)
            else:
                raise SqlError(f"unsupported: {_sql(constraint)} on column {node.name}")
        return column

    def index(self, node: IndexDefinition) -> sqlir.IndexDef:
        options = {prop.name: prop.args.get("value") for prop in node.expressions}
        unknown = set(options) - {"KEY", "TS", "TTL", "TTL_TYPE"}
        if unknown:
            raise SqlError(f"unsupported index option: {', '.join(sorted(unknown))}")
        keys = options.get("KEY")
        if keys is None:
            raise SqlError("INDEX needs KEY=column or KEY=(column, ...)")
        key_nodes = (
            keys.expressions if isinstance(keys, exp.Tuple) else [keys.this if isinstance(keys, exp.Paren) else keys]
        )
        if not all(isinstance(key, exp.Column) and not key.table for key in key_nodes):
            raise SqlError(f"INDEX KEY must name columns, got {_sql(keys)}")
        ts = options.get("TS")
        if ts is not None and not (isinstance(ts, exp.Column) and not ts.table):
            raise SqlError(f"INDEX TS must name a column, got {_sql(ts)}")
        index = sqlir.IndexDef(
            keys=[key.name for key in key_nodes], ts=ts.name if ts is not None else None, name=node.name or None
        )
        ttl_type = options.get("TTL_TYPE")
        if ttl_type is not None:
            index.ttl_type = str(literal_value(ttl_type)).lower()
            if index.ttl_type not in _TTL_TYPES:
                raise SqlError(f"unsupported TTL_TYPE {index.ttl_type}: use one of {', '.join(_TTL_TYPES)}")
        ttl = options.get("TTL")
        if ttl is not None:
            index.ttl_type = index.ttl_type or "absolute"
            _set_ttl(index, ttl)
        return index

    def drop(self, tree: exp.Drop) -> sqlir.Statement:
        kind = tree.text("kind").upper()
        exists = bool(tree.args.get("exists"))
        targets = tree.args.get("tables") or []
        if len(targets) != 1:
            raise SqlError(f"DROP {kind} takes exactly one name")
        if kind == "DATABASE":
            return sqlir.DropDatabase(name=_table_name(targets[0], "database")[0], if_exists=exists)
        name, db = _table_name(targets[0], kind.lower())
        if kind == "TABLE":
            return sqlir.DropTable(name=name, db=db, if_exists=exists)
        return sqlir.DropDeployment(name=name, db=db, if_exists=exists, procedure=kind == "PROCEDURE")

    def show(self, tree: exp.Show) -> sqlir.Show:
        if tree.name in ("jobs", "job", "joblog"):
            target = tree.args.get("target")
            component = tree.args.get("scope")
            return sqlir.Show(
                what=tree.name,
                name=target.this if target is not None else None,
                component=str(component) if component else None,
            )
        target = tree.args.get("target")
        if target is not None:
            name, db = _table_name(target, "deployment")
            return sqlir.Show(what=tree.name, name=name, db=db)
        return sqlir.Show(what=tree.name, db=tree.text("db") or None)

    def insert(self, tree: exp.Insert) -> sqlir.Insert:
        target = tree.this
        columns = None
        if isinstance(target, exp.Schema):
            columns = [column.name for column in target.expressions]
            target = target.this
        name, db = _table_name(target, "table")
        values = tree.expression
        if not isinstance(values, exp.Values):
            raise SqlError("unsupported: INSERT without VALUES (e.g. INSERT ... SELECT)")
        rows = [list(row.expressions) if isinstance(row, exp.Tuple) else [row] for row in values.expressions]
        return sqlir.Insert(table=name, rows=rows, columns=columns, db=db)

    # --- queries ---

    def select(self, tree: exp.Expr) -> sqlir.Select:
        while isinstance(tree, exp.Subquery) and not tree.alias:
            tree = tree.this
        if isinstance(tree, exp.SetOperation):
            raise SqlError(f"unsupported: {tree.key.upper()} of queries")
        if not isinstance(tree, exp.Select):
            raise SqlError(f"expected a SELECT, got {_sql(tree)[:60]}")
        for arg, what in (
            ("with_", "WITH"),
            ("distinct", "SELECT DISTINCT"),
            ("offset", "OFFSET"),
            ("laterals", "LATERAL"),
        ):
            if tree.args.get(arg):
                raise SqlError(f"unsupported: {what}")
        if tree.args.get("into"):
            raise SqlError("unsupported statement: SELECT INTO")
        windows = {}
        for definition in tree.args.get("windows") or []:
            if definition.name in windows:
                raise SqlError(f"window {definition.name} is defined twice")
            windows[definition.name] = self.window(definition.name, definition)
        projections = []
        for item in tree.expressions:
            expression, alias = (item.this, item.alias) if isinstance(item, exp.Alias) else (item, None)
            for window in list(expression.find_all(exp.Window)):
                self.name_window(window, windows)
            projections.append(sqlir.Projection(expression=expression, alias=alias))
        source = tree.args.get("from_")
        select = sqlir.Select(
            projections=projections,
            source=self.table_ref(source.this) if source else sqlir.TableRef(),
            joins=[self.join(join) for join in tree.args.get("joins") or []],
            windows=windows,
            config=_options(tree.args.get("config"), "lower"),
            options=_options(tree.args.get("options"), "lower"),
        )
        if "values" in select.config and not isinstance(select.config["values"], list):
            select.config["values"] = [select.config["values"]]  # values = (1) is one value in parentheses
        if tree.args.get("where"):
            select.where = tree.args["where"].this
        if tree.args.get("group"):
            select.group_by = list(tree.args["group"].expressions)
        if tree.args.get("having"):
            select.having = tree.args["having"].this
        if tree.args.get("order"):
            select.order_by = [(item.this, bool(item.args.get("desc"))) for item in tree.args["order"].expressions]
        if tree.args.get("limit"):
            select.limit = _int(tree.args["limit"].expression, "LIMIT")
        return select

    def name_window(self, window: exp.Window, windows: dict[str, sqlir.WindowDef]) -> None:
        """Give an inline OVER (...) a generated name and definition; check a named one exists."""
        definition = window.args.get("spec")
        if isinstance(definition, WindowDefinition):
            name = f"__w{self.inline_windows}"
            self.inline_windows += 1
            windows[name] = self.window(name, definition)
            window.set("spec", None)
            window.set("alias", exp.to_identifier(name))
        elif window.alias not in windows:
            raise SqlError(f"window {window.alias} is not defined (add WINDOW {window.alias} AS (...))")

    def window(self, name: str, node: WindowDefinition) -> sqlir.WindowDef:
        partition_by = node.args.get("partition_by") or []
        if not partition_by or not all(isinstance(column, exp.Column) for column in partition_by):
            raise SqlError(f"window {name}: PARTITION BY <column>[, <column>...] is required")
        kind = node.text("kind")
        frame = sqlir.Frame(
            kind=kind,
            start=_frame_bound(node.args["start"], kind),
            end=_frame_bound(node.args["end"], kind),
            exclude_current_row=bool(node.args.get("exclude_current_row")),
            exclude_current_time=bool(node.args.get("exclude_current_time")),
            instance_not_in_window=bool(node.args.get("instance_not_in_window")),
        )
        if node.args.get("maxsize") is not None:
            if kind != "rows_range":
                raise SqlError(f"window {name}: MAXSIZE is only allowed with ROWS_RANGE")
            frame.maxsize = _window_size(_int(node.args["maxsize"], "MAXSIZE"), f"MAXSIZE {node.args['maxsize'].name}")
        return sqlir.WindowDef(
            name=name,
            partition_by=list(partition_by),
            order_by=_order_column(node.args.get("order"), f"window {name}"),
            frame=frame,
            union=[self.table_ref(source) for source in node.args.get("union") or []],
        )

    def join(self, node: exp.Expr) -> sqlir.LastJoin:
        if not isinstance(node, LastJoinClause):
            side = " ".join(filter(None, (node.text("side"), node.text("kind")))).upper()
            raise SqlError(
                f"unsupported: {side + ' JOIN' if side or node.args.get('on') else 'comma join'}"
                " (OpenMLDB joins with LAST JOIN)"
            )
        return sqlir.LastJoin(
            right=self.table_ref(node.this),
            on=node.args["on"],
            order_by=_order_column(node.args.get("order"), "LAST JOIN"),
        )

    def table_ref(self, node: exp.Expr) -> sqlir.TableRef:
        if isinstance(node, exp.Table):
            name, db = _table_name(node, "table")
            return sqlir.TableRef(name=name, db=db, alias=node.alias or None)
        if isinstance(node, exp.Subquery):
            return sqlir.TableRef(alias=node.alias or None, subquery=self.select(node.this))
        raise SqlError(f"unsupported FROM item: {_sql(node)[:60]}")


def _duration(node: exp.Interval) -> str:
    return f"{node.this.name}{node.text('unit').lower()}"  # as written, e.g. 10m


def _option_text(value: Any) -> str:
    # DEPLOY options are strings in OpenMLDB (RANGE_BIAS='inf'); accept bare numbers and booleans too.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _order_column(order: exp.Expr | None, where: str) -> exp.Column | None:
    """The single ascending column of a window's or a LAST JOIN's ORDER BY."""
    if order is None:
        return None
    items = order.expressions
    if len(items) != 1 or not isinstance(items[0].this, exp.Column):
        raise SqlError(f"{where}: ORDER BY takes exactly one column")
    if items[0].args.get("desc"):
        raise SqlError(f"{where}: ORDER BY ... DESC is not supported")
    return items[0].this


def _frame_bound(node: FrameBoundary, kind: str) -> sqlir.FrameBound:
    offset = node.args.get("offset")
    millis = None
    if isinstance(offset, exp.Interval):
        if kind != "rows_range":
            raise SqlError(f"time unit in {_duration(offset)}: ROWS windows count rows; use ROWS_RANGE for time")
        millis = _int(offset.this, "a window offset") * UNIT_MS[offset.text("unit").lower()]
        millis = _window_size(millis, f"window offset {_duration(offset)}")
    elif offset is not None:
        # rows for ROWS, milliseconds for ROWS_RANGE
        millis = _window_size(_int(offset, "a window offset"), f"window offset {_sql(offset)}")
    return sqlir.FrameBound(kind=node.name, offset=millis, open=bool(node.args.get("open")))


def _window_size(value: int, what: str) -> int:
    """A window offset or MAXSIZE, at most WINDOW_OFFSET_MAX so that the engine's ts arithmetic stays in int64."""
    if value > WINDOW_OFFSET_MAX:
        raise SqlError(f"{what} is too large: at most {WINDOW_OFFSET_MAX} (rows, or milliseconds for ROWS_RANGE)")
    return value


def _set_ttl(index: sqlir.IndexDef, ttl: exp.Expr) -> None:
    """Fill abs_ttl (minutes) / lat_ttl (rows) from TTL=<value> or TTL=(abs, lat), given the index's TTL_TYPE."""
    values = ttl.expressions if isinstance(ttl, exp.Tuple) else [ttl]
    if index.ttl_type in ("absandlat", "absorlat"):
        if len(values) != 2:
            raise SqlError(f"TTL_TYPE={index.ttl_type} needs TTL=(<time>, <rows>), e.g. TTL=(10m, 100)")
        index.abs_ttl, index.lat_ttl = _abs_ttl(values[0]), _lat_ttl(values[1])
    elif len(values) != 1:
        raise SqlError(f"TTL_TYPE={index.ttl_type} takes a single TTL value")
    elif index.ttl_type == "absolute":
        index.abs_ttl = _abs_ttl(values[0])
    else:
        index.lat_ttl = _lat_ttl(values[0])


def _abs_ttl(node: exp.Expr) -> int:
    if not isinstance(node, exp.Interval):
        return _int(node, "an absolute TTL")  # a bare number is minutes
    millis = _int(node.this, "an absolute TTL") * UNIT_MS[node.text("unit").lower()]
    return -(-millis // UNIT_MS["m"])  # OpenMLDB rounds up to whole minutes (so 30s keeps rows for 1 minute)


def _lat_ttl(node: exp.Expr) -> int:
    if isinstance(node, exp.Interval):
        raise SqlError(f"a latest TTL is a row count, got {_duration(node)}")
    return _int(node, "a latest TTL")


def _default_value(node: exp.Expr, type_name: str, column: str) -> Any:
    """A DEFAULT literal converted to the column's type (date -> datetime.date, timestamp -> epoch millis)."""
    value = literal_value(node)
    if value is None:
        return None
    ok = {
        "bool": isinstance(value, bool),
        "string": isinstance(value, str),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "double": isinstance(value, (int, float)) and not isinstance(value, bool),
        "date": isinstance(value, str),
    }.get(type_name, isinstance(value, int) and not isinstance(value, bool))  # int16/32/64, timestamp
    if ok and type_name in ("float", "double"):
        return float(value)
    if ok and type_name == "date":
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            ok = False
    if not ok:
        raise SqlError(f"DEFAULT {_sql(node)} does not fit column {column} of type {type_name}")
    return value
