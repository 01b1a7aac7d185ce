"""`LanguageModelPipeline` end to end on a slice of the embedded docstrings: fit, perplexity,
sampling, the step loop against the trained model, save, export, CLI."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.apps.cli import main
from rnnkit.apps.generation import END_ID
from rnnkit.apps.language_model import LanguageModelPipeline, load_default, read_text
from rnnkit.layers import Recurrent

from ..helpers import serve_all_without_rnnkit

SMALL = {"units": 64, "embedding_dim": 16, "seq_len": 48, "bptt_steps": 12, "learning_rate": 5e-3}


@pytest.fixture(scope="module")
def corpus():
    return load_default(max_documents=150, seed=0)


@pytest.fixture(scope="module")
def trained(corpus):
    train, validation, _ = corpus
    pipeline = LanguageModelPipeline(**SMALL, length=40)
    pipeline.fit(train, validation_data=validation, epochs=4, verbose=0)
    return pipeline


def test_learns_more_than_character_frequencies(trained, corpus):
    metrics = trained.evaluate(corpus[2])
    assert metrics["perplexity"] < 0.8 * metrics["unigram_perplexity"]
    assert np.isclose(metrics["bits_per_token"], np.log2(metrics["perplexity"]))
    assert metrics["tokens"] > 1000
    assert "val_perplexity" in trained.history.history


def test_baseline_adds_a_kneser_ney_ngram_of_the_training_text(trained, corpus):
    metrics = trained.evaluate(corpus[2], baseline=True)
    assert metrics["ngram_bits_per_token"] < metrics["unigram_bits_per_token"]
    assert np.isclose(metrics["ngram_bits_per_token"], np.log2(metrics["ngram_perplexity"]))
    assert np.isclose(metrics["unigram_bits_per_token"], np.log2(metrics["unigram_perplexity"]))
    assert "ngram_perplexity" not in trained.evaluate(corpus[2])


def test_truncated_bptt_is_in_the_model(trained):
    recurrent = [layer for layer in trained.model.layers if isinstance(layer, Recurrent)]
    assert [layer.bptt_steps for layer in recurrent] == [12]


def test_windows_predict_the_next_token_and_score_each_token_once(trained, corpus):
    documents = corpus[2]
    stream = trained.stream(documents)
    assert (stream == END_ID).sum() == len(documents)  # one [end] after every document
    x, y, w = (np.concatenate(part) for part in zip(*trained.make_dataset(documents), strict=True))
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    stride = trained.seq_len // 2
    scored = np.concatenate([y[0], *(row[w_row > 0] for row, w_row in zip(y[1:], w[1:], strict=True))])
    np.testing.assert_array_equal(scored, stream[1 : 1 + len(scored)])  # every token once, in order
    assert len(stream) - 1 - len(scored) < stride


def test_the_step_loop_is_the_trained_model(trained):
    text = "Return the number of items."
    ids = trained.preprocessor(tf.constant([text])).to_tensor().numpy()[0]
    ids = np.concatenate([[END_ID], ids])
    window = np.zeros((1, trained.seq_len), np.int32)
    window[0, : len(ids)] = ids
    log_p = tf.nn.log_softmax(trained.model(window, training=False)).numpy()[0]
    expected = sum(log_p[t, ids[t + 1]] for t in range(len(ids) - 1))
    np.testing.assert_allclose(trained.log_likelihood([text])[0], expected, rtol=1e-5, atol=1e-4)


def test_generate_samples_repeatably_in_the_form_given(trained):
    one = trained.generate("Return the ", length=30, seed=3)
    assert isinstance(one, str) and 0 < len(one) <= 30
    assert trained.generate("Return the ", length=30, seed=3) == one
    many = trained.generate(["Return the ", "", "ωψ☃ never seen"], length=20, temperature=0.5, seed=1)
    assert isinstance(many, list) and len(many) == 3 and all(len(t) <= 20 for t in many)
    greedy = {trained.generate("The ", length=25, top_k=1, seed=s) for s in (1, 2, 3)}
    assert len(greedy) == 1  # top_k=1 is greedy: no randomness left
    assert "[UNK]" not in "".join(many) and "[start]" not in "".join(many)


def test_unseen_characters_are_read_as_unknown(trained):
    ids = trained.preprocessor(tf.constant(["a☃"])).to_tensor().numpy()[0]
    assert ids[1] == 1 and ids[0] > 3


def test_save_and_load_keep_the_model(trained, corpus, tmp_path):
    trained.save(tmp_path / "pipeline")
    loaded = LanguageModelPipeline.load(tmp_path / "pipeline")
    with pytest.raises(ValueError, match="`baseline`.*call fit"):  # the training text is not saved
        loaded.evaluate(corpus[1], baseline=True)
    texts = ["Return the value.", "x"]
    np.testing.assert_allclose(loaded.log_likelihood(texts), trained.log_likelihood(texts), rtol=1e-6)
    assert loaded.generate("The ", length=20, seed=5) == trained.generate("The ", length=20, seed=5)
    assert loaded.get_config() == trained.get_config()


def test_export_writes_text_without_rnnkit(trained, tmp_path):
    path = trained.export(tmp_path / "export")
    texts = ["Return the value.", "", "ωψ☃"]
    endpoints = ("log_likelihood", "generate", "serve")
    served = dict(
        zip(endpoints, serve_all_without_rnnkit([(path, name, [texts]) for name in endpoints]), strict=True)
    )
    expected = trained.log_likelihood(texts)
    np.testing.assert_allclose(served["log_likelihood"], expected, rtol=1e-5, atol=1e-5)
    assert len(served["generate"]) == len(served["serve"]) == 3
    assert all(0 < len(text) <= trained.length for text in served["generate"])
    signature = tf.saved_model.load(str(tmp_path / "export")).signatures["generate"]
    assert signature.structured_input_signature[1]["prompts"].dtype == tf.string


@pytest.mark.parametrize("cell", ["gru", "esn"])
def test_word_level_and_other_cells(corpus, cell):
    pipeline = LanguageModelPipeline(
        level="word", cell=cell, units=16, embedding_dim=8, seq_len=16, bptt_steps=4
    )
    history = pipeline.fit(corpus[0][:40], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    words = pipeline.generate("Return the", length=6, seed=0).split()
    assert 0 < len(words) <= 6  # words, joined by spaces (punctuation attached)
    assert np.isfinite(pipeline.evaluate(corpus[1])["perplexity"])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"level": "byte"}, "level"),
        ({"bptt_steps": 0}, "bptt_steps"),
        ({"seq_len": 16, "bptt_steps": 17}, "bptt_steps"),  # a chunk longer than the window
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"length": 0}, "length"),
        ({"cell": "transformer"}, "cell"),
        ({"dropout": 1.5}, "dropout"),
        ({"seq_len": -3}, "seq_len"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"seed": -1}, "seed"),
        ({"lowercase": "yes"}, "lowercase"),
        ({"no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
    ],
)
def test_bad_hyper_parameters(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        LanguageModelPipeline(**kwargs)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda p: p.generate("x", temperature=0), "temperature"),
        (lambda p: p.generate("x", temperature=-0.5), "temperature"),
        (lambda p: p.generate("x", length=-1), "length"),
        (lambda p: p.generate("x", top_k=0), "top_k"),
        (lambda p: p.generate(None), "prompt"),
        (lambda p: p.generate([3]), "prompt"),
        (lambda p: p.generate("x", seed=1.5), "seed"),
        (lambda p: p.evaluate([]), "texts"),
        (lambda p: p.evaluate("short"), "texts"),  # fewer tokens than one window
        (lambda p: p.log_likelihood(42), "prompt"),
    ],
)
def test_bad_calls(trained, call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        call(trained)


def test_bad_training_data_fails_before_training(monkeypatch):
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("training started"))
    pipeline = LanguageModelPipeline(**SMALL)
    for texts in ([], ["  ", ""], [None], "too short", 17):
        with pytest.raises(ValueError, match="`texts`"):
            pipeline.fit(texts, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="needs a trained pipeline"):
        pipeline.generate("x")


def test_read_text_splits_documents_at_blank_lines(tmp_path):
    (tmp_path / "a.txt").write_text("one\nline\n\n\ntwo\n\n")
    assert read_text(tmp_path / "a.txt") == ["one\nline", "two"]
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="--data|not UTF-8"):
        read_text(tmp_path / "bad.txt", argument="--data")


def test_lm_cli_train_generate_export(tmp_path, capsys):
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n\n".join(load_default(max_documents=30)[0]))
    out = str(tmp_path / "run")
    common = ["--out", out, "--quiet"]
    train = ["lm", "train", "--data", str(corpus_file), "--units", "8", "--seq-len", "16"]
    assert main([*train, "--bptt-steps", "4", "--epochs", "1", *common]) == 0
    assert "ngram_bits_per_token" in capsys.readouterr().out  # train scores the n-gram baseline
    read = ["--run", out, "--quiet"]  # the other verbs read the run
    assert main(["lm", "generate", "--prompt", "Return ", "--length", "10", "--seed", "1", *read]) == 0
    assert capsys.readouterr().out.startswith("Return ")
    assert main(["lm", "export", *read]) == 2  # train already wrote saved_model
    assert "overwrite" in capsys.readouterr().err
    assert main(["lm", "export", "--overwrite", *read]) == 0
    for bad, argument in (
        (["--bptt-steps", "abc"], "--bptt-steps"),
        (["--bptt-steps", "17"], "bptt_steps"),
        (["--level", "byte"], "level"),
    ):
        assert main([*train, *bad, "--out", str(tmp_path / "other"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and argument in err
