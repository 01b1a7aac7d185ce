"""Time-series forecasting: the pipeline, validated series, baselines and forecast metrics."""

from . import metrics
from .backtest import backtest
from .baselines import AutoARIMA, AutoETS, AutoTheta, LastValue, LinearAutoregression, SeasonalNaive
from .data import generate_series, read_series
from .pipeline import ForecastPipeline
from .series import FILL, prepare_series, seasonal_period

__all__ = [
    "AutoARIMA",
    "AutoETS",
    "AutoTheta",
    "FILL",
    "ForecastPipeline",
    "LastValue",
    "LinearAutoregression",
    "SeasonalNaive",
    "backtest",
    "generate_series",
    "metrics",
    "prepare_series",
    "read_series",
    "seasonal_period",
]
