"""Data for the translation pipeline: the embedded English → Lindo generator and parallel-text readers."""

import csv
import io

import numpy as np
import pandas as pd

from ..checks import check_int, check_split_fractions, read_utf8

__all__ = [
    "ADJECTIVES",
    "ADJECTIVE_ENDINGS",
    "DEFINITE_ARTICLES",
    "INDEFINITE_ARTICLES",
    "NOUNS",
    "NUMBERS",
    "PREPOSITIONS",
    "VERBS",
    "VERB_ENDINGS",
    "generate_pairs",
    "load_default",
    "noun_form",
    "read_pairs",
    "read_parallel",
]

# The lexicon: one Lindo word per English word. Gender is lexical ("m" or "f"): a noun's
# ending does not give it away ("sela" is masculine, "libro" feminine), so it must be learnt.

# English singular: (English plural, Lindo stem, gender)
NOUNS = {
    "dog": ("dogs", "hund", "m"),
    "cat": ("cats", "miska", "f"),
    "house": ("houses", "dom", "f"),
    "bird": ("birds", "pialo", "m"),
    "tree": ("trees", "arbel", "m"),
    "car": ("cars", "vetura", "f"),
    "man": ("men", "viro", "m"),
    "woman": ("women", "femin", "f"),
    "child": ("children", "bimbo", "m"),
    "girl": ("girls", "pupa", "f"),
    "boy": ("boys", "knabo", "m"),
    "horse": ("horses", "kaval", "m"),
    "cow": ("cows", "vaka", "f"),
    "table": ("tables", "tabel", "f"),
    "chair": ("chairs", "sela", "m"),
    "book": ("books", "libro", "f"),
    "river": ("rivers", "fluv", "m"),
    "bridge": ("bridges", "ponto", "m"),
    "garden": ("gardens", "jardin", "m"),
    "door": ("doors", "porta", "f"),
    "window": ("windows", "fenestra", "f"),
    "boat": ("boats", "barko", "m"),
    "mouse": ("mice", "muso", "f"),
    "flower": ("flowers", "flor", "f"),
    "teacher": ("teachers", "docent", "m"),
}
# English: Lindo stem (inflected with ADJECTIVE_ENDINGS)
ADJECTIVES = {
    "small": "pik",
    "big": "grand",
    "red": "rub",
    "blue": "blu",
    "green": "verd",
    "old": "vej",
    "young": "jun",
    "happy": "fel",
    "sad": "trist",
    "black": "negr",
    "white": "blank",
    "fast": "rapid",
}
# English plural (base) form: (English third-person singular, Lindo stem)
VERBS = {
    "see": ("sees", "vid"),
    "chase": ("chases", "kas"),
    "follow": ("follows", "sekv"),
    "like": ("likes", "am"),
    "watch": ("watches", "rigard"),
    "find": ("finds", "trov"),
    "hear": ("hears", "aud"),
    "carry": ("carries", "port"),
    "paint": ("paints", "pentr"),
    "touch": ("touches", "tusk"),
}
PREPOSITIONS = {"near": "apud", "behind": "post", "under": "sub", "above": "supr"}
NUMBERS = {"two": "du", "three": "tri", "four": "kvar", "five": "kin"}  # invariable, plural nouns
DEFINITE_ARTICLES = {("m", "sg"): "lo", ("f", "sg"): "la", ("m", "pl"): "los", ("f", "pl"): "las"}
INDEFINITE_ARTICLES = {"m": "un", "f": "una"}  # singular only
ADJECTIVE_ENDINGS = {("m", "sg"): "o", ("f", "sg"): "a", ("m", "pl"): "os", ("f", "pl"): "as"}
VERB_ENDINGS = {"sg": "et", "pl": "on"}

_NOUN_KEYS = list(NOUNS)
_ADJECTIVE_KEYS = list(ADJECTIVES)
_VERB_KEYS = list(VERBS)
_PREPOSITION_KEYS = list(PREPOSITIONS)
_NUMBER_KEYS = list(NUMBERS)


def noun_form(stem, number):
    """A Lindo noun in `number` ("sg" or "pl"): the plural adds -s after a vowel, -es after a consonant."""
    if number == "sg":
        return stem
    return stem + ("s" if stem[-1] in "aeiou" else "es")


def _noun_phrase(rng, max_adjectives, with_pp):
    """One noun phrase: `(english_tokens, lindo_tokens, number)`."""
    # 1. head noun and number; the determiner follows from the number
    noun = _NOUN_KEYS[int(rng.integers(len(_NOUN_KEYS)))]
    plural, stem, gender = NOUNS[noun]
    number = "pl" if rng.random() < 0.4 else "sg"
    draw = rng.random()
    if number == "sg":
        english_det = "the" if draw < 0.6 else "a"
        lindo_det = DEFINITE_ARTICLES[gender, number] if english_det == "the" else INDEFINITE_ARTICLES[gender]
    elif draw < 0.5:
        english_det, lindo_det = "the", DEFINITE_ARTICLES[gender, number]
    else:
        english_det = _NUMBER_KEYS[int(rng.integers(len(_NUMBER_KEYS)))]
        lindo_det = NUMBERS[english_det]
    # 2. distinct adjectives: before the noun in English, after it and mirrored in Lindo
    k = int(rng.integers(max_adjectives + 1))
    adjectives = [_ADJECTIVE_KEYS[i] for i in rng.choice(len(_ADJECTIVE_KEYS), size=k, replace=False)]
    english = [english_det, *adjectives, plural if number == "pl" else noun]
    if english_det == "a" and english[1][0] in "aeiou":
        english[0] = "an"
    lindo = [lindo_det, noun_form(stem, number)]
    lindo += [ADJECTIVES[a] + ADJECTIVE_ENDINGS[gender, number] for a in reversed(adjectives)]
    # 3. an optional prepositional phrase, after its noun phrase in both languages
    if with_pp and rng.random() < 0.35:
        preposition = _PREPOSITION_KEYS[int(rng.integers(len(_PREPOSITION_KEYS)))]
        inner_english, inner_lindo, _ = _noun_phrase(rng, max_adjectives=1, with_pp=False)
        english += [preposition, *inner_english]
        lindo += [PREPOSITIONS[preposition], *inner_lindo]
    return english, lindo, number


def _sentence(rng):
    """One `(english, lindo)` sentence pair: subject, verb, object."""
    subject_en, subject_li, number = _noun_phrase(rng, max_adjectives=2, with_pp=True)
    verb = _VERB_KEYS[int(rng.integers(len(_VERB_KEYS)))]
    singular, stem = VERBS[verb]
    object_en, object_li, _ = _noun_phrase(rng, max_adjectives=2, with_pp=True)
    english = [*subject_en, singular if number == "sg" else verb, *object_en, "."]
    lindo = [*subject_li, *object_li, stem + VERB_ENDINGS[number], "."]
    return " ".join(english), " ".join(lindo)


def generate_pairs(n=4000, seed=0):
    """`n` distinct English sentences and their translation into Lindo, an invented language.

    A DataFrame with the string columns `source` (English) and `target` (Lindo). Seeded and
    deterministic (`numpy.random.default_rng(seed)`). Lindo reorders words and makes them
    agree, so a decoder that attends to the right source word does visibly better than
    one that reads a single summary vector: the verb moves past the whole object, the
    adjectives move past their noun in mirrored order, and their endings depend on a
    noun gender that only the lexicon knows.

    Grammar (lower-case, tokens separated by single spaces, both sides end in " ."):

        sentence   -> NP(subject) VERB NP(object) "."              English: SVO
        sentence   -> NP(subject) NP(object) VERB "."              Lindo:   SOV
        NP         -> DET ADJ_1 .. ADJ_k NOUN [PP]     k = 0..2    English
        NP         -> DET NOUN ADJ_k .. ADJ_1 [PP]                 Lindo: adjectives after, mirrored
        PP         -> PREP DET [ADJ] NOUN                          after its noun in both (no nesting)

    Agreement in Lindo (`g` the noun's gender in `NOUNS`, `n` the number sg/pl):

    - DET: "the" → `DEFINITE_ARTICLES[g, n]` (lo/la/los/las); "a"/"an" → `INDEFINITE_ARTICLES[g]`
      (un/una, singular); "two".."five" → `NUMBERS` (du/tri/kvar/kin, plural, invariable).
    - NOUN: the stem in the singular; `noun_form(stem, "pl")` adds -s (after a vowel) or -es.
    - ADJ: stem + `ADJECTIVE_ENDINGS[g, n]` (-o/-a/-os/-as).
    - VERB: stem + `VERB_ENDINGS[n]` (-et/-on) with `n` the subject head's number, which in
      English shows as "sees"/"see" (a noun inside the subject's PP does not count).

    Each noun phrase is plural with probability 0.4 and has a PP with probability 0.35, so
    sentences run from 6 to 18 tokens, the same count on both sides.

    Example:

    >>> frame = generate_pairs(3, seed=0)
    >>> list(frame.columns), len(frame)
    (['source', 'target'], 3)
    >>> frame.source[0]
    'the small boats see a young fast river .'
    >>> frame.target[0]
    'los barkos pikos un fluv rapido juno vidon .'
    """
    check_int("n", n)
    rng = np.random.default_rng(seed)
    pairs = {}  # a dict keeps the first draw of each pair, in order
    # the language has billions of sentences, so a duplicate is rare and a redraw cheap
    while len(pairs) < n:
        pairs[_sentence(rng)] = None
    return pd.DataFrame(list(pairs), columns=["source", "target"], dtype=str)


def load_default(n=4000, seed=0, val_fraction=0.1, test_fraction=0.1):
    """The embedded default data: `(train, validation, test)` DataFrames of `generate_pairs`.

    `n` pairs are generated, duplicate sources dropped, and the rest split in order:
    `round(n * val_fraction)` for validation, `round(n * test_fraction)` for test, the
    others for training. No sentence appears in two splits.
    """
    check_split_fractions(val_fraction, test_fraction)
    frame = generate_pairs(n, seed=seed).drop_duplicates("source").reset_index(drop=True)
    n_val, n_test = round(len(frame) * val_fraction), round(len(frame) * test_fraction)
    n_train = len(frame) - n_val - n_test
    splits = (frame[:n_train], frame[n_train : n_train + n_val], frame[n_train + n_val :])
    return tuple(split.reset_index(drop=True) for split in splits)


def read_pairs(path, source_col=0, target_col=1):
    """Sentence pairs from a tab-separated file in the Tatoeba / Anki format (pandas).

    Each line is `source<TAB>target`, possibly followed by more columns (the files of
    manythings.org/anki add an attribution), which are ignored. UTF-8, no header, no
    quoting (sentences hold quotes), and "NA" or "null" stay text. Empty lines are skipped;
    surrounding whitespace is stripped from each sentence. Returns a DataFrame with the
    columns `source` and `target`.
    """
    source_col, target_col = check_int("source_col", source_col), check_int("target_col", target_col)
    if source_col == target_col:
        raise ValueError(f"Arguments `source_col` and `target_col` must differ. Received: both {source_col}")
    path, text = read_utf8(path, "path")
    if not text.strip():
        raise ValueError(f"Argument `path`: {str(path)!r} is empty (expected source<TAB>target lines).")
    # 1. check the columns line by line, so the error can name the line
    needed, columns = max(source_col, target_col) + 1, 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.rstrip("\r"):  # empty lines are skipped, as pandas does
            count = line.count("\t") + 1
            if count < needed:
                raise ValueError(
                    f"Argument `path`: line {number} of {str(path)!r} has {count} column(s), "
                    f"expected at least {needed} (source<TAB>target). Received line: {line[:80]!r}"
                )
            columns = max(columns, count)
    # 2. parse; `names` spans the widest line, so ragged attribution columns are not an error
    frame = pd.read_csv(
        io.StringIO(text),
        sep="\t",
        header=None,
        names=range(columns),
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        dtype=str,
        skip_blank_lines=True,
    )
    return pd.DataFrame(
        {"source": frame[source_col].str.strip(), "target": frame[target_col].str.strip()}
    ).astype(str)


def _read_lines(path, argument):
    """Lines of `path`, empty ones kept; a final newline does not start an extra line."""
    path, text = read_utf8(path, argument)
    # split on "\n" only: str.splitlines would also split on separators inside sentences
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return path, [line.removesuffix("\r") for line in lines]


def read_parallel(source_path, target_path):
    """Sentence pairs from two aligned files (`train.en`, `train.de`): line i translates line i.

    UTF-8, one sentence per line; lines are kept as they are, less their newline, empty ones
    included. Returns a DataFrame with the columns `source` and `target`.
    """
    source_path, sources = _read_lines(source_path, "source_path")
    target_path, targets = _read_lines(target_path, "target_path")
    if len(sources) != len(targets):
        names = (source_path.name, target_path.name)
        if names[0] == names[1]:
            names = (str(source_path), str(target_path))
        raise ValueError(
            "Arguments `source_path` and `target_path` must have the same number of lines: "
            f"{names[0]} has {len(sources)}, {names[1]} has {len(targets)}."
        )
    return pd.DataFrame({"source": sources, "target": targets}, dtype=str)
