"""A stand-in for the few Apache Airflow names that OpenMLDB's Airflow provider imports (Airflow itself is too heavy
to install: ``requirements-nodeps.txt`` installs the provider without it), with the behaviour the provider relies
on: ``BaseHook.get_connection`` and ``log``, ``BaseOperator`` refusing unknown arguments, ``determine_kwargs`` and
``AirflowException``. ``provider_imported()`` imports the provider's hook and operators over it, unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import json
import logging
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


class AirflowException(Exception):
    """``airflow.exceptions.AirflowException``."""


@dataclass
class Connection:
    """The fields of ``airflow.models.Connection`` that HTTP hooks read."""

    conn_id: str
    conn_type: str = "http"
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None

    @property
    def extra_dejson(self) -> dict:
        return json.loads(self.extra) if self.extra else {}


CONNECTIONS: dict[str, Connection] = {}  # what Airflow's connection backends would hold


class BaseHook:
    """``airflow.hooks.base.BaseHook``: connections by id, and a logger."""

    def __init__(self, logger_name: str | None = None) -> None:
        self._logger_name = logger_name

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(self._logger_name or f"airflow.task.hooks.{type(self).__qualname__}")

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        if conn_id not in CONNECTIONS:
            raise AirflowException(f"The conn_id `{conn_id}` isn't defined")
        return CONNECTIONS[conn_id]


class BaseOperator:
    """``airflow.models.BaseOperator``: a task id, and Airflow's refusal of arguments no class took."""

    def __init__(self, *, task_id: str, **kwargs) -> None:
        if kwargs:
            raise AirflowException(f"Invalid arguments were passed to {type(self).__name__} (task_id: {task_id})")
        self.task_id = task_id

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"airflow.task.operators.{type(self).__qualname__}")


def determine_kwargs(python_callable, op_args, kwargs) -> dict:
    """``airflow.utils.operator_helpers.determine_kwargs``: the context entries the callable takes by name."""
    signature = inspect.signature(python_callable)
    for name in itertools.islice(signature.parameters, len(op_args)):
        if name in kwargs:
            raise ValueError(f"The key {name} in the op_args is part of kwargs and therefore reserved.")
    if any(parameter.kind == parameter.VAR_KEYWORD for parameter in signature.parameters.values()):
        return dict(kwargs)
    return {name: kwargs[name] for name in signature.parameters if name in kwargs}


def _stub_modules() -> dict[str, types.ModuleType]:
    modules = {}
    for name, attributes in {
        "airflow": {"AirflowException": AirflowException},
        "airflow.exceptions": {"AirflowException": AirflowException},
        "airflow.hooks": {},
        "airflow.hooks.base": {"BaseHook": BaseHook},
        "airflow.models": {"BaseOperator": BaseOperator, "Connection": Connection},
        "airflow.utils": {},
        "airflow.utils.operator_helpers": {"determine_kwargs": determine_kwargs},
    }.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        if name in ("airflow", "airflow.hooks", "airflow.utils"):
            module.__path__ = []  # a package: its submodules are the entries above
        modules[name] = module
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    return modules


@contextlib.contextmanager
def provider_imported() -> Iterator[types.SimpleNamespace]:
    """The provider's hook and operators modules, imported over the stand-in ``airflow`` package; both are removed
    from ``sys.modules`` afterwards, and the connections forgotten."""
    provider = [name for name in sys.modules if name.split(".")[0] == "openmldb_provider"]
    assert not provider, f"the provider was imported before its Airflow stand-in: {provider}"
    with pytest.MonkeyPatch.context() as patch:
        for name, module in _stub_modules().items():
            patch.setitem(sys.modules, name, module)
        try:
            hooks = importlib.import_module("openmldb_provider.hooks.openmldb_hook")
            operators = importlib.import_module("openmldb_provider.operators.openmldb_operator")
            yield types.SimpleNamespace(hooks=hooks, operators=operators)
        finally:
            for name in [name for name in sys.modules if name.split(".")[0] == "openmldb_provider"]:
                del sys.modules[name]
            CONNECTIONS.clear()
