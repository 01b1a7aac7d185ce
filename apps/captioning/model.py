"""`Captioner`: an image (or its feature vector) conditions a recurrent decoder (one-to-many);
`CaptionPreprocessor`: images and captions to what it reads."""

import keras
import tensorflow as tf
from keras import ops

from rnnkit.layers import Recurrent, clone_cell

from ..generation import (
    END,
    START,
    START_ID,
    RecurrentDecoder,
    make_vectorizer,
    split_punctuation,
    target_ids,
)

__all__ = ["BACKBONES", "CONDITIONING", "CaptionPreprocessor", "Captioner", "backbone", "decode_images"]

_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")  # JPEG, PNG, GIF, BMP

CONDITIONING = ("init_state", "every_step", "both")

# keras.applications backbones rnnkit knows how to preprocess for: name -> module.
BACKBONES = {
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "ResNet50": "resnet50",
    "EfficientNetB0": "efficientnet",
    "VGG16": "vgg16",
}


def backbone(name, image_size):
    """A `keras.applications` network without its top, average-pooled, never downloading weights."""
    model = getattr(keras.applications, name)(
        include_top=False, weights=None, input_shape=(image_size, image_size, 3), pooling="avg"
    )
    model.trainable = False  # a feature extractor: its (locally loaded) weights stay as they are
    return model


def decode_images(data, image_size):
    """Encoded images `(batch,)` tf.string to uint8 `(batch, size, size, 3)`, as graph code.

    Bytes that are not JPEG, PNG, GIF or BMP fail with an error that lists their batch
    indices; grayscale and RGBA become RGB; every image is resized to a square in memory.
    """
    known = tf.zeros_like(data, dtype=tf.bool)
    for signature in _SIGNATURES:
        known |= tf.equal(tf.strings.substr(data, 0, len(signature)), signature)
    check = tf.debugging.Assert(
        tf.reduce_all(known),
        ["Argument `images`: not JPEG/PNG/GIF/BMP bytes at batch indices", tf.where(~known)[:, 0]],
    )

    def one(image):
        pixels = tf.io.decode_image(image, channels=3, expand_animations=False)
        resized = tf.image.resize(pixels, [image_size, image_size], antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    with tf.control_dependencies([check]):
        return tf.map_fn(one, data, fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.uint8))


def standardize(texts):
    """Lower-cased captions with punctuation split off, as graph code."""
    return split_punctuation(tf.strings.lower(texts, encoding="utf-8"))


@keras.saving.register_keras_serializable(package="rnnkit")
class CaptionPreprocessor(keras.layers.Layer):
    """Images and captions to what the `Captioner` reads.

        call(images)       -> uint8 pixels `(B, size, size, 3)`: encoded images (JPEG, PNG,
                              GIF, BMP bytes) decoded and resized; pixel arrays (or, with
                              `image_size=None`, feature vectors) as they are
        targets(captions)  -> ragged `(target_in, target_out)`: `[start] w_1..w_n`, `w_1..w_n [end]`

    The caption vocabulary (without padding, `[UNK]`, `[start]`, `[end]`) is in the config.
    """

    def __init__(self, vocabulary, max_len, image_size=None, **kwargs):
        super().__init__(**kwargs)
        self.config = {"vocabulary": list(vocabulary), "max_len": max_len, "image_size": image_size}
        self.vectorizer = make_vectorizer(vocabulary, "caption_vectorizer", reserved=(START, END))
        self.built = True  # no weights of its own

    def call(self, images):
        if images.dtype == tf.string:
            return decode_images(images, self.config["image_size"])
        return images

    def targets(self, captions):
        return target_ids(self.vectorizer, standardize(captions), self.config["max_len"])

    def get_config(self):
        return {**super().get_config(), **self.config}


@keras.saving.register_keras_serializable(package="rnnkit")
class Captioner(RecurrentDecoder):
    """The lecture's caption generator: a fixed vector `x` conditions an RNN that writes words.

        f   = BatchNorm(encoder(image))             (batch, feature width): each feature standardised
                                                     over the data, so what differs between images
                                                     drives s_0, whatever the vectors' scale
        s_0 = tanh(W_s f + b_s), per state           conditioning "init_state" or "both"
        v   = relu(W_v f + b_v)                      conditioning "every_step" or "both"
        y_t = Recurrent(cell)([Embedding(w_{t-1}) ; v], initial state s_0 or zeros)
        logits_t = Dropout(y_t) W_o + b_o

    The encoder is `"cnn"` (a small convolutional network, conv-batchnorm-relu-pool x 4,
    trained with the decoder; it
    flattens its last feature map, so where things are stays in `f`), `"features"` (the
    input already is `f`), or the name of a `keras.applications` backbone (frozen).

    Args:
        vocab_size: output vocabulary size, padding included.
        cell: the template cell of the decoder.
        units, embedding_dim: decoder state size, word-vector width.
        encoder: `"cnn"`, `"features"` or a name in `BACKBONES`.
        image_size: side of the square input images (ignored for `"features"`).
        feature_dim: width of the input vectors for `"features"`.
        conditioning: `"init_state"`, `"every_step"` or `"both"`.
        dropout: dropout of the image vector, the word vectors and before the output layer.
    """

    def __init__(
        self,
        vocab_size,
        cell,
        units,
        embedding_dim,
        encoder="cnn",
        image_size=64,
        feature_dim=None,
        conditioning="init_state",
        dropout=0.0,
        **kwargs,
    ):
        sizes = {"vocab_size": vocab_size, "units": units, "embedding_dim": embedding_dim}
        images = {"encoder": encoder, "image_size": image_size, "feature_dim": feature_dim}
        super().__init__(
            cell, {**sizes, **images, "conditioning": conditioning, "dropout": dropout}, **kwargs
        )
        cell = self.template
        if encoder == "cnn":
            blocks = [keras.layers.Rescaling(1.0 / 255)]
            for filters in (32, 48, 64, 64):
                blocks += [
                    keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
                    keras.layers.BatchNormalization(momentum=0.9),
                    keras.layers.ReLU(),
                    keras.layers.MaxPooling2D(),
                ]
            blocks += [keras.layers.Flatten(), keras.layers.Dense(256, activation="relu")]
            self.encoder = keras.Sequential(blocks, name="cnn")
        elif encoder == "features":
            self.encoder = None
        else:
            self.encoder = backbone(encoder, image_size)
            self.preprocess = getattr(keras.applications, BACKBONES[encoder]).preprocess_input
        self.feature_norm = keras.layers.BatchNormalization(momentum=0.9, name="feature_norm")
        self.feature_dropout = keras.layers.Dropout(dropout)
        self.init_state = conditioning in ("init_state", "both")
        self.every_step = conditioning in ("every_step", "both")
        states = len(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else 1
        bridges = range(states) if self.init_state else []  # a bridge per state, s_0 = tanh(W_s f + b_s)
        self.bridges = [keras.layers.Dense(units, activation="tanh", name=f"bridge_{i}") for i in bridges]
        self.step_features = None
        if self.every_step:
            self.step_features = keras.layers.Dense(embedding_dim, activation="relu", name="step_features")
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.decoder_cell = clone_cell(cell)
        self.decoder = Recurrent(self.decoder_cell, return_sequences=True, name="decoder")
        self.output_dropout = keras.layers.Dropout(dropout)
        self.logits = keras.layers.Dense(vocab_size, name="logits")

    # The two halves ------------------------------------------------------------------------

    def image_features(self, images, training=False):
        """`f`: images `(batch, size, size, 3)` (0..255) or vectors `(batch, feature_dim)`."""
        if self.encoder is None:
            return ops.cast(images, self.compute_dtype)
        images = ops.cast(images, "float32")
        if self.config["encoder"] != "cnn":
            images = self.preprocess(images)
        return self.encoder(images, training=training)

    def condition(self, images, training=False):
        """The decoder's starting point: `{"cell": s_0, "features": v}` (`features` if every step)."""
        f = self.feature_norm(self.image_features(images, training=training), training=training)
        f = self.feature_dropout(f, training=training)
        if self.init_state:
            states = [bridge(f) for bridge in self.bridges]
        else:
            states = self.decoder_cell.get_initial_state(batch_size=ops.shape(f)[0])
            states = list(states) if isinstance(states, (list, tuple)) else [states]
        state = {"cell": states}
        if self.every_step:
            state["features"] = self.step_features(f)
        return state

    def encode(self, images, training=False):
        """`([start] tokens, the decoder's first state)` for images or feature vectors."""
        state = self.condition(images, training=training)
        return ops.full((ops.shape(state["cell"][0])[0],), START_ID, dtype="int32"), state

    def decode_step(self, tokens, state):
        """One decoder step at inference: `(logits (batch, V), state)`."""
        x = self.embedding(tokens)
        if self.every_step:
            x = ops.concatenate([x, state["features"]], axis=-1)
        output, cell_state = self.decoder_cell(x, state["cell"])
        cell_state = list(cell_state) if isinstance(cell_state, (list, tuple)) else [cell_state]
        return self.logits(output), {**state, "cell": cell_state}

    # Teacher forcing -----------------------------------------------------------------------

    def call(self, inputs, training=False):
        images, target_in = inputs
        state = self.condition(images, training=training)
        x = self.embedding_dropout(self.embedding(target_in), training=training)
        if self.every_step:
            steps = ops.shape(target_in)[1]
            x = ops.concatenate([x, ops.repeat(state["features"][:, None, :], steps, axis=1)], axis=-1)
        y = self.decoder(x, initial_state=state["cell"], mask=ops.not_equal(target_in, 0), training=training)
        return self.logits(self.output_dropout(y, training=training))

    def example_inputs(self):
        size = self.config["image_size"]
        images = (1, self.config["feature_dim"]) if self.encoder is None else (1, size, size, 3)
        return (ops.zeros(images), ops.ones((1, 2), dtype="int32"))
