"""Clients' files are read and written only under FEATURESTORE_FILE_ROOTS (featurestore/files.py)."""

import os

import pytest

from featurestore.errors import FeatureStoreError
from featurestore.files import input_files, output_path


@pytest.fixture
def roots(settings, tmp_path):
    first, second = tmp_path / "files", tmp_path / "more"
    settings.FEATURESTORE_FILE_ROOTS = [str(first), str(second)]
    first.mkdir()
    second.mkdir()
    (first / "a.csv").write_text("1\n")
    (first / "part").mkdir()
    (first / "part" / "x.csv").write_text("2\n")
    (first / "part" / "y.csv").write_text("3\n")
    (first / "part" / "_SUCCESS").write_text("")
    (second / "b.parquet").write_bytes(b"PAR1")
    (tmp_path / "secret.txt").write_text("no")
    return first, second


def test_files_directories_and_patterns_inside_the_roots(roots):
    first, second = roots
    assert input_files("a.csv") == [first / "a.csv"]  # relative: the first root
    assert input_files(f"file://{first}/a.csv") == [first / "a.csv"]
    assert input_files(str(first / "part")) == [first / "part" / "x.csv", first / "part" / "y.csv"]
    assert input_files(f"{first}/part/*.csv") == [first / "part" / "x.csv", first / "part" / "y.csv"]
    assert input_files(str(second / "b.parquet")) == [second / "b.parquet"]


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "part/../../secret.txt", "hdfs://namenode/data.csv", "s3://bucket/key", "", "a\x00.csv"],
)
def test_paths_that_leave_the_roots_or_name_another_scheme_are_refused(roots, path):
    with pytest.raises(FeatureStoreError):
        input_files(path)


def test_absolute_paths_and_links_out_of_the_roots_are_refused(roots, tmp_path):
    first, _ = roots
    with pytest.raises(FeatureStoreError, match="outside the file roots"):
        input_files(str(tmp_path / "secret.txt"))
    os.symlink(tmp_path / "secret.txt", first / "link.csv")
    with pytest.raises(FeatureStoreError, match="outside the file roots"):
        input_files(str(first / "link.csv"))
    with pytest.raises(FeatureStoreError, match="outside the file roots"):
        input_files(str(first / "*.csv"))  # the pattern matches the link too
    os.symlink(tmp_path, first / "escape")
    with pytest.raises(FeatureStoreError, match="outside the file roots"):
        output_path(str(first / "escape" / "out.csv"))


def test_missing_inputs_say_so(roots):
    with pytest.raises(FeatureStoreError, match="no file found at missing.csv"):
        input_files("missing.csv")


def test_outputs_inside_a_root(roots, tmp_path):
    first, _ = roots
    assert output_path("out/train.parquet") == first / "out" / "train.parquet"
    for bad in (str(tmp_path / "out.csv"), "../out.csv", str(first), "out/*.csv"):
        with pytest.raises(FeatureStoreError):
            output_path(bad)
