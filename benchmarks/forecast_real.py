"""Forecasting real series: rnnkit's pipeline with its defaults against every baseline, same folds.

- the embedded demo series (`rnnkit demo`, hourly load with a temperature covariate): 12 hours
  ahead from 48 hours of history; m = 24.
- Melbourne daily minimum temperatures (univariate, daily, two missing days): 7 days ahead
  from 90 days of history; m = 7.
- Beijing PM2.5 (hourly, missing PM2.5 interpolated, weather covariates and one-hot wind
  direction): 24 hours ahead from 72 hours of history; m = 24.
- AirPassengers (monthly airline passengers 1949-1960, as statsforecast ships it): 12 months
  ahead from 24 months of history; m = 12.

The pipeline is `ForecastPipeline(target=..., lookback=..., horizon=..., quantiles=[0.1, 0.5,
0.9])`, nothing else named (issue 22): every other hyper-parameter is its default, the season
is inferred from the index, and the other numeric columns are its covariates. Options given on
the command line (`--units 128`, ...) still apply, for ablations.

Each series is split in time: the pipeline is fitted on the first 80% as a user would (`fit`
holds out the last tenth of it to select the epoch and calibrate the quantiles), and a
rolling-origin backtest over the last 20% (origins a horizon apart) scores it beside the
baselines fitted on the same 80%: last value, seasonal naive, linear autoregression, and
statsforecast's AutoETS, AutoARIMA and AutoTheta (`ForecastPipeline.baselines`), with the
pinball loss and the coverage of the 10%-90% interval (the statistical models' 80% interval).
Metrics are averaged over folds. The pipeline is trained once per `--seeds` (default 0 1 2);
the table is the first seed's, and the line under it gives every seed's MASE.

    python -m benchmarks.forecast_real        # writes benchmarks/results/forecast_real.md
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from statsforecast.utils import AirPassengersDF  # noqa: E402

from rnnkit.apps.forecasting import ForecastPipeline, generate_series, prepare_series  # noqa: E402
from rnnkit.apps.forecasting.backtest import mean_by_model  # noqa: E402

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
RESULTS = Path(__file__).parent / "results"


def demo(data):
    """The embedded series of `rnnkit demo` (generated, seeded)."""
    frame = generate_series()
    return frame, {
        "time_col": None,
        "target": "load",
        "covariates": ["temperature"],
        "lookback": 48,
        "horizon": 12,
        "fill": None,
    }


def melbourne(data):
    frame = pd.read_csv(data / "daily_min_temperatures_melbourne" / "daily-min-temperatures.csv")
    return frame, {
        "time_col": "Date",
        "target": "Temp",
        "covariates": [],
        "lookback": 90,
        "horizon": 7,
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


DATASETS = {"demo": demo, "melbourne": melbourne, "beijing": beijing, "air_passengers": air_passengers}
OPTIONS = {"cell": str, "units": int, "multi_step": str, "learning_rate": float, "dropout": float}


def make_pipeline(config, args, seed):
    """The pipeline of this data set, and the keyword arguments it was built with."""
    kwargs = {
        "target": config["target"],
        "lookback": config["lookback"],
        "horizon": config["horizon"],
        "quantiles": args.quantiles or None,
        **{name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None},
        **({"seed": seed} if seed else {}),
    }
    return ForecastPipeline(**kwargs), kwargs


def run(name, args):
    frame, config = DATASETS[name](args.data)
    series, _ = prepare_series(
        frame, [config["target"], *config["covariates"]], config["time_col"], config["fill"]
    )
    val_end = int(0.8 * len(series))
    runs = []
    for k, seed in enumerate(args.seeds):
        pipeline, kwargs = make_pipeline(config, args, seed)
        start = time.perf_counter()
        epochs = {"epochs": args.epochs} if args.epochs else {}
        history = pipeline.fit(series.iloc[:val_end], verbose=2, **epochs)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        table = pipeline.backtest(series, start=val_end, baselines=k == 0)  # the baselines once
        runs.append(
            (
                pipeline,
                kwargs,
                mean_by_model(table),
                table,
                history,
                train_seconds,
                time.perf_counter() - start,
            )
        )
    pipeline, kwargs, summary, table, history, train_seconds, backtest_seconds = runs[0]
    return {
        "summary": summary,
        "folds": table.fold.nunique(),
        "train_seconds": train_seconds,
        "backtest_seconds": backtest_seconds,
        "epochs": len(history.history["loss"]),
        "config": config,
        "pipeline": pipeline,
        "kwargs": kwargs,
        "seeds": {seed: run[2].loc["rnnkit"] for seed, run in zip(args.seeds, runs, strict=True)},
        "seed_minutes": [run[5] / 60 for run in runs],
    }


def _cell(value, digits):
    return "–" if np.isnan(value) else f"{value:.{digits}f}"


def report(results, args):
    given = [f"{name}={getattr(args, name)!r}" for name in OPTIONS if getattr(args, name) is not None]
    lines = [
        "# Forecasting real series: rolling-origin backtest",
        "",
        "`ForecastPipeline` with only target, lookback, horizon and quantiles named"
        + (f" (and {', '.join(given)})" if given else "")
        + ", fitted on the first 80% (its own held-out tenth selects the epoch);",
        "baselines fitted on the same 80%; a backtest over the last 20%, origins a horizon apart;",
        "metrics averaged over folds (lower is better; coverage of the 10%-90% interval: 0.8 is right).",
        "Reproduce: `python -m benchmarks.forecast_real`.",
        "",
    ]
    for name, result in results.items():
        config, pipeline, summary = result["config"], result["pipeline"], result["summary"]
        arguments = ", ".join(f"{key}={value!r}" for key, value in result["kwargs"].items())
        lines += [
            f"## {name}: {config['target']}, {config['horizon']} steps ahead from {config['lookback']}, "
            f"m = {pipeline.state['season']} (from the index), {result['folds']} folds",
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
        best = baselines.min()
        seeds = result["seeds"]
        by_seed = ", ".join(
            f"seed {seed}: {row.mase:.3f} ({row.mase / best:.3f})" for seed, row in seeds.items()
        )
        coverage = ", ".join(f"{row.coverage:.2f}" for row in seeds.values()) if intervals else ""
        minutes = ", ".join(f"{m:.1f}" for m in result["seed_minutes"])
        lines += [
            "",
            f"MASE ratio rnnkit / best baseline ({baselines.idxmin()}): "
            f"{summary.loc['rnnkit', 'mase'] / best:.3f}",
            "",
            f"rnnkit MASE by seed (ratio): {by_seed}"
            + (f"; coverage {coverage}" if intervals else "")
            + f"; training minutes {minutes}.",
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    for name, kind in OPTIONS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help="default: the pipeline's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--quantiles", type=float, nargs="*", default=[0.1, 0.5, 0.9], help="none given: point forecasts"
    )
    parser.add_argument("--epochs", type=int, help="default: the pipeline's (at most 100, early stopping)")
    parser.add_argument("--output", type=Path, default=RESULTS / "forecast_real.md")
    args = parser.parse_args(argv)
    results = {name: run(name, args) for name in args.datasets}
    text = report(results, args)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return results


if __name__ == "__main__":
    main()
