"""Test-wide settings: quiet TensorFlow, the TF backend, seeded runs."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# One intra-op thread per pytest worker where the workers fill the cores (`make test` starts
# one per core): the fused op's helper threads spin between ops, and two workers' spinning
# helpers on two cores made the suite a fifth slower. The tests of the op's threading set
# their own thread counts, in processes of their own (tests/layers/test_fused.py).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= (os.cpu_count() or 1):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state and a fresh Keras session."""
    keras.utils.set_random_seed(1234)
    yield
    # Without the full garbage collection free_memory=True runs, which costs about 0.2 s
    # per test (over two minutes of the suite); Python's reference counting frees the rest.
    keras.backend.clear_session(free_memory=False)


def pytest_collection_modifyitems(items):
    """The notebooks first: the longest file, so `make test`'s workers (`--dist loadfile`)
    do not end with one of them running it alone while the other waits."""
    items.sort(key=lambda item: item.path.name != "test_notebooks.py")
