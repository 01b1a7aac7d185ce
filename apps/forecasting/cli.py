"""`rnnkit forecast train|backtest|predict|export`."""

from pathlib import Path

from .data import generate_series, read_series
from .pipeline import ForecastPipeline

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "backtest", "predict", "export"])
    parser.add_argument("--data", help="CSV file with a time column (default: the embedded generated series)")
    parser.add_argument("--time-col", default=None, help="name of the time column in --data")
    parser.add_argument(
        "--target", action="append", help="column to forecast (repeatable; default the first)"
    )
    parser.add_argument(
        "--covariates", nargs="*", default=None, help="past covariates (default: other numeric columns)"
    )
    parser.add_argument("--lookback", type=int, default=48)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--multi-step", default="direct", help="direct or autoregressive")
    parser.add_argument("--quantiles", type=float, nargs="*", default=None, help="e.g. 0.1 0.5 0.9")
    parser.add_argument("--fill", default=None, help="interpolate, ffill or zero (default: reject gaps)")
    parser.add_argument("--cell", default="gru", help="rnn, lstm, gru, leaky or esn (default gru)")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--val-split", type=float, default=0.2, help="the last fraction, held out and backtested"
    )
    parser.add_argument("--out", default="runs/forecast", help="the run folder (default runs/forecast)")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out already holds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args, verbose):
    out = Path(args.out)
    series = generate_series() if args.data is None else read_series(args.data)
    if args.verb == "train":
        if not 0 < args.val_split < 1:
            raise ValueError(f"Argument `--val-split` must be in (0, 1). Received: {args.val_split}")
        pipeline = ForecastPipeline(
            target=args.target,
            covariates=args.covariates,
            lookback=args.lookback,
            horizon=args.horizon,
            time_col=args.time_col,
            fill=args.fill,
            cell=args.cell,
            units=args.units,
            multi_step=args.multi_step,
            quantiles=args.quantiles,
        )
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
