"""`Task`: a pipeline's model with its preprocessing inside, the KerasHub shape.

    raw inputs -> preprocessor (Keras layers: vectorisers, scalers) -> network -> [postprocessor]

The network is the trained `keras.Model` on model-ready batches (`Pipeline.model`, for
`model.fit` workflows over `Pipeline.make_dataset`); the task owns it together with the
preprocessing that was learnt from the training data, so the file `Pipeline.save` writes is
one model that takes raw inputs, in a process that imports rnnkit for its registered layers:

    import keras
    import rnnkit.apps.sentiment

    task = keras.saving.load_model("run/pipeline/model.keras", safe_mode=True)
    task.predict(["what a lovely day"])  # class probabilities

Vocabularies travel as the preprocessing layers' own assets; what is learnt besides them and
is no layer (a label set, the columns of a series) is the task's JSON `metadata`.
"""

import keras
import numpy as np

__all__ = ["Task"]


@keras.saving.register_keras_serializable(package="rnnkit")
class Task(keras.Model):
    """`call(raw) = postprocessor(network(preprocessor(raw)))`, saved and loaded as one model.

    Args:
        preprocessor: a Keras layer from raw inputs (strings, raw values) to the network's
            inputs.
        network: the trained `keras.Model`.
        postprocessor: None, or a Keras layer from the network's outputs to raw outputs
            (e.g. `Normalization(invert=True)`).
        metadata: a JSON-serialisable dict of what the pipeline learnt besides its layers.
    """

    def __init__(self, preprocessor, network, postprocessor=None, metadata=None, **kwargs):
        super().__init__(**kwargs)
        self.preprocessor = preprocessor
        self.network = network
        self.postprocessor = postprocessor
        self.metadata = dict(metadata or {})
        self.built = True  # its parts are: the trained network and the adapted preprocessing

    def call(self, inputs, training=False):
        outputs = self.network(self.preprocessor(inputs), training=training)
        return outputs if self.postprocessor is None else self.postprocessor(outputs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, which also takes a list (or NumPy array) of Python strings."""
        return super().predict(_strings_as_objects(x), *args, **kwargs)

    def get_config(self):
        layers = {
            name: keras.saving.serialize_keras_object(getattr(self, name))
            for name in ("preprocessor", "network", "postprocessor")
        }
        return {**super().get_config(), **layers, "metadata": self.metadata}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("preprocessor", "network", "postprocessor"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def _strings_as_objects(x):
    """Python strings as a NumPy object array, the form Keras's data adapters take for strings."""
    if isinstance(x, (list, tuple)) and x and all(isinstance(item, str) for item in x):
        return np.asarray(x, dtype=object)
    if isinstance(x, np.ndarray) and x.dtype.kind == "U":
        return x.astype(object)
    return x
