"""`TranslationPipeline` end to end on small generated data: fit, translate, save, export, CLI."""

import json
import warnings

import keras
import numpy as np
import pytest
import sacrebleu
import tensorflow as tf

from rnnkit.apps.cli import main
from rnnkit.apps.generation import END_ID, START_ID, detokenize, split_punctuation
from rnnkit.apps.translation import Seq2Seq, TranslationPipeline, generate_pairs, load_default
from rnnkit.apps.translation.pipeline import translation_scores

from ..helpers import serve_all_without_rnnkit

SENTENCES = ["the small dog sees a cat .", "two old birds eat the red apple near a house .", ""]


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    train, validation, test = load_default(n=450, seed=3)
    pipeline = TranslationPipeline(units=24, embedding_dim=16, batch_size=32, beam_width=3, max_target_len=24)
    pipeline.fit(
        train.source,
        train.target,
        validation_data=(validation.source, validation.target),
        epochs=3,
        verbose=0,
    )
    return pipeline, test


def test_batches_are_teacher_forcing_with_a_masked_loss(trained):
    pipeline, test = trained
    (source, target_in), target_out, weights = next(iter(pipeline.make_dataset((test.source, test.target))))
    assert source.dtype == tf.int32 and target_in.shape == target_out.shape == weights.shape
    assert np.all(target_in[:, 0] == START_ID)
    lengths = weights.numpy().sum(axis=1).astype(int)
    rows = np.arange(len(lengths))
    assert np.all(target_out.numpy()[rows, lengths - 1] == END_ID)  # w_1..w_n [end], then padding
    np.testing.assert_array_equal(
        target_in.numpy()[:, 1:][weights.numpy()[:, 1:] > 0],
        target_out.numpy()[:, :-1][weights.numpy()[:, 1:] > 0],
    )
    assert np.all(target_out.numpy()[weights.numpy() == 0] == 0)


def test_padding_changes_neither_loss_nor_logits_of_real_positions(trained):
    pipeline, test = trained
    (source, target_in), target_out, weights = next(
        iter(pipeline.make_dataset((test.source[:4], test.target[:4])))
    )
    pad = lambda x: tf.pad(x, [[0, 0], [0, 3]])  # noqa: E731
    loss = pipeline.model.compute_loss(
        y=target_out, y_pred=pipeline.model((source, target_in)), sample_weight=weights
    )
    padded = pipeline.model((pad(source), pad(target_in)))
    padded_loss = pipeline.model.compute_loss(y=pad(target_out), y_pred=padded, sample_weight=pad(weights))
    np.testing.assert_allclose(float(loss), float(padded_loss), rtol=1e-5)


def test_training_buckets_batches_by_length(trained):
    pipeline, test = trained
    spreads = [
        int(np.ptp(weights.numpy().sum(axis=1)))
        for _, _, weights in pipeline.make_dataset((test.source, test.target), training=True)
    ]
    assert np.median(spreads) <= 4  # the buckets are a few tokens wide


def test_translate_greedy_and_beam(trained):
    pipeline, _ = trained
    for method in ("greedy", "beam"):
        translations = pipeline.translate(SENTENCES, method=method)
        assert len(translations) == 3 and all(isinstance(t, str) for t in translations)
        assert translations[2] == ""  # an empty sentence translates to an empty one
        assert "[end]" not in translations[0] and "[start]" not in translations[0]
    assert pipeline.translate(SENTENCES[:1], method="beam", beam_width=1) == pipeline.translate(SENTENCES[:1])


def test_evaluate_scores_with_sacrebleu(trained):
    pipeline, test = trained
    metrics = pipeline.evaluate(test.source[:30], test.target[:30], method="beam")
    references = list(test.target[:30])
    assert {k: metrics[k] for k in ("bleu", "bleu_lowercase", "chrf")} == pytest.approx(
        translation_scores(metrics["translations"], references)
    )
    assert 0 < metrics["token_accuracy"] <= 1 and metrics["loss"] > 0


def test_scores_cased_detokenized_and_lower_cased_tokenized():
    references = ["Ein Hund läuft im grünen Park.", "Zwei Männer sitzen auf einer Bank."]
    exact = translation_scores(references, references)
    assert exact["bleu"] == exact["bleu_lowercase"] == pytest.approx(100.0)
    recased = translation_scores([r.lower() for r in references], references)
    assert recased["bleu_lowercase"] == pytest.approx(100.0) and recased["bleu"] < 50  # case counts once
    expected = sacrebleu.corpus_bleu(["ein hund läuft im park ."], [["ein hund läuft im grünen park ."]])
    lowercase = translation_scores(["Ein Hund läuft im Park."], ["ein Hund läuft im grünen Park."])
    assert lowercase["bleu_lowercase"] == pytest.approx(expected.score)  # 13a splits off the "."


def test_attention_map_and_plots(trained):
    pipeline, test = trained
    source, output, weights = pipeline.attention_map(SENTENCES[0])
    assert source[:3] == ["the", "small", "dog"] and output[-1] in ("[end]", output[-1])
    assert weights.shape == (len(output), len(source))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    figures = pipeline.plots(list(test.source[:2]))
    assert set(figures) == {"attention_map"}


def test_rare_words_are_subword_pieces_not_unk(trained):
    pipeline, _ = trained
    source = pipeline.preprocessor.source
    rare = "the dogmouse sees a horsewindow ."  # words never seen, letters seen
    ids = source(tf.constant([rare]))[0].numpy()
    assert 1 not in ids and len(ids) > len(rare.split())  # no [UNK]: spelt in several pieces
    assert pipeline.target_words[:4] == ["[PAD]", "[UNK]", "[start]", "[end]"]
    target = "la hundmuso rigardet una kavalporta ."  # the target side reads and writes them back
    target_ids = pipeline.preprocessor.target(tf.constant([target]))
    assert 1 not in target_ids[0].numpy()
    detokenized = pipeline.task.postprocessor.detokenize(target_ids.to_tensor(), target_ids.row_lengths())
    assert detokenized[0].numpy().decode() == "la hundmuso rigardet una kavalporta."


def test_long_sentences_are_truncated_with_a_warning(trained):
    pipeline, _ = trained
    long_sentence = " ".join(["the small dog sees a cat"] * 20)
    with pytest.warns(UserWarning, match="max_source_len"):
        translation = pipeline.translate([long_sentence])
    assert isinstance(translation[0], str)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipeline.translate(SENTENCES[:1])  # no warning for short sentences


def test_save_and_load_translate_the_same(trained, tmp_path):
    pipeline, _ = trained
    pipeline.save(tmp_path / "pipeline")
    loaded = TranslationPipeline.load(tmp_path / "pipeline")
    assert isinstance(loaded.model, Seq2Seq)
    assert loaded.target_words == pipeline.target_words  # the vocabularies travel in model.keras
    assert loaded.preprocessor.source.get_vocabulary() == pipeline.preprocessor.source.get_vocabulary()
    for method in ("greedy", "beam"):
        assert loaded.translate(SENTENCES, method=method) == pipeline.translate(SENTENCES, method=method)


def test_export_translates_strings_without_rnnkit(trained, tmp_path):
    """The export carries both vocabularies; it loads with `import tensorflow_text` (the
    WordPiece ops) in a process where `import rnnkit` fails."""
    pipeline, _ = trained
    texts = [*SENTENCES, "the dogmouse sees a qwerty .", " ".join(["a cat"] * 40)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the long sentence's truncation warning
        expected = {method: pipeline.translate(texts, method=method) for method in ("greedy", "beam")}
    path = pipeline.export(tmp_path / "export")
    endpoints = ("serve", "translate", "translate_greedy", "translate_beam")
    calls = [(path, name, [texts]) for name in endpoints]
    served = dict(zip(endpoints, serve_all_without_rnnkit(calls, imports=("tensorflow_text",)), strict=True))
    assert served["translate_greedy"] == expected["greedy"]
    assert served["translate_beam"] == served["translate"] == served["serve"] == expected["beam"]
    signature = tf.saved_model.load(str(tmp_path / "export")).signatures["translate"]
    assert signature.structured_input_signature[1]["texts"].dtype == tf.string


def test_every_attention_mode_and_cell_trains(tmp_path):
    pairs = generate_pairs(120, seed=1)
    for attention, cell, layers in ((None, "lstm", 2), ("dot", "rnn", 1), ("additive", "esn", 1)):
        pipeline = TranslationPipeline(
            cell=cell, attention=attention, layers=layers, units=8, embedding_dim=8
        )
        history = pipeline.fit(pairs.source, pairs.target, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert len(pipeline.translate(["the dog sees a cat ."], method="beam")) == 1
        if attention is None:
            with pytest.raises(ValueError, match="attention"):
                pipeline.attention_map("the dog")


def test_text_helpers():
    assert (
        split_punctuation(tf.constant(["Ein Hund, [start] läuft."]))[0].numpy().decode()
        == "Ein Hund , start läuft ."
    )
    assert detokenize(tf.constant(["ein hund , der läuft ."]))[0].numpy().decode() == "ein hund, der läuft."


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p.fit(["a"], ["b", "c"], epochs=1), "1 sources, 2 targets"),
        (lambda p: p.fit(["a", None], ["b", "c"], epochs=1), "item 1"),
        (lambda p: p.fit("a dog", ["b"], epochs=1), "sources"),
        (lambda p: p.fit([], [], epochs=1), "empty"),
        (lambda p: p.fit(["a"], None, epochs=1), "targets"),
        (lambda p: p.fit(["a"], ["b"], epochs=0), "epochs"),
        (lambda p: p.translate(["a"]), "fit"),
    ],
)
def test_bad_data_is_refused_before_training(call, match):
    with pytest.raises(ValueError, match=match):
        call(TranslationPipeline(units=4, embedding_dim=4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attention": "cosine"}, "attention"),
        ({"cell": "transformer"}, "cell"),
        ({"units": 0}, "units"),
        ({"dropout": 1.0}, "dropout"),
        ({"beam_width": 0}, "beam_width"),
        ({"length_penalty": -1}, "length_penalty"),
        ({"max_target_len": -3}, "max_target_len"),
        ({"target_vocab_size": 0}, "target_vocab_size"),
        ({"source_vocab_size": "8k"}, "source_vocab_size"),
        ({"no_repeat_ngram_size": 1.5}, "no_repeat_ngram_size"),
        ({"repetition_penalty": -1}, "repetition_penalty"),
    ],
)
def test_bad_config_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TranslationPipeline(**kwargs)


def test_bad_translate_arguments(trained):
    pipeline, _ = trained
    with pytest.raises(ValueError, match="method"):
        pipeline.translate(["a"], method="sample")
    with pytest.raises(ValueError, match="beam_width"):
        pipeline.translate(["a"], method="beam", beam_width=0)


def test_cli_train_evaluate_translate_export(tmp_path, capsys):
    pairs = generate_pairs(200, seed=2)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text(
        "".join(f"{s}\t{t}\tCC-BY 2.0 (France)\n" for s, t in zip(pairs.source, pairs.target, strict=True))
    )
    out = tmp_path / "run"
    base = ["translate", "--out", str(out), "--quiet"]
    assert (
        main(
            [
                *base[:1],
                "train",
                *base[1:],
                "--data",
                str(tsv),
                "--units",
                "8",
                "--embedding-dim",
                "8",
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    assert "bleu" in capsys.readouterr().out
    assert (out / "saved_model" / "saved_model.pb").exists() and (out / "attention_map.png").exists()
    assert json.loads((out / "metrics.json").read_text())["method"] == "greedy"
    read = ["--run", str(out), "--quiet"]  # the other verbs read the run
    assert main(["translate", "evaluate", *read, "--data", str(tsv), "--method", "beam"]) == 0
    assert "beam decoding" in capsys.readouterr().out
    assert main(["translate", "translate", *read, "--text", "the dog sees a cat ."]) == 0
    assert capsys.readouterr().out.startswith("the dog sees a cat .\t")
    assert main(["translate", "export", *read]) == 2  # exists: refuses without --overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main(["translate", "export", *read, "--overwrite"]) == 0


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "train.en").write_text("a\nb\n")
    (tmp_path / "train.de").write_text("a\n")
    assert main(["translate", "train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "has 2" in err and "has 1" in err and len(err.strip().splitlines()) == 1
    assert main(["translate", "translate", "--run", str(tmp_path / "run"), "--method", "top"]) == 2
    assert "method" in capsys.readouterr().err
