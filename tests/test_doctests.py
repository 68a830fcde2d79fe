"""Every docstring example in the installed package and in the benchmark lab runs and is right."""

import doctest
import importlib
import pkgutil

import pytest

import benchmarks
import ffstream


def _modules():
    yield "ffstream"
    yield "ffstream.envs"
    for info in pkgutil.walk_packages(ffstream.__path__, "ffstream."):
        yield info.name
    envs = importlib.import_module("ffstream.envs")
    for info in pkgutil.walk_packages(envs.__path__, "ffstream.envs."):
        yield info.name
    for info in pkgutil.walk_packages(benchmarks.__path__, "benchmarks."):
        yield info.name


MODULES = sorted(set(_modules()))


def test_modules_were_found():
    assert "ffstream.ff.net" in MODULES and "ffstream.envs" in MODULES
    assert "benchmarks.report_tables" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={**vars(module)}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest failures in {name}"
