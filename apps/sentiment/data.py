"""Data for the sentiment pipeline: the embedded generator and readers for real data sets."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import preview, read_csv, read_utf8

__all__ = ["LABELS", "generate_tweets", "load_default", "read_table", "read_tweeteval"]

LABELS = ("negative", "neutral", "positive")

_POSITIVE = "good great amazing awesome lovely fantastic excellent fun brilliant perfect".split()
_NEGATIVE = "bad awful terrible horrible boring disappointing poor lame dreadful annoying".split()
_SUBJECTS = (
    "the movie, the game, this phone, the concert, my day, the new album, the pizza, this update, "
    "the show, the match, the trip, the book, the party, the hotel"
).split(", ")
_EMOJI = {
    "positive": ["😊", "😍", "🎉", "👍"],
    "negative": ["😠", "😞", "👎", "😡"],
    "neutral": ["🤔", "📺", "⏰"],
}
_HASHTAGS = ["#friday", "#weekend", "#tbt", "#news", "#life", "#mood"]
_FILLERS = ["very", "that", "really", "exactly", "so", "too"]

# How often each kind of tweet is drawn.
_KINDS = {"plain": 0.15, "negation": 0.3, "contrast": 0.3, "neutral": 0.25}


def _tweet(rng, kind, subject, verdict, other, filler):
    """(text, label) of one kind; `verdict` decides the label, `other` is a distractor.

    Every word, and every pair of neighbouring words, appears in tweets of either label:
    negation and contrast differ from plain statements only in order and in one word,
    so only a model that reads in order can tell them apart.
    """
    polarity = "positive" if verdict in _POSITIVE else "negative"
    flipped = "negative" if polarity == "positive" else "positive"
    options = {
        "plain": [
            (f"{subject} was {filler} {verdict}", polarity),
            (f"i think {subject} was {filler} {verdict}", polarity),
        ],
        "negation": [
            (f"{subject} was not {filler} {verdict}", flipped),
            (f"i do not think {subject} was {filler} {verdict}", flipped),
        ],
        "contrast": [  # the clause after "honestly" decides
            (f"honestly {subject} was {verdict} , but everyone said it was {other}", polarity),
            (f"everyone said {subject} was {other} , but honestly it was {verdict}", polarity),
        ],
        "neutral": [
            (f"is {subject} {verdict} or {other} ?", "neutral"),
            (f"no idea yet if {subject} will be {verdict} or {other}", "neutral"),
            (f"{subject} starts at 8 tonight", "neutral"),
            (f"watching {subject} with my brother", "neutral"),
        ],
    }[kind]
    return options[int(rng.integers(len(options)))]


def _decorate(rng, text, label):
    """Adds the noise of real tweets: intensifiers, elongations, emoji, mentions, tags, URLs, case."""
    words = text.split(" ")
    for i, word in enumerate(words):  # every verdict word has a vowel to stretch
        if (word in _POSITIVE or word in _NEGATIVE) and rng.random() < 0.15:
            vowel = next(j for j, ch in enumerate(word) if ch in "aeiou")
            words[i] = word[:vowel] + word[vowel] * int(rng.integers(3, 6)) + word[vowel + 1 :]
    text = " ".join(words)
    if rng.random() < 0.25:
        text = text.upper() if rng.random() < 0.2 else text.capitalize()
    if rng.random() < 0.3:
        text = f"@{rng.choice(['amy', 'bob', 'news24', 'dan_the_man'])} {text}"
    if rng.random() < 0.15:
        text += " " + str(rng.choice(_EMOJI[label]))
    if rng.random() < 0.3:
        text += " " + str(rng.choice(_HASHTAGS))
    if rng.random() < 0.15:
        text += f" https://t.co/{rng.integers(10**6, 10**7)}"
    if rng.random() < 0.2:
        text += " " + str(rng.choice(["!", "!!!", "...", "lol"]))
    return text


def generate_tweets(n, seed=0):
    """`n` synthetic three-class tweets, a DataFrame with `text` and `label` columns.

    An order-aware model can solve them; a bag of words cannot: negation and contrast
    reuse the same words for opposite labels ("not good", "thought it was awful but it
    was great"), neutral tweets mention both polarities. The noise of real tweets is
    added (emoji, @mentions, hashtags, URLs, elongations, case). Seeded and deterministic.

    Example:

    >>> frame = generate_tweets(4, seed=1)
    >>> list(frame.columns), len(frame)
    (['text', 'label'], 4)
    """
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        kind = rng.choice(list(_KINDS), p=list(_KINDS.values()))
        positive, negative = str(rng.choice(_POSITIVE)), str(rng.choice(_NEGATIVE))
        verdict, other = (positive, negative) if rng.random() < 0.5 else (negative, positive)
        subject, filler = str(rng.choice(_SUBJECTS)), str(rng.choice(_FILLERS))
        text, label = _tweet(rng, kind, subject, verdict, other, filler)
        rows.append((_decorate(rng, text, label), label))
    return pd.DataFrame(rows, columns=["text", "label"])


def load_default(train=3000, validation=500, test=1000, seed=0):
    """The embedded default data: `(train, validation, test)` DataFrames of `generate_tweets`."""
    return tuple(generate_tweets(n, seed=seed + i) for i, n in enumerate((train, validation, test)))


def read_table(path, text_col="text", label_col="label", sep=None):
    """Texts and labels from a CSV or TSV file with named columns (pandas).

    `sep` defaults to a tab for `.tsv` and `.tab` files and to a comma otherwise. Returns
    a DataFrame with the columns `text` and `label`.
    """
    if sep is None:
        sep = "\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ","
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    frame = read_csv(
        path, "text", sep=sep, dtype={text_col: "string"}, keep_default_na=False, quoting=quoting
    )
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Argument `text_col`/`label_col`: column(s) {preview(missing)} not in {str(path)!r}; "
            f"its columns are {preview(list(frame.columns))}."
        )
    empty = frame[label_col].astype(str).str.strip() == ""  # missing values stay text: "" here
    if empty.any():
        raise ValueError(
            f"Argument `data`: data row {int(empty.argmax()) + 1} of {str(path)!r} has no `{label_col}` "
            "(every text needs its label)."
        )
    return pd.DataFrame({"text": frame[text_col].astype(str), "label": frame[label_col]})


def read_tweeteval(folder, split="train"):
    """A TweetEval split: `{split}_text.txt`, `{split}_labels.txt`, and `mapping.txt` if present.

    Label ids are mapped to their names through `mapping.txt` (`id<TAB>name` lines).
    Returns a DataFrame with the columns `text` and `label`.
    """
    folder = Path(folder)
    text_file, label_file = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    for file in (text_file, label_file):
        if not file.is_file():
            raise ValueError(f"Argument `data`: {str(folder)!r} has no {file.name} (TweetEval layout).")
    # one tweet per line: split on "\n" only, since tweets may hold other line separators
    texts = read_utf8(text_file, "data")[1].split("\n")
    labels = read_utf8(label_file, "data")[1].split()
    texts = texts[: len(labels)] if len(texts) == len(labels) + 1 and texts[-1] == "" else texts
    if len(texts) != len(labels):
        raise ValueError(
            f"Argument `data`: {text_file.name} has {len(texts)} lines, {label_file.name} {len(labels)}."
        )
    mapping_file = folder / "mapping.txt"
    if mapping_file.is_file():
        lines = [line for line in read_utf8(mapping_file, "data")[1].splitlines() if line.strip()]
        bad = [line for line in lines if "\t" not in line]
        if bad:
            raise ValueError(
                f"Argument `data`: {mapping_file.name} has a line without id<TAB>name: {bad[0][:80]!r}."
            )
        mapping = dict(line.split("\t")[:2] for line in lines)
        unknown = sorted(set(labels) - set(mapping))
        if unknown:
            raise ValueError(
                f"Argument `data`: {label_file.name} has label id(s) {preview(unknown)} "
                f"that {mapping_file.name} does not map."
            )
        labels = [mapping[label].strip() for label in labels]
    else:
        try:
            labels = [int(label) for label in labels]
        except ValueError:
            raise ValueError(
                f"Argument `data`: {label_file.name} holds labels that are not integer ids "
                "(add a mapping.txt, `id<TAB>name` lines, for named labels)."
            ) from None
    return pd.DataFrame({"text": [t.rstrip() for t in texts], "label": labels})
