"""Time-series forecasting: validated series, baselines and forecast metrics.

The `ForecastPipeline` (issue 5) builds on these; they are usable on their own.
"""

from . import metrics
from .baselines import LastValue, LinearAutoregression, SeasonalNaive
from .series import FILL, prepare_series, seasonal_period

__all__ = [
    "FILL",
    "LastValue",
    "LinearAutoregression",
    "SeasonalNaive",
    "metrics",
    "prepare_series",
    "seasonal_period",
]
