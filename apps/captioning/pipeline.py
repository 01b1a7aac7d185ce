"""`CaptionPipeline`: an image (or its feature vector) in, a sentence out (one-to-many)."""

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from sacrebleu.metrics import BLEU

from ..base import Pipeline
from ..checks import check_choice, check_non_negative, check_positive_int, check_texts
from ..generation import (
    IdsToText,
    TextGenerator,
    adapt_words,
    check_decoding,
    check_repetition,
    compile_generator,
    teacher_forcing_batches,
)
from .data import decode_image
from .model import BACKBONES, CONDITIONING, Captioner, CaptionPreprocessor, standardize

__all__ = ["ENCODERS", "CaptionPipeline"]

ENCODERS = ("cnn", "features", *BACKBONES)
_MIN_CNN_SIZE = 16  # the "cnn" encoder halves the image four times


class CaptionPipeline(Pipeline):
    """Caption generation: an image conditions a recurrent decoder (the lecture's one-to-many).

    images (uint8 arrays, encoded bytes or files) -> encoder (`"cnn"`, `"features"` or a
    `keras.applications` backbone) -> `f` -> conditioning of the decoder (`"init_state"`:
    `s_0 = tanh(W f)`; `"every_step"`: `[word vector ; relu(W f)]` at every step; `"both"`)
    -> `Recurrent(cell)` trained by teacher forcing with a masked cross-entropy -> greedy,
    beam-search or sampled captions (`rnnkit.layers.decoding`).

    Args:
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance. Default `"gru"`.
        units: decoder state size (default 256).
        embedding_dim: word-vector width (default 64).
        encoder: `"cnn"` (default), `"features"` (precomputed vectors), or a backbone name in
            `BACKBONES` (e.g. `"MobileNetV2"`), which needs `backbone_weights`.
        backbone_weights: a local weights file of the backbone without its top, as
            `keras.Model.load_weights` reads it (e.g. a `.weights.h5` that `save_weights`
            wrote), read by `fit` into the frozen backbone; nothing is downloaded. The saved
            pipeline and the export hold the weights, so neither needs the file afterwards.
        conditioning: `"both"` (default), `"init_state"` or `"every_step"`.
        image_size: images are resized (in memory) to this square side (default 64; at least 16
            with `"cnn"`, which halves it four times).
        dropout: dropout of the image vector, word vectors and decoder output (default 0.1).
        vocab_size: most frequent caption words kept, padding, `[UNK]`, `[start]` and `[end]`
            included (default 5000).
        max_len: words per caption, the end token included (default 30).
        batch_size, learning_rate: training batch size (default 64) and Adam's rate (2e-3).
        beam_width, length_penalty: of `generate(method="beam")` (defaults 3 and 0.6).
        no_repeat_ngram_size: no n-gram of this many tokens is generated twice in one output
            (0: off), in every decoding method and the export. Default 3: a caption rarely
            repeats three words (3 of the 400 human COCO captions in the shared subset; no
            generated scene, whose two shapes differ in colour), while a briefly trained
            captioner loops (`a a a ...`) until `max_len` without it.
        repetition_penalty: divides the positive logits (multiplies the negative ones) of the
            tokens an output already holds (CTRL's penalty; 1.0, the default: off).
        seed: seed of weights, dropout and shuffling (default 0).

    Example:

    >>> images = np.zeros((2, 16, 16, 3), "uint8")
    >>> pipeline = CaptionPipeline(units=8, embedding_dim=8, image_size=16)
    >>> _ = pipeline.fit(images, ["a dark square", "a black square"], epochs=1, verbose=0)
    >>> len(pipeline.generate(images, method="beam"))
    2
    """

    def __init__(
        self,
        *,
        cell="gru",
        units=256,
        embedding_dim=64,
        encoder="cnn",
        backbone_weights=None,
        conditioning="both",
        image_size=64,
        dropout=0.1,
        vocab_size=5000,
        max_len=30,
        batch_size=64,
        learning_rate=2e-3,
        beam_width=3,
        length_penalty=0.6,
        no_repeat_ngram_size=3,
        repetition_penalty=1.0,
        seed=0,
    ):
        super().__init__(cell, units, dropout, batch_size, learning_rate, seed)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.encoder = check_choice("encoder", encoder, ENCODERS)
        if encoder in BACKBONES and backbone_weights is None:
            raise ValueError(
                f"Argument `backbone_weights` is required with encoder={encoder!r}: a local weights file "
                "(rnnkit downloads nothing). Use encoder='cnn', or 'features' with your own vectors."
            )
        if backbone_weights is not None and encoder not in BACKBONES:
            raise ValueError(
                f"Argument `backbone_weights` is for a backbone encoder, one of {sorted(BACKBONES)}. "
                f"Received: encoder={encoder!r}"
            )
        self.backbone_weights = None if backbone_weights is None else str(backbone_weights)
        self.conditioning = check_choice("conditioning", conditioning, CONDITIONING)
        self.image_size = check_positive_int("image_size", image_size)
        if encoder == "cnn" and self.image_size < _MIN_CNN_SIZE:
            raise ValueError(
                f"Argument `image_size` must be at least {_MIN_CNN_SIZE} with encoder='cnn'. "
                f"Received: image_size={image_size!r}"
            )
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.max_len = check_positive_int("max_len", max_len)
        self.beam_width = check_positive_int("beam_width", beam_width)
        self.length_penalty = check_non_negative("length_penalty", length_penalty)
        self.no_repeat_ngram_size, self.repetition_penalty = check_repetition(
            no_repeat_ngram_size, repetition_penalty
        )

    @property
    def feature_dim(self):
        """The width of the feature vectors, learnt from the data with encoder="features"."""
        return None if self.state is None else self.state["feature_dim"]

    @property
    def words(self):
        """The caption vocabulary by id: `""`, `[UNK]`, `[start]`, `[end]`, then the words."""
        return self.preprocessor.vectorizer.get_vocabulary()

    # Inputs --------------------------------------------------------------------------------

    def check_images(self, images, argument="images"):
        """Images as uint8 `(n, size, size, 3)`, or features as float32 `(n, feature_dim)`.

        Accepts an array `(n, height, width, 3)` (resized in memory when needed), a list of
        encoded images (bytes) or of image files; with `encoder="features"`, an array
        `(n, feature_dim)`.
        """
        if isinstance(images, (list, tuple)) and images and isinstance(images[0], (bytes, str, os.PathLike)):
            if self.encoder == "features":
                raise ValueError(f"Argument `{argument}` must be feature vectors with encoder='features'.")
            return np.stack([self._decode_one(item, i, argument) for i, item in enumerate(images)])
        try:
            array = np.asarray(images)
        except ValueError as error:
            raise ValueError(f"Argument `{argument}` must be an array of images: {error}") from None
        if array.ndim == 0:
            raise ValueError(
                f"Argument `{argument}` must be an array of images. Received: {type(images).__name__}"
            )
        if array.size == 0 or len(array) == 0:
            raise ValueError(f"Argument `{argument}` is empty: at least one image is needed.")
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise ValueError(f"Argument `{argument}` must hold real numbers. Received dtype: {array.dtype}")
        if not np.isfinite(array).all():
            raise ValueError(f"Argument `{argument}` holds NaN or infinite values.")
        if self.encoder == "features":
            if array.ndim != 2:
                raise ValueError(
                    f"Argument `{argument}` must be feature vectors (n, width) with encoder='features'. "
                    f"Received shape: {array.shape}"
                )
            if self.feature_dim is not None and array.shape[1] != self.feature_dim:
                raise ValueError(
                    f"Argument `{argument}` has features of width {array.shape[1]}; the pipeline was "
                    f"trained on width {self.feature_dim}."
                )
            return array.astype("float32")
        if array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(
                f"Argument `{argument}` must be RGB images of shape (n, height, width, 3). "
                f"Received shape: {array.shape}"
            )
        if array.min() < 0 or array.max() > 255:  # uint8 would wrap them around
            raise ValueError(
                f"Argument `{argument}` must hold pixel values in [0, 255]. "
                f"Received values in [{array.min()}, {array.max()}]."
            )
        if array.shape[1:3] != (self.image_size, self.image_size):
            resized = tf.image.resize(array.astype("float32"), [self.image_size] * 2, antialias=True)
            array = np.clip(np.round(resized.numpy()), 0, 255)
        return array.astype("uint8")

    def _decode_one(self, item, index, argument):
        if isinstance(item, bytes):
            return decode_image(item, self.image_size, name=f"{argument}[{index}]", argument=argument)
        if not isinstance(item, (str, os.PathLike)):
            raise ValueError(
                f"Argument `{argument}`: {argument}[{index}] is {type(item).__name__}; a list of images "
                "holds encoded bytes or file paths only."
            )
        path = os.fspath(item)
        if not os.path.isfile(path):
            raise ValueError(f"Argument `{argument}`: {argument}[{index}] names no file: {path!r}.")
        return decode_image(
            Path(path).read_bytes(), self.image_size, name=f"file {path!r}", argument=argument
        )

    def check_data(self, images, captions=None, argument="data"):
        images = self.check_images(images, argument="images" if argument == "data" else argument)
        if captions is None:
            return images, None
        if isinstance(captions, (str, dict)) or not hasattr(captions, "__len__"):
            raise ValueError(
                "Argument `captions` must be a list with one caption (or a list of captions) per image."
            )
        captions = [[c] if isinstance(c, str) else c for c in list(captions)]
        if len(captions) != len(images):
            raise ValueError(
                f"Arguments `images` and `captions` must have the same length: "
                f"{len(images)} images, {len(captions)} captions."
            )
        for i, references in enumerate(captions):
            check_texts(references, argument=f"captions[{i}]")
        return images, [list(references) for references in captions]

    # Preprocessing -------------------------------------------------------------------------

    def learn_preprocessing(self, train):
        images, captions = train
        if captions is None:
            raise ValueError("Argument `captions` is required to fit.")
        # read when the model is built; a saved pipeline holds the weights and needs no file
        if self.backbone_weights is not None and not os.path.isfile(self.backbone_weights):
            raise ValueError(f"Argument `backbone_weights`: no file at {self.backbone_weights!r}.")
        flat = [c for references in captions for c in references]
        words = adapt_words(standardize(tf.constant(flat)), max(self.vocab_size - 4, 1))
        features = self.encoder == "features"
        self.preprocessor = CaptionPreprocessor(
            words, self.max_len, None if features else self.image_size, name="images_and_captions"
        )
        self.state = {"feature_dim": int(images.shape[1]) if features else None}

    def make_dataset(self, data, training=False):
        """Batches of `((images, target_in), target_out, weights)`, one row per (image, caption)
        (`teacher_forcing_batches`)."""
        images, captions = data if isinstance(data, tuple) else (self.check_images(data), None)
        if captions is None:
            return tf.data.Dataset.from_tensor_slices(images).batch(self.batch_size)
        index = [i for i, references in enumerate(captions) for _ in references]
        flat = [c for references in captions for c in references]

        def ids(image, caption):
            return (image, *self.preprocessor.targets(caption))

        pairs = tf.data.Dataset.from_tensor_slices((images[index], flat))
        return teacher_forcing_batches(pairs, ids, self.batch_size, self.max_len, training, self.seed)

    # Model ---------------------------------------------------------------------------------

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        model = Captioner(
            vocab_size=len(self.words),
            cell=self.new_cell(),
            units=self.units,
            embedding_dim=self.embedding_dim,
            encoder=self.encoder,
            image_size=self.image_size,
            feature_dim=self.feature_dim,
            conditioning=self.conditioning,
            dropout=self.dropout,
            name="captioner",
        )
        model.build()
        if self.backbone_weights is not None:
            model.encoder.load_weights(self.backbone_weights)  # checked by learn_preprocessing
        return compile_generator(model, self.learning_rate)

    def build_task(self):
        return TextGenerator(
            self.preprocessor, self.model, IdsToText(self.words[2:], name="text"), method="greedy",
            max_length=self.max_len, beam_width=self.beam_width, length_penalty=self.length_penalty,
            no_repeat_ngram_size=self.no_repeat_ngram_size, repetition_penalty=self.repetition_penalty,
            name="captioner_task",
        )  # fmt: skip

    # Task verbs ----------------------------------------------------------------------------

    def generate(
        self, images_or_features, method="greedy", beam_width=None, temperature=1.0, top_k=None, seed=None
    ):
        """A caption for each image (or feature vector), as a string.

        Args:
            images_or_features: see `check_images`.
            method: `"greedy"`, `"beam"` or `"sample"`.
            beam_width: beams for `"beam"` (default: the pipeline's `beam_width`).
            temperature, top_k, seed: of `"sample"` (a fixed `seed` repeats the same captions).
        """
        self._check_fitted("generate")
        check_decoding(method, beam_width, temperature, top_k)
        images = self.check_images(images_or_features)
        settings = {"method": method, "beam_width": beam_width}
        if method == "sample":
            settings.update(temperature=float(temperature), top_k=top_k)
        return self.task.generate(images, seed=seed, batch_size=self.batch_size, **settings)

    def evaluate(self, images, captions, method="greedy", beam_width=None):
        """BLEU-1..4 (sacrebleu, lower-cased, over all references), exact match and token accuracy.

        Returns `{"bleu_1".."bleu_4", "exact_match", "token_accuracy", "loss", "method", "captions"}`;
        `exact_match` is the share of generated captions equal to one of their references
        (after lower-casing and splitting punctuation).
        """
        self._check_fitted("evaluate")
        images, references = self.check_data(images, captions, argument="images")
        generated = self.generate(images, method=method, beam_width=beam_width)
        widest = max(len(r) for r in references)
        streams = [[r[k] if k < len(r) else None for r in references] for k in range(widest)]
        metrics = {
            f"bleu_{n}": BLEU(max_ngram_order=n, lowercase=True).corpus_score(generated, streams).score
            for n in range(1, 5)
        }
        normal = lambda texts: [t.decode() for t in standardize(tf.constant(texts)).numpy()]  # noqa: E731
        hits = [g in set(normal(r)) for g, r in zip(normal(generated), references, strict=True)]
        scores = self.evaluate_batches(self.make_dataset((images, references)))
        return {
            **metrics,
            "exact_match": float(np.mean(hits)),
            "token_accuracy": float(scores["token_accuracy"]),
            "loss": float(scores["loss"]),
            "method": method,
            "captions": generated,
        }

    def plots(self, images, captions=None, count=8):
        if self.encoder == "features":
            return {}
        images = self.check_images(images)[:count]
        references = None if captions is None else list(captions)[:count]
        return {"captions": caption_figure(images, self.generate(images), references)}

    # Export --------------------------------------------------------------------------------

    serve_aliases = ("generate",)

    def serving_function(self):
        """Encoded images (JPEG, PNG, GIF, BMP bytes), or feature vectors, to greedy captions."""
        if self.encoder == "features":
            signature = [tf.TensorSpec([None, self.feature_dim], tf.float32, name="features")]
        else:
            signature = [tf.TensorSpec([None], tf.string, name="images")]
        return (lambda images: self.task(images)), signature

    def extra_endpoints(self):
        """`generate_beam`; `generate` is an alias of `serve`."""
        _, signature = self.serving_function()
        beam = lambda images: self.task.generate_graph(images, method="beam")  # noqa: E731
        return {"generate_beam": (beam, signature)}


def caption_figure(images, generated, references=None):
    """Images with their generated caption (and first reference) underneath."""
    columns = min(4, len(images))
    rows = -(-len(images) // columns)
    figure = Figure(figsize=(3.2 * columns, 3.4 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images, strict=False)):
        ax.imshow(image)
        text = f"rnnkit: {generated[i]}"
        if references is not None:
            reference = references[i] if isinstance(references[i], str) else references[i][0]
            text += f"\nreference: {reference}"
        ax.set_title(text, fontsize=8, wrap=True)
    figure.tight_layout()
    return figure
