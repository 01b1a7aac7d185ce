"""Properties over random shapes (hypothesis): what must hold for any size, not one example."""

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import layers as rk
from tests.helpers import assert_close

CELL_NAMES = sorted(rk.CELLS)
FEW = settings(max_examples=12, deadline=None)


@FEW
@given(
    name=st.sampled_from(CELL_NAMES),
    units=st.integers(1, 6),
    features=st.integers(1, 5),
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    go_backwards=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_recurrent_equals_keras_rnn_for_any_shape_and_mask(
    name, units, features, lengths, go_backwards, seed
):
    time = max(lengths)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(lengths), time, features)).astype("float32")
    mask = np.arange(time)[None, :] < np.array(lengths)[:, None]
    options = {"return_sequences": True, "go_backwards": go_backwards}
    reference = keras.layers.RNN(rk.get_cell(name, units, seed=seed), **options)
    ours = rk.Recurrent(rk.get_cell(name, units, seed=seed), **options)
    for layer in (reference, ours):
        layer.build(x.shape)
    ours.set_weights(reference.get_weights())
    assert_close(ours(x, mask=mask), reference(x, mask=mask))


@FEW
@given(units=st.integers(1, 24), blocks=st.sampled_from([1, 3, 4]), radius=st.floats(0.05, 3.0))
def test_spectral_radius_for_any_size(units, blocks, radius):
    w = rk.SpectralRadius(radius, seed=units)((units, blocks * units)).numpy()
    for block in np.split(w, blocks, axis=1):
        assert abs(np.abs(np.linalg.eigvals(block)).max() - radius) < 1e-3 * max(1.0, radius)


@FEW
@given(name=st.sampled_from(CELL_NAMES), units=st.integers(1, 8), batch=st.integers(1, 4))
def test_initial_state_matches_state_size(name, units, batch):
    cell = rk.get_cell(name, units)
    sizes = cell.state_size if isinstance(cell.state_size, list) else [cell.state_size]
    states = cell.get_initial_state(batch_size=batch)
    assert [tuple(s.shape) for s in states] == [(batch, size) for size in sizes]
    assert all(np.all(keras.ops.convert_to_numpy(s) == 0) for s in states)
