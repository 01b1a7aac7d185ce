"""`rnnkit forecast train|backtest|predict|export`."""

from pathlib import Path

from ..cli import RECURRENT, add_pipeline_arguments, add_run_arguments, pipeline_arguments
from .data import generate_series, read_series
from .pipeline import ForecastPipeline

__all__ = ["add_arguments", "make_pipeline", "run"]

# the hyper-parameters `train` takes, with their help; types and defaults are the pipeline's
HYPER_PARAMETERS = {
    **RECURRENT,
    "time_col": "name of the time column in --data",
    "lookback": "steps of history the model reads",
    "horizon": "steps forecast",
    "multi_step": "direct or autoregressive",
    "fill": "gaps and NaN: interpolate, ffill or zero (None: reject them)",
}


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "backtest", "predict", "export"])
    parser.add_argument("--data", help="CSV file with a time column (default: the embedded generated series)")
    parser.add_argument(
        "--target", action="append", help="column to forecast (repeatable; default the first)"
    )
    parser.add_argument(
        "--covariates", nargs="*", default=None, help="past covariates (default: other numeric columns)"
    )
    parser.add_argument("--quantiles", type=float, nargs="*", default=None, help="e.g. 0.1 0.5 0.9")
    add_pipeline_arguments(parser, ForecastPipeline, HYPER_PARAMETERS)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--val-split", type=float, default=0.2, help="the last fraction, held out and backtested"
    )
    add_run_arguments(parser, "runs/forecast")


def make_pipeline(args):
    """The untrained pipeline of a `train` command line."""
    return ForecastPipeline(
        target=args.target,
        covariates=args.covariates,
        quantiles=args.quantiles,
        **pipeline_arguments(args, HYPER_PARAMETERS),
    )


def run(args, verbose):
    out = Path(args.out)
    series = generate_series() if args.data is None else read_series(args.data)
    if args.verb == "train":
        if not 0 < args.val_split < 1:
            raise ValueError(f"Argument `--val-split` must be in (0, 1). Received: {args.val_split}")
        pipeline = make_pipeline(args)
        pipeline.check_run_folder(out, args.overwrite)  # before training
        split = int(len(series) * (1 - args.val_split))
        validation = series.iloc[split - args.lookback :]
        pipeline.fit(
            series.iloc[:split],
            validation_data=(validation,),
            epochs=args.epochs,
            backup_dir=pipeline.run_backup(out, args.resume),
            verbose=verbose,
        )
        table = pipeline.backtest(series, start=split)
        metrics = table.drop(columns=["fold", "origin"]).groupby("model").mean().to_dict(orient="index")
        pipeline.save_run(out, metrics, series, table, overwrite=args.overwrite)
        return _summary(table, out)
    pipeline = ForecastPipeline.load(out / "pipeline")
    if args.verb == "backtest":
        return _summary(pipeline.backtest(series), out)
    if args.verb == "predict":
        return pipeline.predict(series).to_string()
    return f"SavedModel: {pipeline.export(out / 'saved_model', overwrite=args.overwrite)}"


def _summary(table, out):
    means = table.drop(columns=["fold", "origin"]).groupby("model").mean().sort_values("mase")
    return f"{means.round(4).to_string()}\nrun folder: {out}"
