"""What the feature store accepts as names and as window values, in one place.

**Names.** Databases, tables, columns, indexes and deployments (OpenMLDB's procedures) are named by identifiers:
ASCII letters, digits and underscores, not starting with a digit, at most 128 characters. Backquotes let SQL
use a keyword as a name (`` `key` ``), not other characters. The names end up in URLs (``/dbs/{db}/...``, the
console's pages) and in messages, so ``../../etc`` or ``a'b`` are refused when something is created. SQL still
*parses* any backquoted name, so an object created before this rule can be used and dropped.

**Window values.** The engine computes a window's bounds from the request row's ts (``featurestore.engine``:
``ts - offset`` with ``+ 1`` for ``OPEN``, ``ts - end - 1``, ``ts - 1`` for ``EXCLUDE CURRENT_TIME``, ``ts + 1``
for the latest-TTL look-ahead) and hands them to the database as 64-bit integers. A window offset (``ROWS``,
``ROWS_RANGE`` in milliseconds, ``MAXSIZE``) is at most ``WINDOW_OFFSET_MAX`` = 2^62, and a ts value (every
timestamp, and a bigint that is an index's TS) lies within ``[TS_MIN, TS_MAX]`` = ±(2^62 - 1), so
``TS_MIN - WINDOW_OFFSET_MAX - 1`` is exactly ``INT64_MIN``: no bound the engine computes leaves int64.
"""

from __future__ import annotations

import re
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: The largest window offset: rows for ROWS, milliseconds for ROWS_RANGE (about 146 million years), MAXSIZE.
WINDOW_OFFSET_MAX = 2**62
#: The range of ts values the engine computes windows on without leaving int64 (±4611686018427387903).
TS_MAX = INT64_MAX - WINDOW_OFFSET_MAX
TS_MIN = -TS_MAX
#: Why a ts value is refused (after upstream's own conversion message, chained with ``--``).
TS_RANGE_ERROR = f"ts out of range [{TS_MIN}, {TS_MAX}]"

NAME_MAX_LENGTH = 128
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = "letters, digits and underscores, not starting with a digit"


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a database, table, column, index or deployment; None when it can."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        return f"a name is {NAME_RULE}"
    if len(name) > NAME_MAX_LENGTH:
        return f"a name is at most {NAME_MAX_LENGTH} characters"
    return None


def name_error(what: str, name: Any) -> str | None:
    """The message refusing ``name`` for a new ``what`` ("table", "column"...), or None when it is valid."""
    problem = name_problem(name)
    return None if problem is None else f"invalid {what} name `{name}`: {problem}"


def validate_name(value: Any) -> None:
    """Model field validator: the same rule for the admin's forms and ``full_clean``."""
    # Imported here: the pure SQL modules (featurestore.sqlcore) and featurestore.jsonx use this module's limits
    # and import no Django.
    from django.core.exceptions import ValidationError

    problem = name_problem(value)
    if problem is not None:
        raise ValidationError(f"Not an OpenMLDB name: {problem}.", code="invalid_name")
