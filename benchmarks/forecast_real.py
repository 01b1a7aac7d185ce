"""Forecasting real series: rnnkit's pipeline against every baseline, on the same backtest folds.

- Melbourne daily minimum temperatures (univariate, daily, two missing days): 7 days ahead
  from 90 days of history; seasonal naive uses last year's same day (m = 365).
- Beijing PM2.5 (hourly, missing PM2.5, weather covariates and one-hot wind direction):
  24 hours ahead from 72 hours of history; m = 24.

Each series is split in time: the first 70% trains, the next 10% selects the epoch (early
stopping on validation loss), and a rolling-origin backtest over the last 20% (origins
`stride` apart) scores the pipeline and the baselines fitted on the training part, in one
table. MASE, MAE, RMSE and sMAPE are averaged over folds.

    python -m benchmarks.forecast_real        # writes benchmarks/results/forecast_real.md
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from rnnkit.apps.forecasting import ForecastPipeline, prepare_series  # noqa: E402
from rnnkit.apps.forecasting.backtest import mean_by_model  # noqa: E402

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
RESULTS = Path(__file__).parent / "results" / "forecast_real.md"


def melbourne(data):
    frame = pd.read_csv(data / "daily_min_temperatures_melbourne" / "daily-min-temperatures.csv")
    return frame, {
        "time_col": "Date",
        "target": "Temp",
        "covariates": [],
        "lookback": 90,
        "horizon": 7,
        "season": 365,
        "fill": "interpolate",
    }


def beijing(data):
    frame = pd.read_csv(data / "beijing_pm25" / "pollution.csv")
    frame["time"] = pd.to_datetime(frame[["year", "month", "day", "hour"]])
    wind = pd.get_dummies(frame["cbwd"], prefix="wind", dtype="float64")
    frame = pd.concat([frame[["time", "pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]], wind], axis=1)
    covariates = ["DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", *wind.columns]
    return frame, {
        "time_col": "time",
        "target": "pm2.5",
        "covariates": covariates,
        "lookback": 72,
        "horizon": 24,
        "season": 24,
        "fill": "interpolate",
    }


DATASETS = {"melbourne": melbourne, "beijing": beijing}


def run(name, args):
    frame, config = DATASETS[name](args.data)
    pipeline = ForecastPipeline(
        **config,
        cell=args.cell,
        units=args.units,
        multi_step=args.multi_step,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        seed=args.seed,
    )
    series, _ = prepare_series(
        frame, [config["target"], *config["covariates"]], config["time_col"], config["fill"]
    )
    n = len(series)
    train_end, val_end = int(0.7 * n), int(0.8 * n)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )
    start = time.perf_counter()
    history = pipeline.fit(
        series.iloc[:train_end],
        epochs=args.epochs,
        callbacks=[stop],
        verbose=2,
        validation_data=(series.iloc[train_end - config["lookback"] : val_end],),
    )
    minutes = (time.perf_counter() - start) / 60
    stride = args.stride or config["horizon"]
    table = pipeline.backtest(series, start=val_end, stride=stride)
    summary = mean_by_model(table)
    return summary, table.fold.nunique(), minutes, len(history.history["loss"]), config


def report(results, args):
    lines = [
        "# Forecasting real series: rolling-origin backtest",
        "",
        "Train on the first 70%, select the epoch on the next 10%, backtest on the last 20%;",
        "baselines fitted on the training part; metrics averaged over folds (lower is better).",
        "",
    ]
    for name, (summary, folds, minutes, epochs, config) in results.items():
        lines += [
            f"## {name}: {config['target']}, {config['horizon']} steps ahead from {config['lookback']}, "
            f"m = {config['season']}, {folds} folds",
            "",
            f"rnnkit: {args.cell} cell, {args.units} units, {args.multi_step}; trained {minutes:.1f} min "
            f"({epochs} epochs).",
            "",
            "| model | MASE | MAE | RMSE | sMAPE |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for model, row in summary.iterrows():
            lines.append(f"| {model} | {row.mase:.3f} | {row.mae:.3f} | {row.rmse:.3f} | {row.smape:.2f} |")
        best_baseline = summary.drop(index="rnnkit").mase.min()
        lines += [
            "",
            f"MASE ratio rnnkit / best baseline: {summary.loc['rnnkit', 'mase'] / best_baseline:.3f}",
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--multi-step", default="direct", help="direct or autoregressive")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--stride", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = {name: run(name, args) for name in args.datasets}
    text = report(results, args)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
