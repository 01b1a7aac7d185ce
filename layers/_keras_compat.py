"""The only place where rnnkit reaches into Keras's private `keras.src`.

Two pieces of `keras.layers.RNN`'s machinery have no public name in Keras 3.15:

- `DropoutRNNCell`: `keras.layers.RNN` draws a cell's dropout masks once per call (so the
  same mask serves every step of a sequence) and clears them afterwards (so the next batch
  gets a fresh one), but only for cells that subclass this mixin.
- `rnn`: the backend's time loop (masking, `go_backwards`, `unroll`, `zero_output_for_mask`)
  that `keras.layers.RNN.inner_loop` runs; `Recurrent` runs it over a pre-projected sequence.

`tests/layers/test_keras_compat.py` pins the behaviour rnnkit relies on, so a Keras upgrade
that moves either fails there, in one place.
"""

from keras.src.backend import rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["DropoutRNNCell", "rnn"]
