"""The OpenAPI document and the Linkis submission parsers cannot drift apart: every key a parser reads from a body is a
field of the serializer that documents that body, and every documented field is read (``formatCode`` is accepted
and ignored, as Linkis's entrance does not format code either)."""

import ast
import inspect

import pytest

from jobs.linkis import parsers
from jobs.linkis.serializers import ExecuteInputSerializer, SubmitInputSerializer

IGNORED = {"formatCode"}


def keys_read(function, variable: str = "body") -> set[str]:
    """The literal keys ``function`` reads with ``<variable>.get("...")``."""
    tree = ast.parse(inspect.getsource(function))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == variable
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


@pytest.mark.parametrize(
    ("parser", "serializer"),
    [(parsers.spec_from_execute, ExecuteInputSerializer), (parsers.spec_from_submit, SubmitInputSerializer)],
)
def test_the_documented_body_is_the_body_the_parser_reads(parser, serializer):
    documented = set(serializer().fields)
    assert keys_read(parser) == documented - IGNORED


def test_the_execution_content_keys_are_documented():
    assert keys_read(parsers.spec_from_submit, "content") == {"runType"}  # and "code", checked as `"code" in content`
    help_text = SubmitInputSerializer().fields["executionContent"].help_text
    assert "code" in help_text and "runType" in help_text
