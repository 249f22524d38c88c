"""Linkis's saved-script format: the ``params`` of a script as a header of comment lines, and back.

As Linkis's storage writes and reads scripts (``linkis-commons/linkis-storage``: ``script/VariableParser.scala``,
``script/writer/StorageScriptFsWriter.scala``, ``script/reader/StorageScriptFsReader.scala``,
``script/compaction/*``, ``script/parser/*``, ``source/FileSplit.scala``, ``source/TextFileSource.scala``):

- ``params.variable`` entries become ``<prefix> key=value`` lines, ``params.configuration.<kind>`` entries
  ``<prefixConf> configuration <kind> key=value`` and ``params.configuration.special.<engine>`` entries
  ``<prefixConf> special <engine> key=value``; ``contextID`` and ``nodeName`` are dropped. When there is a header it
  ends with a line holding the bare comment symbol (``--``, ``#`` or ``//``).
- The prefixes go by the file's suffix (``linkis.codeType.language.relation``): ``--@set``/``--conf@set`` for SQL
  suffixes, ``#@set``/``#conf@set`` for Python and shell, ``//@set``/``//conf@set`` for Scala. Other files get no
  header: their params are not stored.
- The content is written as Linkis writes it: split on ``\\n`` (Java's ``split``, so trailing empty lines go), each
  line but the last followed by ``\\n``. Reading gives every line followed by ``\\n``, the header and the comment
  line after it removed, and the params parsed back into ``{"variable": {...}, "configuration": {...}}`` (a key
  only when it has entries).

Two differences: entries with an empty key or value are not written (Linkis writes ``--@set a=``, which ends the
header it reads back, so the rest of the header became script content); and Linkis drops the first line equal to
the bare comment symbol wherever it is in a script that has a header, where here only the one right after the
header goes (the same for every script Linkis or this module wrote).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

VARIABLE = "variable"
CONFIGURATION = "configuration"
STARTUP, RUNTIME, SPECIAL = "startup", "runtime", "special"

_LANGUAGE_SUFFIXES = {
    "sql": "sql|hql|jdbc|hive|psql|fql|tsql|nebula|ngql|aisql|starrocks",
    "python": "python|py|pyspark|py3",
    "scala": "scala",
    "shell": "sh|shell",
}
_PREFIXES = {"sql": ("--@set", "--conf@set"), "python": ("#@set", "#conf@set"), "scala": ("//@set", "//conf@set"),
             "shell": ("#@set", "#conf@set")}  # fmt: skip
_SUFFIX_LANGUAGE = {
    suffix: language for language, suffixes in _LANGUAGE_SUFFIXES.items() for suffix in suffixes.split("|")
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class ScriptParamsError(ValueError):
    """``params`` that cannot be stored (not maps, or a line break in a key or value)."""


@dataclass(frozen=True)
class Variable:
    sort_parent: str
    sort: str | None
    key: str
    value: str


@dataclass(frozen=True)
class Dialect:
    prefix: str
    prefix_conf: str

    @property
    def symbol(self) -> str:
        return self.prefix.split("@")[0]


def suffix(name: str) -> str:
    """``StorageUtils.pathToSuffix``: what follows the last dot, or the whole name."""
    dot = name.rfind(".")
    return name[dot + 1 :] if -1 < dot < len(name) - 1 else name


def dialect(name: str) -> Dialect | None:
    """The comment prefixes of a file, by its suffix (None: a file whose params are not stored)."""
    language = _SUFFIX_LANGUAGE.get(suffix(name))
    return Dialect(*_PREFIXES[language]) if language else None


def _java_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _skipped(key: str) -> bool:
    return key.lower() in ("contextid", "nodename")


def variables_from_params(params) -> list[Variable]:
    """``VariableParser.getVariables``: the header entries of a ``params`` map."""
    if params is None:
        return []
    if not isinstance(params, dict):
        raise ScriptParamsError("params must be a map.")
    found: list[Variable] = []
    variables = params.get(VARIABLE) or {}
    configuration = params.get(CONFIGURATION) or {}
    if not isinstance(variables, dict) or not isinstance(configuration, dict):
        raise ScriptParamsError("params.variable and params.configuration must be maps.")
    for key, value in variables.items():
        found.append(Variable(VARIABLE, None, str(key), _java_string(value)))
    for kind, entries in configuration.items():
        if not isinstance(entries, dict):
            raise ScriptParamsError(f"params.configuration.{kind} must be a map.")
        for key, value in entries.items():
            if _skipped(key):
                continue
            if isinstance(value, dict):
                found.extend(
                    Variable(str(kind), str(key), str(inner), _java_string(inner_value))
                    for inner, inner_value in value.items()
                    if not _skipped(inner)
                )
            else:
                found.append(Variable(CONFIGURATION, str(kind), str(key), _java_string(value)))
    for variable in found:
        if any(_LINE_BREAK.search(part or "") for part in (variable.sort_parent, variable.sort, variable.key,
                                                           variable.value)):  # fmt: skip
            raise ScriptParamsError(f"The parameter {variable.key!r} has a line break.")
    return found


def params_from_variables(variables: list[Variable]) -> dict:
    """``VariableParser.getMap``: the ``params`` map of parsed header entries."""
    plain: dict[str, str] = {}
    confs: dict[str, dict] = {}
    for variable in variables:
        if variable.sort is None:
            plain[variable.key] = variable.value
        elif variable.sort in (STARTUP, RUNTIME, SPECIAL):
            confs.setdefault(variable.sort, {})[variable.key] = variable.value
        else:
            confs.setdefault(variable.sort_parent, {}).setdefault(variable.sort, {})[variable.key] = variable.value
    params: dict[str, dict] = {}
    if plain:
        params[VARIABLE] = plain
    if confs:
        params[CONFIGURATION] = confs
    return params


def _compact(variable: Variable, dialect: Dialect) -> str:
    if variable.sort_parent == VARIABLE:
        return f"{dialect.prefix} {variable.key}={variable.value}"
    return f"{dialect.prefix_conf} {variable.sort_parent} {variable.sort} {variable.key}={variable.value}"


def _java_split_lines(text: str) -> list[str]:
    """Java's ``text.split("\\n")``: trailing empty strings removed; ``""`` splits into ``[""]``."""
    if text == "":
        return [""]
    parts = text.split("\n")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def compose(name: str, content: str | None, params) -> str:
    """The text Linkis's ``saveScript`` writes for a script of this file name."""
    # Linkis writes an empty value too (``--@set a=``), which its reader does not take for a header line: the header
    # would end there and the lines after it turn into content. Entries without a key or a value are not written.
    variables = [one for one in variables_from_params(params) if one.key.strip() and one.value.strip()]
    header = ""
    found = dialect(name)
    if found is not None and variables:
        lines = [_compact(variable, found) for variable in variables] + [found.symbol]
        header = "".join(line + "\n" for line in lines)
    parts = _java_split_lines(content or "")
    body = "".join(part + "\n" if part == "" or index != len(parts) - 1 else part for index, part in enumerate(parts))
    return header + body


def _is_metadata(line: str, found: Dialect) -> bool:
    if re.fullmatch(rf"\s*{re.escape(found.prefix)}\s*(.+)\s*=\s*(.+)\s*", line, re.ASCII):
        return True
    split = _java_split(line, "=")
    if len(split) != 2:
        return False
    words = [word for word in split[0].split(" ") if word]
    return len(words) == 4 and words[0] == found.prefix_conf


def _java_split(text: str, separator: str) -> list[str]:
    parts = text.split(separator)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return [] if parts == [""] and text != "" else parts


def _parse_variable(line: str, found: Dialect) -> Variable:
    match = re.fullmatch(rf"\s*{re.escape(found.prefix)}\s*(.+)\s*=\s*(.+)\s*", line, re.ASCII)
    if match:
        return Variable(VARIABLE, None, match.group(1).strip(), match.group(2).strip())
    left, value = _java_split(line, "=")
    words = [word for word in left.split(" ") if word]
    return Variable(words[1].strip(), words[2].strip(), words[3].strip(), value.strip())


@dataclass(frozen=True)
class OpenedScript:
    params: dict
    content: str
    total_lines: int


def parse(name: str, text: str) -> OpenedScript:
    """What Linkis's ``openFile`` answers for a script: its params, its content and its number of lines."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "" and text:
        lines.pop()  # the text ended with a line break: no empty line after it
    elif text == "":
        lines = []
    found = dialect(name)
    variables: list[Variable] = []
    index = 0
    if found is not None:
        while index < len(lines) and _is_metadata(lines[index], found):
            variables.append(_parse_variable(lines[index], found))
            index += 1
        if variables and index < len(lines) and lines[index] == found.symbol:
            index += 1
    body = lines[index:]
    return OpenedScript(
        params=params_from_variables(variables), content="".join(line + "\n" for line in body), total_lines=len(body)
    )
