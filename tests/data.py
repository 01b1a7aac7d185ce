"""Small data sets shared by the test modules: import them from here, never from a test module."""

import numpy as np
import pandas as pd

# labelled tweets, three classes of each of six texts, four times over
TEXTS = ["so good", "not good at all", "it starts at 8", "great stuff", "awful day", "watching tv"] * 4
LABELS = ["positive", "negative", "neutral", "positive", "negative", "neutral"] * 4


def hourly(n=400, seed=0):
    """An hourly series: `y`, a daily sine with noise, and its covariate `x`, the same season."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"y": 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.2, n), "x": np.cos(2 * np.pi * t / 24)},
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )
