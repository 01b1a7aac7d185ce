"""Every docstring example in the package runs and prints what it says."""

import doctest
import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

import rnnkit.apps
import rnnkit.layers


def _modules():
    for package in (rnnkit.layers, rnnkit.apps):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                yield info.name


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, extraglobs={"np": np, "keras": keras}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or ">>>" not in inspect.getsource(module)
