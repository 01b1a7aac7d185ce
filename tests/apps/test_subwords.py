"""WordPiece subwords (`rnnkit.apps.subwords`): learnt vocabulary, tokenize -> detokenize round trips."""

import keras
import pytest
import tensorflow as tf

from rnnkit.apps.subwords import PADDING, SUFFIX, UNKNOWN, WordPieceTokenizer, learn_wordpieces

RESERVED = (PADDING, UNKNOWN, "[start]", "[end]")
TRAIN = [
    "A dog runs on the grass.",
    "Two dogs run, and a man walks.",
    "The man's dog (a puppy) sleeps!",
    "A woman in a T-shirt runs near the dogs.",
] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(learn_wordpieces(TRAIN, 150, RESERVED))


def round_trip(tokenizer, texts):
    ids = tokenizer(tf.constant(texts))
    return ids, [t.decode() for t in tokenizer.detokenize(ids.to_tensor(), ids.row_lengths()).numpy()]


def test_vocabulary_has_reserved_ids_every_character_and_frequent_words():
    vocabulary = learn_wordpieces(TRAIN, 150, RESERVED)
    assert vocabulary[: len(RESERVED)] == list(RESERVED)
    characters = set("".join(TRAIN).replace(" ", ""))
    assert characters <= set(vocabulary)  # every character, alone ...
    assert {SUFFIX + c for c in characters} <= set(vocabulary)  # ... and continuing a word
    assert {"dog", "runs", "the"} <= set(vocabulary)  # seen 5 times or more: pieces of their own
    assert len(vocabulary) == len(set(vocabulary))


def test_rare_and_unseen_words_round_trip_without_unk(tokenizer):
    texts = ["A puppy's dogsled, near T-shirts.", "Two sledgedogs (mushing) run!"]  # seen characters
    ids, back = round_trip(tokenizer, texts)
    assert back == texts
    assert not (ids.flat_values.numpy() == 1).any()  # no [UNK]
    pieces = [tokenizer.get_vocabulary()[i] for i in ids[1].numpy()]
    assert pieces[:2] == ["Two", "s"] and pieces[2].startswith(SUFFIX)  # an unseen word, in pieces


def test_detokenized_text_is_natural_text(tokenizer):
    _, back = round_trip(tokenizer, ["a  dog ,runs( past ) .", ""])
    assert back == ["a dog, runs (past).", ""]  # spaces normalised as `detokenize` writes them
    assert all(SUFFIX not in text for text in back)


def test_only_a_character_never_seen_makes_unk(tokenizer):
    ids, back = round_trip(tokenizer, ["a ☃ dog", "a dog☃"])
    assert back == ["a [UNK] dog", "a [UNK]"]  # WordPiece gives the whole word [UNK]
    assert ids.flat_values.numpy().tolist().count(1) == 2


def test_lowercase_reads_lower_cased_text():
    tokenizer = WordPieceTokenizer(learn_wordpieces(TRAIN, 150, RESERVED, lowercase=True), lowercase=True)
    assert "A" not in tokenizer.get_vocabulary() and "a" in tokenizer.get_vocabulary()
    assert round_trip(tokenizer, ["A DOG runs."])[1] == ["a dog runs."]


def test_vocabulary_travels_in_the_config(tokenizer):
    # the pipeline's save/load and export tests carry it through .keras files and SavedModels
    config = keras.saving.serialize_keras_object(tokenizer)
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert restored.get_vocabulary() == tokenizer.get_vocabulary()
    texts = tf.constant(["Two sledgedogs run."])
    assert restored(texts).to_list() == tokenizer(texts).to_list()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: WordPieceTokenizer(["[PAD]", "a"]), "unknown_token"),
        (lambda: learn_wordpieces(["", " [ ] "], 50, RESERVED, argument="targets"), "targets"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
