"""Every pipeline's recurrent layers run the fused loop (`rnnkit.layers.fused`) by default,
and every pipeline's `fit` runs many batches per call of the compiled training function."""

import pytest
import tensorflow as tf

from rnnkit.apps.base import STEPS_PER_EXECUTION
from rnnkit.layers import Recurrent, fused

needs_op = pytest.mark.skipif(not fused.available(), reason="the fused op could not be built here")

# pipeline: the recurrent layers that must be fused (a part of the layer's name)
FUSED = {
    "sentiment": ["forward_recurrent", "backward_recurrent"],  # bidirectional by default
    "forecast": ["recurrent"],
    "translation": ["forward_encoder", "backward_encoder"],
    "language_model": ["recurrent"],
    "caption": ["decoder"],
}


def recurrent_layers(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, Recurrent)]


@needs_op
@pytest.mark.parametrize("name", FUSED)
def test_pipeline_recurrent_layers_take_the_fused_loop(run_of, name):
    layers = recurrent_layers(run_of(name).pipeline.model)
    for part in FUSED[name]:
        matching = [layer for layer in layers if part in layer.name]
        assert matching, (part, [layer.name for layer in layers])
        assert all(layer.fused_kernel(training=True) is not None for layer in matching), part


@needs_op
@pytest.mark.parametrize("name", ["sentiment", "language_model"])
def test_pipeline_training_graph_holds_the_fused_op(run_of, name):
    pipeline = run_of(name).pipeline
    model = pipeline.model
    if name == "language_model":  # a subclassed model, of windows of `seq_len` token ids
        spec = tf.TensorSpec([None, pipeline.seq_len], tf.int32)
    else:  # sentiment's: a dict of token ids and their character n-grams
        spec = tf.nest.map_structure(lambda tensor: tf.TensorSpec(tensor.shape, tensor.dtype), model.input)
    graph = tf.function(lambda x: model(x, training=True))
    op_types = {op.type for op in graph.get_concrete_function(spec).graph.get_operations()}
    assert "RnnkitRecurrence" in op_types


@pytest.mark.parametrize("name", FUSED)
def test_pipeline_fit_runs_many_batches_per_call(run_of, name):
    """What made `model.fit` faster is on in every pipeline: `STEPS_PER_EXECUTION` batches per
    call of the compiled training function, not one Python round trip per batch."""
    model = run_of(name).pipeline.model
    assert model.steps_per_execution == STEPS_PER_EXECUTION > 1
