"""`ForecastPipeline`: multi-step forecasts of one or more series with an rnnkit cell."""

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import ops
from matplotlib.figure import Figure
from pandas.api.types import is_numeric_dtype
from sklearn.linear_model import Ridge
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from rnnkit.layers import Recurrent

from ..base import Pipeline, compile_task
from ..checks import (
    check_bool,
    check_bptt_steps,
    check_choice,
    check_dropout,
    check_positive_int,
    check_quantiles,
    preview,
)
from .backtest import backtest, score
from .baselines import (
    MAX_TRAIN,
    AutoARIMA,
    AutoETS,
    AutoTheta,
    LastValue,
    LinearAutoregression,
    SeasonalNaive,
    sliding_windows,
)
from .series import FILL, prepare_series, seasonal_period

__all__ = ["ForecastPipeline"]

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
MULTI_STEP = ("direct", "autoregressive")


@keras.saving.register_keras_serializable(package="rnnkit")
class PinballLoss(keras.losses.Loss):
    """The pinball (quantile) loss, averaged over `quantiles`.

        L_q(y, y_hat) = max(q (y - y_hat), (q - 1) (y - y_hat))

    Targets `(B, H, T)` against outputs `(B, H, T, len(quantiles))`.
    """

    def __init__(self, quantiles, name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]

    def call(self, y_true, y_pred):
        q = ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        error = ops.expand_dims(y_true, -1) - y_pred
        return ops.mean(ops.maximum(q * error, (q - 1.0) * error), axis=-1)

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="rnnkit")
class FeedBack(keras.layers.Layer):
    """Autoregressive rollout, the TF tutorial's FeedBack model.

    The cell reads the history (warm-up), predicts the next step of every feature, and
    then reads its own prediction back, `horizon - 1` more times:

        s_0 = state after the history;  z_1 = D(h_0)
        h_k, s_k = cell(z_k, s_{k-1});  z_{k+1} = D(h_k)          k = 1 .. horizon - 1

    `D` (a Dense layer) predicts all `features`; the outputs are the `outputs` heads of
    `h_0 .. h_{horizon-1}` (targets, times quantiles), shape `(batch, horizon, outputs)`.
    """

    def __init__(self, cell, horizon, features, outputs, bptt_steps=None, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        self.horizon, self.features, self.outputs = int(horizon), int(features), int(outputs)
        self.bptt_steps = bptt_steps
        self.warmup = Recurrent(cell, return_state=True, bptt_steps=bptt_steps)
        self.next_features = keras.layers.Dense(self.features, name="next_features")
        self.head = keras.layers.Dense(self.outputs, name="head")

    def build(self, input_shape):
        self.warmup.build(input_shape)
        units = self.cell.output_size
        self.next_features.build((None, units))
        self.head.build((None, units))

    def call(self, inputs, training=False):
        h, *states = self.warmup(inputs, training=training)
        outputs = [self.head(h)]
        for _ in range(self.horizon - 1):
            h, states = self.cell(self.next_features(h), states, training=training)
            states = states if isinstance(states, (list, tuple)) else [states]
            outputs.append(self.head(h))
        return ops.stack(outputs, axis=1)  # (B, horizon, outputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.outputs)

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "horizon": self.horizon,
            "features": self.features,
            "outputs": self.outputs,
            "bptt_steps": self.bptt_steps,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="rnnkit")
class FromLastValue(keras.layers.Layer):
    """Forecasts as changes from the last observed target values: `y_hat = y_T + delta`.

    The network then learns what changes, not the level, so a forecast starts from where
    the history ends and a trend beyond the training range does not leave the scaler's
    range behind (the last-value baseline is the network's zero).
    """

    def __init__(self, targets, **kwargs):
        super().__init__(**kwargs)
        self.targets = int(targets)

    def call(self, history, deltas):
        last = history[:, -1, : self.targets]  # (B, targets)
        last = ops.expand_dims(last, 1)  # (B, 1, targets), over the horizon
        if len(deltas.shape) == 4:  # (B, H, targets, quantiles)
            last = ops.expand_dims(last, -1)
        return deltas + last

    def get_config(self):
        return {**super().get_config(), "targets": self.targets}


@keras.saving.register_keras_serializable(package="rnnkit")
class QuantileOffsets(keras.layers.Layer):
    """Conformal offsets of the forecast quantiles, then the levels put back in order.

        q'_{h,t,k} = q_{h,t,k} + c_{h,t,k};   q' sorted over k

    `c` is zero until `ForecastPipeline.fit` calibrates it on held-out windows (split
    conformal quantile regression, Romano et al., 2019): the lower level of each symmetric
    pair moves down and the upper one up by the same amount, the middle level stays.
    """

    def build(self, input_shape):
        self.offsets = self.add_weight(
            shape=input_shape[1:], initializer="zeros", trainable=False, name="offsets"
        )

    def call(self, quantiles):
        return ops.sort(quantiles + self.offsets, axis=-1)


def conformal_offsets(quantiles, truth, levels):
    """Offsets `(horizon, targets, levels)` that make each symmetric pair of `levels` cover
    its nominal share `levels[-1 - k] - levels[k]` of the held-out `truth`.

        E_i = max(lo_i - y_i, y_i - hi_i);   Q = the ceil((n + 1) c) / n empirical quantile of E
        lo' = lo - Q,   hi' = hi + Q                      (per horizon step and target)

    `quantiles`: `(windows, horizon, targets, levels)`; `truth`: `(windows, horizon, targets)`.

    Example: intervals of width 0 around the truth plus a constant 1 need Q = 1.

    >>> truth = np.zeros((9, 1, 1))
    >>> q = np.concatenate([truth[..., None] + 1] * 3, axis=-1)  # every level says 1
    >>> conformal_offsets(q, truth, [0.1, 0.5, 0.9])[0, 0].tolist()
    [-1.0, 0.0, 1.0]
    """
    offsets = np.zeros(quantiles.shape[1:], dtype="float64")
    n = len(truth)
    for k in range(len(levels) // 2):
        lo, hi = quantiles[..., k], quantiles[..., -1 - k]
        scores = np.maximum(lo - truth, truth - hi)
        share = min(1.0, np.ceil((n + 1) * (levels[-1 - k] - levels[k])) / n)
        q = np.quantile(scores, share, axis=0, method="higher")
        offsets[..., k], offsets[..., -1 - k] = -q, q
    return offsets


def least_squares_head(windows, lookback, n_targets, quantiles=None):
    """The kernel and bias of the `linear` part: changes of the targets over the horizon
    regressed on the whole scaled window by least squares (the tiny ridge penalty of
    `LinearAutoregression`, for stability; a leave-one-out choice of a larger one forecast
    trending series worse).

        y_{T+h} - y_T = W vec(x_{T-L+1..T}) + b + e

    With `quantiles` the kernel is shared by every level, and each level's bias is `b` plus
    that quantile of the in-sample residuals `e`. `windows`: `(N, lookback + horizon, features)`.
    """
    x = windows[:, :lookback].reshape(len(windows), -1)
    deltas = windows[:, lookback:, :n_targets] - windows[:, lookback - 1 : lookback, :n_targets]
    y = deltas.reshape(len(windows), -1)
    ridge = Ridge(alpha=1e-6).fit(x, y)
    kernel, bias = ridge.coef_.T, ridge.intercept_  # (inputs, outputs), (outputs,)
    if quantiles:
        residuals = y - ridge.predict(x)
        kernel = np.repeat(kernel, len(quantiles), axis=1)  # output order (horizon, target, level)
        bias = np.stack([bias + np.quantile(residuals, q, axis=0) for q in quantiles], axis=-1).ravel()
    return [kernel.astype("float32"), bias.astype("float32")]


def _columns_list(name, value):
    """None, or `value` (a column name or a list of column names) as a list."""
    names = list(value) if isinstance(value, (list, tuple)) else [value]
    if value is not None and not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in names):
        raise ValueError(
            f"Argument `{name}` must be None, a column name or a list of column names. "
            f"Received: {name}={value!r}"
        )
    return None if value is None else names


class ForecastPipeline(Pipeline):
    """Multi-step forecasting of `target` columns from the last `lookback` steps.

    raw history `(lookback, features)` -> scaler (fitted on the training part) ->
    `Recurrent(cell)` -> a head for all `horizon` steps at once (`multi_step="direct"`), or
    one step fed back `horizon` times (`"autoregressive"`) -> plus a linear autoregression
    on the whole window (`linear`) -> added to the last observed value (`FromLastValue`)
    -> conformal quantile offsets (`QuantileOffsets`, with `quantiles`) -> inverse scaling:

        y_hat_{T+h} = y_T + W vec(x_{T-L+1..T}) + b + RNN_h(x_{T-L+1..T})

    The linear part starts at its least-squares fit on the training windows and the
    recurrent head at zero, so training starts from the linear autoregression and the
    network learns what it misses (the hybrid of statistical model and RNN that won M4).

    Args:
        target: the column (or list of columns) to forecast; default the first numeric column.
        covariates: past covariates, columns read but not forecast; default every other
            numeric column (`[]` for none).
        lookback: steps of history the model reads (default 48).
        bptt_steps: None for full backpropagation through time, or `k` in `[1, lookback]`
            for truncated BPTT over the history in chunks of `k` steps.
        horizon: steps forecast (default 12).
        time_col: name of the time column when the index is not a DatetimeIndex.
        fill: None (reject gaps and NaN), "interpolate", "ffill" or "zero".
        cell: "rnn", "lstm", "gru", "leaky", "esn" or a cell instance (default "gru").
        units, layers: size and depth of the recurrent part (default 64, 1).
        multi_step: "direct" or "autoregressive" (default "direct"); formerly `strategy`,
            a name now left to `fit(strategy=...)`, the `tf.distribute.Strategy`.
        quantiles: None for point forecasts (MSE), or increasing levels in (0, 1) such as
            [0.1, 0.5, 0.9] (pinball loss); the point forecast is then the middle level.
        scaler: "standard", "minmax" or "robust" (scikit-learn), fitted on training data.
        season: seasonal period m for MASE and the seasonal-naive baseline; default from the
            frequency (24 for hourly, 7 for daily, 12 for monthly).
        linear: add the linear autoregression on the whole window (default True).
        validation_tail: the last fraction of the series `fit` holds out when it gets no
            `validation_data` (default 0.1; 0 for none): the epoch is selected on it, and
            the quantiles calibrated.
        dropout: the share of the recurrent output dropped before the direct head in training
            (default 0.1).
        batch_size, learning_rate, seed: training settings.
    """

    def __init__(
        self,
        *,
        target=None,
        covariates=None,
        lookback=48,
        bptt_steps=None,
        horizon=12,
        time_col=None,
        fill=None,
        cell="gru",
        units=64,
        layers=1,
        multi_step="direct",
        quantiles=None,
        scaler="standard",
        season=None,
        dropout=0.1,
        batch_size=64,
        learning_rate=1e-3,
        seed=0,
        linear=True,
        validation_tail=0.1,
        **renamed,
    ):
        super().__init__(cell, units, dropout, batch_size, learning_rate, seed)
        if "strategy" in renamed:
            raise ValueError(
                'Argument `strategy` of ForecastPipeline is now `multi_step` ("direct" or '
                '"autoregressive"); `strategy` is left to `fit(strategy=...)`, a tf.distribute.Strategy.'
            )
        if renamed:
            raise TypeError(f"ForecastPipeline() got unexpected keyword arguments {sorted(renamed)}")
        _columns_list("target", target)  # checked now, kept as given (`get_config`)
        _columns_list("covariates", covariates)
        self.target, self.covariates = target, covariates
        self.lookback = check_positive_int("lookback", lookback)
        self.bptt_steps = check_bptt_steps(bptt_steps, self.lookback, "lookback")
        self.horizon = check_positive_int("horizon", horizon)
        self.time_col = time_col
        self.fill = check_choice("fill", fill, [None, *FILL])
        self.layers = check_positive_int("layers", layers)
        self.multi_step = check_choice("multi_step", multi_step, MULTI_STEP)
        self.quantiles = check_quantiles(quantiles)
        self.scaler = check_choice("scaler", scaler, sorted(SCALERS))
        self.season = None if season is None else check_positive_int("season", season)
        self.linear = check_bool("linear", linear)
        self.validation_tail = check_dropout("validation_tail", validation_tail)
        self.linear_start = None  # the linear part's least-squares weights, once data is seen

    # Data --------------------------------------------------------------------------------

    def _columns(self, frame, learned=True):
        """`(targets, covariates)` for this frame (the learned ones once fitted, if `learned`)."""
        if learned and self.state is not None:
            return self.state["targets"], self.state["covariates"]
        candidates = [c for c in frame.columns if c != self.time_col and is_numeric_dtype(frame[c])]
        targets = _columns_list("target", self.target) or candidates[:1]
        if not targets:
            raise ValueError("Argument `target`: the data has no numeric column to forecast.")
        covariates = _columns_list("covariates", self.covariates)
        if covariates is None:
            covariates = [c for c in candidates if c not in targets]
        for name, columns in (("target", targets), ("covariates", covariates)):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"Argument `{name}`: no column(s) {preview(missing)} in the data; "
                    f"its columns are {preview(list(frame.columns))}."
                )
        both = [c for c in covariates if c in targets]
        if both:
            raise ValueError(
                f"Argument `covariates`: {preview(both)} is a target too; a column is one or the other."
            )
        return targets, covariates

    def check_data(self, frame, argument="data"):
        # training data (`data`) is read afresh, so a refit may differ; other data must match it
        learned = argument != "data" and self.state is not None
        targets, covariates = self._columns(frame, learned) if isinstance(frame, pd.DataFrame) else ([], [])
        series, freq = prepare_series(frame, targets + covariates, self.time_col, self.fill, argument)
        if len(series) < self.lookback + self.horizon:
            raise ValueError(
                f"Argument `{argument}` has {len(series)} steps; lookback + horizon = "
                f"{self.lookback + self.horizon} are needed."
            )
        if learned and freq != self.state["freq"]:
            raise ValueError(
                f"Argument `{argument}` has frequency {freq!r}; the model was fit on {self.state['freq']!r}."
            )
        if learned and not np.isfinite(ops.convert_to_numpy(self.preprocessor(series.to_numpy()))).all():
            raise ValueError(
                f"Argument `{argument}` holds values so far outside the training data's range that they "
                "overflow the model's float32 once scaled."
            )
        return series

    def learn_preprocessing(self, train):
        targets, covariates = self._columns(train, learned=False)
        scaler = SCALERS[self.scaler]().fit(train.to_numpy())
        if self.scaler == "minmax":
            offset, factor = scaler.data_min_, scaler.data_range_
        else:
            offset, factor = getattr(scaler, "mean_", getattr(scaler, "center_", None)), scaler.scale_
        # A constant column stays as it is, shifted. A spread below Keras's epsilon is floored
        # there: `Normalization` divides by max(sqrt(variance), epsilon), and the state says so.
        factor = np.where(factor > 0, np.maximum(factor, keras.config.epsilon()), 1.0)
        self.state = {
            "targets": targets,
            "covariates": covariates,
            "freq": train.index.freqstr,
            "season": self.season or seasonal_period(train.index.freqstr),
        }
        # x' = (x - offset) / factor, every column; its inverse on the targets is the postprocessor
        self.preprocessor = keras.layers.Normalization(
            mean=[float(x) for x in offset], variance=[float(x) ** 2 for x in factor], name="scaling"
        )
        self.preprocessor.build((None, None, len(offset)))  # now, not first inside a tf.data graph
        if self.linear:
            scaled = (train.to_numpy() - offset) / factor
            windows = sliding_windows(scaled, self.lookback + self.horizon)
            self.linear_start = least_squares_head(windows, self.lookback, len(targets), self.quantiles)

    def postprocessor(self):
        """The preprocessor's inverse on the targets: `y = y' factor + offset` (the quantile axis
        after the targets' is left alone)."""
        n = len(self.state["targets"])
        unscaling = keras.layers.Normalization(
            axis=-2 if self.quantiles else -1,
            mean=self.preprocessor.input_mean[:n],
            variance=self.preprocessor.input_variance[:n],
            invert=True,
            name="unscaling",
        )
        unscaling.build(self.model.output_shape)
        return unscaling

    def make_dataset(self, data, training=False):
        """Windows `(lookback, features)` -> `(horizon, targets)`, scaled, from a prepared series."""
        n_targets = len(self.state["targets"])
        windows = keras.utils.timeseries_dataset_from_array(
            data.to_numpy().astype("float32"),
            None,
            sequence_length=self.lookback + self.horizon,
            batch_size=self.batch_size,
            shuffle=training,
            seed=self.seed,
        )
        windows = windows.map(self.preprocessor)
        return windows.map(lambda w: (w[:, : self.lookback], w[:, self.lookback :, :n_targets])).prefetch(
            tf.data.AUTOTUNE
        )

    # Model -------------------------------------------------------------------------------

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        n_features = len(self.state["targets"]) + len(self.state["covariates"])
        n_targets = len(self.state["targets"])
        n_quantiles = len(self.quantiles) if self.quantiles else 1
        inputs = keras.Input((self.lookback, n_features), name="history")
        h = inputs
        for _ in range(self.layers - 1):
            h = Recurrent(self.new_cell(), return_sequences=True, bptt_steps=self.bptt_steps)(h)
        n_outputs = self.horizon * n_targets * n_quantiles
        if self.multi_step == "direct":
            h = Recurrent(self.new_cell(), bptt_steps=self.bptt_steps)(h)
            h = keras.layers.Dropout(self.dropout)(h)
            start = "zeros" if self.linear else "glorot_uniform"  # the linear fit is the start
            outputs = keras.layers.Dense(n_outputs, kernel_initializer=start, name="head")(h)
        else:
            outputs = FeedBack(
                self.new_cell(),
                self.horizon,
                h.shape[-1],
                n_targets * n_quantiles,
                bptt_steps=self.bptt_steps,
            )(h)
            outputs = keras.layers.Flatten()(outputs)
        if self.linear:
            linear = keras.layers.Dense(n_outputs, name="linear")
            outputs = keras.layers.Add()([outputs, linear(keras.layers.Flatten()(inputs))])
            if self.linear_start is not None:
                linear.set_weights(self.linear_start)
        shape = (self.horizon, n_targets, n_quantiles) if self.quantiles else (self.horizon, n_targets)
        outputs = keras.layers.Reshape(shape, name="deltas")(outputs)
        outputs = FromLastValue(n_targets, name="forecast")(inputs, outputs)
        if self.quantiles:
            outputs = QuantileOffsets(name="calibration")(outputs)
        model = keras.Model(inputs, outputs, name=f"forecast_{self.multi_step}")
        loss = PinballLoss(self.quantiles) if self.quantiles else "mse"
        return compile_task(model, self.learning_rate, loss=loss)

    # Training ----------------------------------------------------------------------------

    def fit(self, series, validation_data=None, epochs=100, patience="auto", **options):
        """Trains on `series` (`Pipeline.fit`), selecting the epoch on held-out windows.

        Without `validation_data`, the last `validation_tail` of `series` is held out (its
        windows start `lookback` steps before it). With validation data, `patience` is 10 by
        default: the learning rate halves on a plateau of the validation loss, training stops
        after `patience` epochs without a better one and keeps the best (so `epochs` is a
        ceiling). With `quantiles`, the held-out windows then calibrate the intervals
        (`conformal_offsets`).

        Args:
            series: a DataFrame (see `prepare_series`).
            validation_data: `(series,)`, or None for the held-out tail.
            epochs: at most this many passes (default 100).
            patience: "auto" (10 with validation data, none without), None (every epoch
                at the set learning rate), or a positive integer.
            **options: the other arguments of `Pipeline.fit` (callbacks, strategy, ...).
        """
        if validation_data is None and self.validation_tail > 0:
            series = self.check_data(series, argument="data")
            held = max(self.horizon, round(self.validation_tail * len(series)))
            kept = len(series) - held
            if kept < self.lookback + self.horizon:
                raise ValueError(
                    f"Argument `validation_tail`: holding out the last {held} of {len(series)} steps "
                    f"leaves {kept}, fewer than lookback + horizon = {self.lookback + self.horizon}. "
                    "Pass a longer series, `validation_data`, or validation_tail=0."
                )
            series, validation_data = series.iloc[:kept], (series.iloc[kept - self.lookback :],)
        if patience == "auto":
            patience = None if validation_data is None else 10
        history = super().fit(
            series, validation_data=validation_data, epochs=epochs, patience=patience, **options
        )
        if self.quantiles and validation_data is not None:
            self.calibrate(*validation_data)
        return history

    def calibrate(self, series):
        """Sets the conformal quantile offsets (`conformal_offsets`) from every window of
        `series`, data the network did not train on."""
        self._check_fitted("calibrate")
        layer = self.model.get_layer("calibration")
        layer.offsets.assign(np.zeros(layer.offsets.shape))
        dataset = self.make_dataset(self.check_data(series, argument="series"))
        # the network called batch by batch, not `predict`: under a multi-worker strategy
        # `predict` would see only this worker's share of the windows
        batches = [(ops.convert_to_numpy(self.model(x, training=False)), y.numpy()) for x, y in dataset]
        quantiles, truth = (np.concatenate(part) for part in zip(*batches, strict=True))
        layer.offsets.assign(conformal_offsets(quantiles, truth, self.quantiles).astype("float32"))

    # Task verbs --------------------------------------------------------------------------

    name = "rnnkit"  # its rows in a backtest

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "strategy" in config:  # a pipeline saved before `strategy` became `multi_step`
            config["multi_step"] = config.pop("strategy")
        return super().from_config(config)

    def _forecast_windows(self, windows):
        """Raw-scale forecasts for raw windows `(N, lookback, features)`."""
        return self.task.predict(windows.astype("float32"), batch_size=256, verbose=0)

    def _point(self, forecasts):
        if self.quantiles is None:
            return forecasts
        return forecasts[..., len(self.quantiles) // 2]

    def forecast(self, history, horizon=None):
        """The next `horizon` (default and at most the pipeline's) steps after `history`, as
        an array `(horizon, targets)`, or `(horizon, targets, quantiles)` with quantiles: the
        forecaster interface of `backtest`."""
        self._check_fitted("forecast")
        horizon = self.horizon if horizon is None else check_positive_int("horizon", horizon)
        if horizon > self.horizon:
            raise ValueError(
                f"Argument `horizon`: this pipeline forecasts up to {self.horizon} steps; got {horizon}."
            )
        series = self.check_data(history, argument="history")
        return self._forecast_windows(series.to_numpy()[None, -self.lookback :])[0, :horizon]

    def predict(self, history):
        """Forecasts after the end of `history`: a DataFrame indexed by the next `horizon` timestamps.

        Columns: one per target (the point forecast), plus `{target}_q{level}` per quantile.
        """
        self._check_fitted("predict")
        series = self.check_data(history, argument="history")
        forecasts = self._forecast_windows(series.to_numpy()[None, -self.lookback :])[0]
        index = pd.date_range(series.index[-1], periods=self.horizon + 1, freq=self.state["freq"])[1:]
        frame = pd.DataFrame(self._point(forecasts), index=index, columns=self.state["targets"])
        for k, level in enumerate(self.quantiles or []):
            for t, target in enumerate(self.state["targets"]):
                frame[f"{target}_q{level:g}"] = forecasts[:, t, k]
        return frame

    def evaluate(self, series):
        """MAE, RMSE, MASE and sMAPE (and pinball, coverage) over every window of `series`.

        The first window starts after `lookback` steps, and after more than one season (MASE's
        in-sample scale compares each step with the one a season before).
        """
        self._check_fitted("evaluate")
        start = max(self.lookback, self.state["season"] + 1)
        series = self.check_data(series, argument="series")
        if len(series) < start + self.horizon:
            raise ValueError(
                f"Argument `series` has {len(series)} steps; evaluate needs {start + self.horizon}: {start} "
                f"before the first forecast (lookback, and more than season={self.state['season']} for "
                f"MASE) and horizon={self.horizon} after."
            )
        values, n_targets = series.to_numpy(), len(self.state["targets"])
        origins = range(start, len(series) - self.horizon + 1)
        forecasts = self._forecast_windows(np.stack([values[o - self.lookback : o] for o in origins]))
        insample, season = values[:start, :n_targets], self.state["season"]
        rows = []
        for o, forecast in zip(origins, forecasts, strict=True):
            truth, quantiles = values[o : o + self.horizon, :n_targets], forecast if self.quantiles else None
            rows.append(score(truth, self._point(forecast), insample, season, quantiles, self.quantiles))
        return pd.DataFrame(rows).mean().to_dict()

    def baselines(self, targets, season):
        """The baselines a backtest scores beside this pipeline, on its target columns.

        Last value, seasonal naive (period `season`), a linear autoregression on `lookback`
        steps for `horizon` steps, and the statistical models AutoETS, AutoARIMA and AutoTheta
        of period `season` with this pipeline's `quantiles` (their interval ends, so that the
        backtest scores their pinball loss and coverage too). Each statistical model is
        fitted once, on the last 1000 steps before the first origin (or two seasons, if
        more); ETS and ARIMA take seasons up to 24 and fit longer ones without a season.
        """
        window = max(MAX_TRAIN, 2 * season)
        statistical = {"quantiles": self.quantiles, "max_train": window, "columns": targets}
        return [
            LastValue(columns=targets),
            SeasonalNaive(season, columns=targets),
            LinearAutoregression(self.lookback, self.horizon, columns=targets),
            AutoETS(season, **statistical),
            AutoARIMA(season, **statistical),
            AutoTheta(season, **statistical),
        ]

    def backtest(self, series, start=None, stride=None, refit=False, epochs=10, baselines=True):
        """`backtest` (rnnkit.apps.forecasting.backtest) of this pipeline and its baselines.

        This pipeline is never changed: untrained, or with `refit`, copies of it are trained.

        Args:
            series: a DataFrame of the same columns (prepared like the training data).
            start: the first forecast origin, a position or a timestamp (default: 80% in).
            stride: steps between origins (default `horizon`).
            refit: train a fresh copy of the pipeline (and of the baselines) on everything
                before each origin.
            epochs: training epochs of those copies.
            baselines: also score the baselines of `baselines()`: last value, seasonal naive,
                linear autoregression, AutoETS, AutoARIMA and AutoTheta.

        Returns:
            A DataFrame with columns model, fold, origin, mae, rmse, mase, smape (and
            pinball, coverage with quantiles: for this pipeline and the statistical models).
        """
        series = self.check_data(series, argument="series")
        targets = self._columns(series)[0]
        season = self.state["season"] if self.state else self.season or seasonal_period(series.index.freqstr)
        return backtest(
            [self, *(self.baselines(targets, season) if baselines else [])],
            series,
            horizon=self.horizon,
            start=start,
            stride=stride,
            refit=refit,
            targets=targets,
            season=season,
            fit_kwargs={self.name: {"epochs": check_positive_int("epochs", epochs), "verbose": 0}},
        )

    def plots(self, series, table):
        """The forecast from the last origin of a backtest `table` against the truth (with the
        interval), and each model's error by fold and its mean MASE."""
        series = self.check_data(series, argument="series")
        origin = series.index.get_loc(table.origin.iloc[-1])
        history = series.iloc[:origin]
        forecast = self.predict(history)
        target = self.state["targets"][0]
        figure = Figure(figsize=(8, 3.5))
        ax = figure.subplots()
        recent = history[target].iloc[-3 * self.horizon :]
        ax.plot(recent.index, recent, label="history")
        ax.plot(forecast.index, series[target].iloc[origin : origin + self.horizon], label="truth")
        ax.plot(forecast.index, forecast[target], label="forecast")
        if self.quantiles:
            low, high = self.quantiles[0], self.quantiles[-1]
            band = forecast[f"{target}_q{low:g}"], forecast[f"{target}_q{high:g}"]
            ax.fill_between(forecast.index, *band, alpha=0.3, label=f"{low:g}-{high:g} interval")
        ax.set_title(f"{target}: forecast from {forecast.index[0]}")
        ax.legend()
        figure.autofmt_xdate()

        errors = Figure(figsize=(9, 3.5))
        by_fold, by_model = errors.subplots(1, 2)
        for name, rows in table.groupby("model", sort=False):
            by_fold.plot(rows.fold, rows.mae, marker=".", label=name)
        by_fold.set(xlabel="fold", ylabel="MAE", title="error by backtest fold")
        by_fold.legend()
        mase = table.groupby("model", sort=False).mase.mean()
        by_model.barh(mase.index, mase.to_numpy())
        by_model.axvline(1.0, color="gray", linestyle="--")
        by_model.set(xlabel="MASE (below 1 beats seasonal naive in-sample)", title="mean MASE by model")
        return {"forecast": figure, "backtest_error": errors}

    # Export ------------------------------------------------------------------------------

    def serving_function(self):
        def serve(history):
            history = tf.debugging.assert_all_finite(history, "Argument `history` holds NaN or infinity.")
            forecasts = self.task(history, training=False)
            quantiles = {"quantiles": forecasts} if self.quantiles else {}
            return {"forecast": self._point(forecasts), **quantiles}

        n_features = len(self.state["targets"]) + len(self.state["covariates"])
        return serve, [tf.TensorSpec([None, self.lookback, n_features], tf.float32, name="history")]
