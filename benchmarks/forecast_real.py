"""Forecasting real series: rnnkit's pipeline against every baseline, on the same backtest folds.

- Melbourne daily minimum temperatures (univariate, daily, two missing days): 7 days ahead
  from 90 days of history; seasonal naive uses last year's same day (m = 365).
- Beijing PM2.5 (hourly, missing PM2.5, weather covariates and one-hot wind direction):
  24 hours ahead from 72 hours of history; m = 24.
- AirPassengers (monthly airline passengers 1949-1960, as statsforecast ships it): 12 months
  ahead from 24 months of history; m = 12, inferred from the index (no `season` given).

Each series is split in time: the first 70% trains, the next 10% selects the epoch (early
stopping on validation loss), and a rolling-origin backtest over the last 20% (origins
`stride` apart) scores the pipeline and the baselines fitted on the training part, in one
table: last value, seasonal naive, linear autoregression, and statsforecast's AutoETS,
AutoARIMA and AutoTheta (`ForecastPipeline.baselines`). The pipeline forecasts the quantiles
0.1, 0.5, 0.9 (`--quantiles`): the pinball loss and the coverage of the 10%-90% interval are
scored for it and for the statistical models' 80% prediction intervals. MASE, MAE, RMSE,
sMAPE, pinball and coverage are averaged over folds.

Two modes. By default the pipeline has the settings of each data set above (season,
covariates) and of the command line (`--cell gru --units 64 --dropout 0.1 ...`). With
`--defaults` it is built with only `target`, `lookback`, `horizon` and `quantiles`: every
other hyper-parameter is the pipeline's default (cell, units, dropout, scaler, ...; the
season inferred from the index: 7 for the daily Melbourne series), but for those given on the
command line, which still apply.

    python -m benchmarks.forecast_real             # writes benchmarks/results/forecast_real.md
    python -m benchmarks.forecast_real --defaults  # ... forecast_real_defaults.md
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from statsforecast.utils import AirPassengersDF  # noqa: E402

from rnnkit.apps.forecasting import ForecastPipeline, prepare_series  # noqa: E402
from rnnkit.apps.forecasting.backtest import mean_by_model  # noqa: E402

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
RESULTS = Path(__file__).parent / "results"

# the settings of the benchmark's own mode, where the command line does not set them
TUNED = {"cell": "gru", "units": 64, "multi_step": "direct", "learning_rate": 1e-3, "dropout": 0.1, "seed": 0}


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


def air_passengers(data):
    """statsforecast's copy of the Box-Jenkins airline series: month ends, no season given."""
    return AirPassengersDF[["ds", "y"]], {
        "time_col": "ds",
        "target": "y",
        "covariates": [],
        "lookback": 24,
        "horizon": 12,
        "fill": None,
    }


DATASETS = {"melbourne": melbourne, "beijing": beijing, "air_passengers": air_passengers}


def make_pipeline(config, args):
    """The pipeline of this data set and mode, and the keyword arguments it was built with."""
    given = {name: getattr(args, name) for name in TUNED if getattr(args, name) is not None}
    named = {
        "target": config["target"],
        "lookback": config["lookback"],
        "horizon": config["horizon"],
        "quantiles": args.quantiles or None,
    }
    if args.defaults:
        kwargs = {**named, **given}
    else:
        data = {key: config[key] for key in ("covariates", "season", "time_col", "fill") if key in config}
        kwargs = {**named, **data, **TUNED, **given}
    return ForecastPipeline(**kwargs), kwargs


def run(name, args):
    frame, config = DATASETS[name](args.data)
    pipeline, kwargs = make_pipeline(config, args)
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
    train_seconds = time.perf_counter() - start
    stride = args.stride or config["horizon"]
    start = time.perf_counter()
    table = pipeline.backtest(series, start=val_end, stride=stride)
    backtest_seconds = time.perf_counter() - start
    return {
        "summary": mean_by_model(table),
        "folds": table.fold.nunique(),
        "train_seconds": train_seconds,
        "backtest_seconds": backtest_seconds,
        "epochs": len(history.history["loss"]),
        "config": config,
        "pipeline": pipeline,
        "kwargs": kwargs,
    }


def _cell(value, digits):
    return "–" if np.isnan(value) else f"{value:.{digits}f}"


def report(results, args):
    mode = "its defaults (`--defaults`)" if args.defaults else "the benchmark's settings"
    lines = [
        "# Forecasting real series: rolling-origin backtest",
        "",
        "Train on the first 70%, select the epoch on the next 10%, backtest on the last 20%;",
        "baselines fitted on the training part; metrics averaged over folds (lower is better;",
        "coverage of the 10%-90% interval: 0.8 is right). rnnkit's pipeline with " + mode + ".",
        "",
    ]
    for name, result in results.items():
        config, pipeline, summary = result["config"], result["pipeline"], result["summary"]
        inferred = "" if "season" in result["kwargs"] else " (from the index)"
        arguments = ", ".join(f"{key}={value!r}" for key, value in result["kwargs"].items())
        lines += [
            f"## {name}: {config['target']}, {config['horizon']} steps ahead from {config['lookback']}, "
            f"m = {pipeline.state['season']}{inferred}, {result['folds']} folds",
            "",
            f"rnnkit: `ForecastPipeline({arguments})`: {pipeline.cell} cell, {pipeline.units} units, "
            f"{pipeline.multi_step}; trained in {result['train_seconds']:.0f} s ({result['epochs']} epochs); "
            f"the backtest of all models took {result['backtest_seconds']:.0f} s.",
            "",
        ]
        intervals = "coverage" in summary
        header = "| model | MASE | MAE | RMSE | sMAPE |" + (" pinball | coverage |" if intervals else "")
        lines += [header, "| --- |" + " ---: |" * (6 if intervals else 4)]
        for model, row in summary.iterrows():
            cells = [f"{row.mase:.3f}", f"{row.mae:.3f}", f"{row.rmse:.3f}", f"{row.smape:.2f}"]
            if intervals:
                cells += [_cell(row.pinball, 3), _cell(row.coverage, 2)]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        baselines = summary.drop(index="rnnkit").mase
        lines += [
            "",
            f"MASE ratio rnnkit / best baseline ({baselines.idxmin()}): "
            f"{summary.loc['rnnkit', 'mase'] / baselines.min():.3f}",
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="build the pipeline with only target, lookback, horizon and quantiles (and the options given)",
    )
    parser.add_argument("--cell", help=f"default {TUNED['cell']} (with --defaults: the pipeline's)")
    parser.add_argument("--units", type=int, help=f"default {TUNED['units']}")
    parser.add_argument("--multi-step", help=f"direct or autoregressive; default {TUNED['multi_step']}")
    parser.add_argument("--learning-rate", type=float, help=f"default {TUNED['learning_rate']}")
    parser.add_argument("--dropout", type=float, help=f"default {TUNED['dropout']}")
    parser.add_argument("--seed", type=int, help=f"default {TUNED['seed']}")
    parser.add_argument(
        "--quantiles", type=float, nargs="*", default=[0.1, 0.5, 0.9], help="none given: point forecasts"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--stride", type=int, default=None)
    parser.add_argument("--output", type=Path, help="default: benchmarks/results/forecast_real[_defaults].md")
    args = parser.parse_args(argv)
    results = {name: run(name, args) for name in args.datasets}
    text = report(results, args)
    print(text)
    output = args.output or RESULTS / ("forecast_real_defaults.md" if args.defaults else "forecast_real.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return results


if __name__ == "__main__":
    main()
