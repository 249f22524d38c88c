"""Linkis's saved-script format (jobs.linkis.scripts): what StorageScriptFsWriter writes and FileSplit reads back."""

import pytest

from jobs.linkis.scripts import ScriptParamsError, compose, dialect, parse


def test_dialects_by_suffix():
    assert dialect("a.sql").prefix == "--@set" and dialect("a.sql").symbol == "--"
    assert dialect("a.jdbc").prefix_conf == "--conf@set"
    assert dialect("a.py").prefix == "#@set" and dialect("a.py3").symbol == "#"
    assert dialect("a.sh").prefix_conf == "#conf@set"
    assert dialect("a.scala").prefix == "//@set"
    assert dialect("a.txt") is None and dialect("noext") is None
    assert dialect("a.SQL") is None  # suffixes are matched as Linkis matches them: case-sensitively


def test_dialect_of_a_bare_suffix_name():
    # Linkis's pathToSuffix answers the whole name when there is no dot: a file named "sql" is an SQL script.
    assert dialect("sql") is not None and dialect("sql").prefix == "--@set"


@pytest.mark.parametrize(
    ("content", "written"),
    [
        ("a\nb", "a\nb"),
        ("a\nb\n", "a\nb"),
        ("a\n\nb\n\n\n", "a\n\nb"),
        ("", "\n"),
        ("\n\n", ""),
        (None, "\n"),
        ("x\r\ny", "x\r\ny"),
    ],
)
def test_content_is_written_as_java_splits_it(content, written):
    assert compose("a.txt", content, None) == written


def test_header_lines_and_round_trip():
    params = {
        "variable": {"a": 1, "b": "x=y", "c": None, "d": 1.5, "e": False},
        "configuration": {
            "startup": {"k": "v", "ContextID": "dropped"},
            "runtime": {"r": 2},
            "special": {"spark": {"s": "t", "NODENAME": "dropped"}},
        },
    }
    text = compose("q.sql", "select 1", params)
    assert text == (  # c (null) is left out: Linkis writes "--@set c=", which ends the header it reads back
        "--@set a=1\n--@set b=x=y\n--@set d=1.5\n--@set e=false\n"
        "--conf@set configuration startup k=v\n--conf@set configuration runtime r=2\n--conf@set special spark s=t\n"
        "--\nselect 1"
    )
    opened = parse("q.sql", text)
    # "b=x=y": Linkis's greedy key pattern takes all up to the last "=".
    assert opened.params == {
        "variable": {"a": "1", "b=x": "y", "d": "1.5", "e": "false"},
        "configuration": {"startup": {"k": "v"}, "runtime": {"r": "2"}, "special": {"spark": {"s": "t"}}},
    }
    assert opened.content == "select 1\n" and opened.total_lines == 1


def test_an_empty_value_in_a_file_ends_the_header_as_in_linkis():
    opened = parse("q.sql", "--@set a=1\n--@set c=\n--@set d=2\n--\nselect 1")
    assert opened.params == {"variable": {"a": "1"}}
    assert opened.content == "--@set c=\n--@set d=2\n--\nselect 1\n"


def test_reading_lines_as_a_buffered_reader_does():
    opened = parse("a.py", "#@set x = 1 \r\n#\r\nprint(1)\r\n\r\nprint(2)")
    assert opened.params == {"variable": {"x": "1"}}
    assert opened.content == "print(1)\n\nprint(2)\n" and opened.total_lines == 3
    assert parse("a.py", "") == parse("a.txt", "")
    assert parse("a.py", "").content == "" and parse("a.py", "").total_lines == 0
    assert parse("a.py", "\n").content == "\n" and parse("a.py", "\n").total_lines == 1


def test_only_the_comment_line_right_after_the_header_is_dropped():
    opened = parse("a.sql", "--@set a=1\nselect 1\n--\nselect 2")
    assert opened.content == "select 1\n--\nselect 2\n"
    assert parse("a.sql", "--\nselect 1").content == "--\nselect 1\n"  # no header: nothing dropped


def test_files_without_a_dialect_keep_header_like_lines_as_content():
    opened = parse("a.txt", "--@set a=1\n--\nx")
    assert opened.params == {} and opened.content == "--@set a=1\n--\nx\n"


def test_params_that_cannot_be_stored():
    for params in ("x", {"variable": [1]}, {"configuration": {"startup": "flat"}}, {"variable": {"a": "1\n2"}},
                   {"variable": {"a\rb": "1"}}):  # fmt: skip
        with pytest.raises(ScriptParamsError):
            compose("a.sql", "x", params)
    assert compose("a.sql", "x", {}) == compose("a.sql", "x", None) == "x"
