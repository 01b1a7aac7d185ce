"""Every pipeline's recurrent layers run the fused loop (`rnnkit.layers.fused`) by default."""

import pytest
import tensorflow as tf

from rnnkit.layers import Recurrent, fused

pytestmark = pytest.mark.skipif(not fused.available(), reason="the fused op could not be built here")

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


@pytest.mark.parametrize("name", FUSED)
def test_pipeline_recurrent_layers_take_the_fused_loop(run_of, name):
    layers = recurrent_layers(run_of(name).pipeline.model)
    for part in FUSED[name]:
        matching = [layer for layer in layers if part in layer.name]
        assert matching, (part, [layer.name for layer in layers])
        assert all(layer.fused_kernel(training=True) is not None for layer in matching), part


@pytest.mark.parametrize("name", ["sentiment", "language_model"])
def test_pipeline_training_graph_holds_the_fused_op(run_of, name):
    model = run_of(name).pipeline.model
    specs = [tf.TensorSpec(tensor.shape, tensor.dtype) for tensor in model.inputs]
    graph = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=True))
    op_types = {op.type for op in graph.get_concrete_function(*specs).graph.get_operations()}
    assert "RnnkitRecurrence" in op_types
