"""`CaptionPipeline` end to end on small generated scenes and on real COCO JPEGs."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.apps.captioning import Captioner, CaptionPipeline, generate_scenes, read_coco
from rnnkit.apps.captioning.model import standardize
from rnnkit.apps.cli import main
from rnnkit.apps.generation import END_ID, START_ID

from ..helpers import serve_all_without_rnnkit

COCO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_mini_captions"
SIZE = 32


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(240, image_size=SIZE, seed=5)


@pytest.fixture(scope="module")
def trained(scenes):
    keras.utils.set_random_seed(0)
    images, captions = scenes
    pipeline = CaptionPipeline(units=16, embedding_dim=8, image_size=SIZE, batch_size=32, max_len=12)
    pipeline.fit(
        images[:200], captions[:200], validation_data=(images[200:], captions[200:]), epochs=2, verbose=0
    )
    return pipeline


def test_batches_pair_every_reference_with_its_image(trained, scenes):
    images, captions = scenes
    references = [[c, c.replace("a ", "one ", 1)] for c in captions[:5]]  # two references each
    batches = list(trained.make_dataset((images[:5], references)))
    (pixels, target_in), target_out, weights = batches[0]
    assert pixels.shape[0] == target_in.shape[0] == 10 and pixels.dtype == tf.uint8
    assert np.all(target_in[:, 0] == START_ID)
    lengths = weights.numpy().sum(axis=1).astype(int)
    assert np.all(target_out.numpy()[np.arange(10), lengths - 1] == END_ID)
    np.testing.assert_array_equal(pixels[0], pixels[1])  # both references of image 0


@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_generate_each_method(trained, scenes, method):
    images, _ = scenes
    captions = trained.generate(images[:3], method=method, seed=1)
    assert len(captions) == 3 and all(isinstance(c, str) and "[end]" not in c for c in captions)
    if method == "sample":
        assert trained.generate(images[:3], method="sample", seed=1) == captions  # seeded: repeatable
    if method == "beam":
        assert trained.generate(images[:3], method="beam", beam_width=1) == trained.generate(images[:3])


def test_evaluate_reports_bleu_and_exact_match(trained, scenes):
    images, captions = scenes
    metrics = trained.evaluate(images[200:], captions[200:])
    assert {f"bleu_{n}" for n in range(1, 5)} <= set(metrics)
    assert metrics["bleu_1"] >= metrics["bleu_4"] >= 0 and 0 <= metrics["exact_match"] <= 1
    hits = np.mean([g == c for g, c in zip(metrics["captions"], captions[200:], strict=True)])
    assert metrics["exact_match"] == pytest.approx(hits)
    assert set(trained.plots(images[:2], captions[:2])) == {"captions"}


def test_images_of_another_size_bytes_and_files_are_accepted(trained, scenes, tmp_path):
    images, _ = scenes
    big = np.repeat(np.repeat(images[:2], 2, axis=1), 2, axis=2)  # 64 x 64: resized in memory
    png = [tf.io.encode_png(image).numpy() for image in images[:2]]
    (tmp_path / "a.png").write_bytes(png[0])
    assert trained.check_images(big).shape == (2, SIZE, SIZE, 3)
    np.testing.assert_array_equal(trained.check_images(png), images[:2])
    np.testing.assert_array_equal(trained.check_images([str(tmp_path / "a.png")])[0], images[0])


@pytest.mark.parametrize("conditioning", ["init_state", "every_step", "both"])
def test_every_conditioning_and_features_encoder(conditioning, scenes):
    images, captions = scenes
    features = images[:40].reshape(40, -1)[:, :24].astype("float32") / 255.0
    pipeline = CaptionPipeline(
        encoder="features", conditioning=conditioning, units=8, embedding_dim=8, cell="lstm"
    )
    history = pipeline.fit(features, captions[:40], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert len(pipeline.generate(features[:2], method="beam")) == 2
    with pytest.raises(ValueError, match="width 23.*width 24"):
        pipeline.generate(features[:2, :23])
    model = pipeline.model
    assert bool(model.bridges) == (conditioning != "every_step")
    assert (model.step_features is not None) == (conditioning != "init_state")


def test_a_pretrained_backbone_from_a_local_file_serves_raw_images(tmp_path, scenes):
    """The documented route to a pre-trained encoder: a keras.applications name and a local
    weights file, frozen inside the task, so that the export takes image bytes."""
    images, captions = scenes
    weights = tmp_path / "mobilenet_v3_small.weights.h5"
    network = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), pooling="avg"
    )
    network.save_weights(weights)  # stands in for a file the user downloaded
    with pytest.raises(ValueError, match="backbone_weights"):
        CaptionPipeline(encoder="MobileNetV3Small")
    pipeline = CaptionPipeline(
        encoder="MobileNetV3Small", backbone_weights=weights, image_size=SIZE, units=8, embedding_dim=8
    )
    pipeline.fit(images[:16], captions[:16], epochs=1, verbose=0)
    assert not pipeline.model.encoder.trainable
    for a, b in zip(pipeline.model.encoder.weights, network.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # the file's weights, kept by training
    weights.unlink()  # the export, and a saved pipeline, carry the weights themselves
    assert CaptionPipeline.from_config(pipeline.get_config()).get_config() == pipeline.get_config()  # as load
    encoded = [tf.io.encode_png(image).numpy() for image in images[:2]]
    reloaded = tf.saved_model.load(str(pipeline.export(tmp_path / "export")))
    served = [text.decode() for text in reloaded.serve(tf.constant(encoded)).numpy()]
    assert served == pipeline.generate(encoded)  # raw PNG bytes in, captions out
    with pytest.raises(ValueError, match="backbone_weights.*no file"):
        pipeline.clone().fit(images[:4], captions[:4], epochs=1, verbose=0)


def test_save_load_generate_the_same(trained, scenes, tmp_path):
    images, _ = scenes
    trained.save(tmp_path / "pipeline")
    loaded = CaptionPipeline.load(tmp_path / "pipeline")
    assert isinstance(loaded.model, Captioner)
    for method in ("greedy", "beam"):
        assert loaded.generate(images[:4], method=method) == trained.generate(images[:4], method=method)


def _export_and_serve(pipeline, encoded, root):
    path = pipeline.export(root / "export")
    endpoints = ("serve", "generate", "generate_beam")
    calls = [(path, name, [encoded]) for name in endpoints] + [
        (path, "serve", [[encoded[0], b"not an image"]])
    ]
    *captions, error = serve_all_without_rnnkit(calls)
    return {
        **dict(zip(endpoints, captions, strict=True)),
        "error": str(error) if isinstance(error, ValueError) else None,
    }


def test_export_captions_image_bytes_without_rnnkit(trained, scenes, tmp_path):
    images, _ = scenes
    rgba = np.concatenate([images[2], np.full((SIZE, SIZE, 1), 255, "uint8")], axis=-1)
    gray = images[3].mean(axis=-1, keepdims=True).astype("uint8")
    encoded = [
        tf.io.encode_png(images[0]).numpy(),
        tf.io.encode_png(images[1]).numpy(),
        tf.io.encode_png(rgba).numpy(),
        tf.io.encode_png(gray).numpy(),
    ]
    served = _export_and_serve(trained, encoded, tmp_path)
    assert served["serve"] == served["generate"] == trained.generate(encoded)
    assert served["generate_beam"] == trained.generate(encoded, method="beam")
    assert "batch indices" in served["error"] and "[1]" in served["error"]


@pytest.mark.skipif(not COCO.exists(), reason="../shared/data/coco_mini_captions is not on this machine")
def test_real_coco_jpegs_train_generate_export(tmp_path):
    """Briefly trained, a captioner of real photos writes captions that end and do not loop
    (`no_repeat_ngram_size=3` by default): without it, this one writes `table . . . .` to max_len."""
    images, captions, names = read_coco(
        COCO / "captions_train2017_subset.json", COCO / "images", image_size=SIZE
    )
    pipeline = CaptionPipeline(units=16, embedding_dim=16, image_size=SIZE, max_len=20)
    history = pipeline.fit(images, captions, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    files = [str(COCO / "images" / name) for name in names[:8]]
    generated = pipeline.generate(files)  # real JPEG files, resized in memory
    jpegs = [Path(f).read_bytes() for f in files]
    served = _export_and_serve(pipeline, jpegs, tmp_path)
    assert served["generate"] == pipeline.generate(jpegs) == generated
    for name in ("serve", "generate_beam"):
        words = [text.split(" ") for text in _words(served[name])]
        assert all(0 < len(caption) < pipeline.max_len for caption in words), served[name]  # [end] came
        assert _repeated(_words(served[name]), 3) == 0
    unlimited = pipeline.task.generate(jpegs, no_repeat_ngram_size=0)
    assert all(len(caption) == pipeline.max_len for caption in (t.split(" ") for t in _words(unlimited)))


def _words(captions):
    """Captions as the pipeline tokenises them: lower-cased, punctuation split off."""
    return [text.decode() for text in standardize(tf.constant(captions)).numpy()]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p, x, c: p.fit(x[:3], c[:2], epochs=1), "3 images, 2 captions"),
        (lambda p, x, c: p.fit(x[:2], ["a dog", None], epochs=1), r"captions\[1\]"),
        (lambda p, x, c: p.fit(x[:2, :, :, :2], c[:2], epochs=1), r"\(n, height, width, 3\)"),
        (lambda p, x, c: p.fit(np.full((2, SIZE, SIZE, 3), np.nan), c[:2], epochs=1), "NaN"),
        (lambda p, x, c: p.fit([b"junk", b"junk"], c[:2], epochs=1), r"images\[0\] is not a decodable"),
        (lambda p, x, c: p.fit(["/no/such/file.jpg"], c[:1], epochs=1), "names no file"),
        (lambda p, x, c: p.fit(x[:0], [], epochs=1), "empty"),
        (lambda p, x, c: p.fit(x[:2], None, epochs=1), "captions"),
        (lambda p, x, c: p.generate(x[:2]), "fit"),
    ],
)
def test_bad_data_is_refused_before_training(scenes, call, match):
    images, captions = scenes
    with pytest.raises(ValueError, match=match):
        call(CaptionPipeline(units=4, embedding_dim=4, image_size=SIZE), images, captions)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"conditioning": "input"}, "conditioning"),
        ({"encoder": "vit"}, "encoder"),
        ({"backbone_weights": "x.weights.h5"}, "backbone_weights"),  # encoder="cnn" reads none
        ({"cell": "cnn"}, "cell"),
        ({"image_size": 0}, "image_size"),
        ({"beam_width": 0}, "beam_width"),
    ],
)
def test_bad_config_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CaptionPipeline(**kwargs)


def test_bad_generate_arguments(trained, scenes):
    images, _ = scenes
    for kwargs, match in [
        ({"method": "nucleus"}, "method"),
        ({"method": "sample", "temperature": 0}, "temperature"),
        ({"method": "sample", "top_k": 0}, "top_k"),
    ]:
        with pytest.raises(ValueError, match=match):
            trained.generate(images[:1], **kwargs)


def test_cli_train_evaluate_generate_export(tmp_path, capsys, scenes):
    images, captions = scenes
    folder = tmp_path / "images"
    folder.mkdir()
    records, annotations = [], []
    for i in range(30):
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(images[i]).numpy())
        records.append({"id": i, "file_name": f"{i}.png"})
        annotations.append({"id": i, "image_id": i, "caption": captions[i]})
    data = tmp_path / "captions.json"
    data.write_text(json.dumps({"images": records, "annotations": annotations}))
    out = tmp_path / "run"
    common = ["--out", str(out), "--quiet", "--image-size", str(SIZE)]
    train = ["caption", "train", *common, "--data", str(data), "--images", str(folder), "--epochs", "1"]
    assert main([*train, "--units", "8"]) == 0
    assert "exact_match" in capsys.readouterr().out
    assert (out / "saved_model" / "saved_model.pb").exists() and (out / "captions.png").exists()
    read = ["--run", str(out), "--quiet"]  # the other verbs read the run
    assert main(["caption", "evaluate", *read, "--data", str(data), "--images", str(folder)]) == 0
    assert main(["caption", "generate", *read, "--image", str(folder / "0.png"), "--method", "beam"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(str(folder / "0.png"))
    assert main(["caption", "export", *read]) == 2  # refuses to overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main(["caption", "train", "--data", str(data), "--out", str(tmp_path / "x")]) == 2  # no --images
    assert "--images" in capsys.readouterr().err


def _repeated(texts, n):
    """How many n-grams of tokens of `texts` repeat (each text on its own; a token that reads as
    nothing, such as padding, still counts)."""
    tokens = [text.split(" ") for text in texts]
    grams = [[tuple(words[i : i + n]) for i in range(len(words) - n + 1)] for words in tokens]
    return sum(len(g) - len(set(g)) for g in grams)


@pytest.fixture(scope="module")
def brief(scenes):
    """A captioner after one short epoch, kept from repeating itself (whose next choices then
    include padding)."""
    images, captions = scenes
    pipeline = CaptionPipeline(
        units=8, embedding_dim=4, image_size=SIZE, batch_size=32, max_len=12, no_repeat_ngram_size=2,
        repetition_penalty=1.5,
    )  # fmt: skip
    pipeline.fit(images[:64], captions[:64], epochs=1, verbose=0)
    return pipeline


def test_repetition_control_reaches_generation_saving_and_the_export(trained, brief, scenes, tmp_path):
    images, _ = scenes
    assert _repeated(trained.task.generate(images[:60], no_repeat_ngram_size=0), 2) > 0  # it repeats itself
    assert _repeated(trained.task.generate(images[:60], no_repeat_ngram_size=2), 2) == 0
    assert _repeated(trained.generate(images[:60]), 3) == 0  # by default, no_repeat_ngram_size=3

    pipeline = brief  # no_repeat_ngram_size=2, repetition_penalty=1.5
    loaded = CaptionPipeline.load(pipeline.save(tmp_path / "saved"))
    assert loaded.get_config() == pipeline.get_config()
    encoded = [tf.io.encode_png(image).numpy() for image in images[:8]]
    served = _export_and_serve(pipeline, encoded, tmp_path)
    assert served["serve"] == pipeline.generate(encoded) == loaded.generate(encoded)
    assert served["generate_beam"] == pipeline.generate(encoded, method="beam")
    assert all(_repeated(served[name], 2) == 0 for name in ("serve", "generate", "generate_beam"))


@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_no_method_writes_padding_or_start(brief, scenes, method):
    images, _ = scenes
    out = brief.task.generate_ids(tf.constant(images[:60]), method=method, seed=0, no_repeat_ngram_size=1)
    written = [set(row[:n]) for row, n in zip(out["tokens"].numpy(), out["lengths"].numpy(), strict=True)]
    assert not any(tokens & {0, START_ID} for tokens in written)
