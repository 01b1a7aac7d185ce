"""`rnnkit forecast train|backtest|predict|export`."""

import pandas as pd

from ..command import RECURRENT, Command, pipeline_arguments
from .backtest import mean_by_model
from .data import generate_series, read_series
from .pipeline import ForecastPipeline

__all__ = ["ForecastCommand"]


class ForecastCommand(Command):
    name, folder = "forecast", "runs/forecast"
    help = "time-series forecasting: train, backtest, predict, export"
    pipeline = ForecastPipeline
    hyper_parameters = {
        **RECURRENT,
        "time_col": "name of the time column in --data",
        "lookback": "steps of history the model reads",
        "horizon": "steps forecast",
        "multi_step": "direct or autoregressive",
        "fill": "gaps and NaN: interpolate, ffill or zero (None: reject them)",
    }
    evaluate_verb = "backtest"
    val_split = (0.2, "the last fraction, held out and backtested")
    # the pipeline selects the epoch on a tail of the training part it holds out itself
    epochs, patience = 100, 10

    def add_data_arguments(self, parser):
        parser.add_argument(
            "--data", help="CSV file with a time column (default: the embedded generated series)"
        )
        parser.add_argument(
            "--target", action="append", help="column to forecast (repeatable; default the first)"
        )
        parser.add_argument(
            "--covariates", nargs="*", default=None, help="past covariates (default: other numeric columns)"
        )
        parser.add_argument("--quantiles", type=float, nargs="*", default=None, help="e.g. 0.1 0.5 0.9")

    def make_pipeline(self, args):
        options = pipeline_arguments(args, self.hyper_parameters)
        return ForecastPipeline(
            target=args.target, covariates=args.covariates, quantiles=args.quantiles, **options
        )

    def load_data(self, args, held_out=True):
        """The series up to the last `--val-split` (train), and whole (backtested from there
        on). No validation split: the pipeline holds out the last tenth of its training part
        (`validation_tail`), so that the backtested tail selects nothing."""
        series = generate_series(**args.embedded) if args.data is None else read_series(args.data)
        return (series.iloc[: _split(series, args)],), None, (series,)

    def fit_patience(self, args, validation):
        return args.patience or None

    def score(self, pipeline, split, args):
        """The backtest's mean per model, from the held-out tail on."""
        table = pipeline.backtest(split[0], start=_split(split[0], args))
        return mean_by_model(table).to_dict(orient="index"), (split[0], table)

    def summary(self, metrics):
        return pd.DataFrame(metrics).T.round(4).to_string()  # a row per model, by MASE

    def predict(self, pipeline, args):
        return pipeline.predict(self.load_data(args)[2][0]).to_string()


def _split(series, args):
    if not 0 < args.val_split < 1:
        raise ValueError(f"Argument `--val-split` must be in (0, 1). Received: {args.val_split}")
    return int(len(series) * (1 - args.val_split))
