"""Session fixtures: each task's tiny pipeline (`runs.py`) is trained once, when a test first asks."""

import pytest

from .runs import train


@pytest.fixture(scope="session")
def sentiment_run():
    return train("sentiment")


@pytest.fixture(scope="session")
def forecast_run():
    return train("forecast")


@pytest.fixture(scope="session")
def translation_run():
    return train("translation")


@pytest.fixture(scope="session")
def caption_run():
    return train("caption")


@pytest.fixture(scope="session")
def language_model_run():
    return train("language_model")


@pytest.fixture
def run_of(request):
    """`run_of(name)`: the session's trained run of a pipeline, for parametrized tests."""
    return lambda name: request.getfixturevalue(f"{name}_run")
