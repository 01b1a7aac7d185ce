"""The English → Lindo generator, its grammar, and the readers for real parallel text."""

from pathlib import Path

import pandas as pd
import pytest

from rnnkit.apps.translation.data import (
    ADJECTIVES,
    NOUNS,
    NUMBERS,
    PREPOSITIONS,
    VERBS,
    generate_pairs,
    load_default,
    read_pairs,
    read_parallel,
)

MULTI30K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "multi30k_en_de"

# The grammar's inflections, written out from the spec rather than read from the module.
ARTICLE = {("m", "sg"): "lo", ("f", "sg"): "la", ("m", "pl"): "los", ("f", "pl"): "las"}
A = {"m": "un", "f": "una"}
ENDING = {("m", "sg"): "o", ("f", "sg"): "a", ("m", "pl"): "os", ("f", "pl"): "as"}
VERB_ENDING = {"sg": "et", "pl": "on"}


def plural(stem):
    return stem + ("s" if stem[-1] in "aeiou" else "es")


# English word form -> (lemma, number)
ENGLISH_NOUNS = {**{s: (s, "sg") for s in NOUNS}, **{p: (s, "pl") for s, (p, _, _) in NOUNS.items()}}
ENGLISH_VERBS = {**{b: (b, "pl") for b in VERBS}, **{s: (b, "sg") for b, (s, _) in VERBS.items()}}
# Lindo noun form -> (gender, number)
LINDO_NOUNS = {
    **{stem: (g, "sg") for _, stem, g in NOUNS.values()},
    **{plural(stem): (g, "pl") for _, stem, g in NOUNS.values()},
}
# Lindo adjective form -> (English adjective, gender, number)
LINDO_ADJECTIVES = {
    stem + ending: (english, *key) for english, stem in ADJECTIVES.items() for key, ending in ENDING.items()
}


def reference_translation(english):
    """Lindo for an English sentence, by the grammar of the docstring (an independent parser)."""
    tokens = english.split(" ")

    def noun_phrase(i, with_pp):
        det, i = tokens[i], i + 1
        adjectives = []
        while tokens[i] in ADJECTIVES:
            adjectives.append(tokens[i])
            i += 1
        lemma, number = ENGLISH_NOUNS[tokens[i]]
        _, stem, gender = NOUNS[lemma]
        if det == "the":
            lindo_det = ARTICLE[gender, number]
        elif det in ("a", "an"):
            assert number == "sg" and det == ("an" if tokens[i - len(adjectives)][0] in "aeiou" else "a")
            lindo_det = A[gender]
        else:
            assert number == "pl"
            lindo_det = NUMBERS[det]
        lindo = [lindo_det, stem if number == "sg" else plural(stem)]
        lindo += [ADJECTIVES[a] + ENDING[gender, number] for a in adjectives[::-1]]
        i += 1
        if with_pp and tokens[i] in PREPOSITIONS:
            preposition = tokens[i]
            inner, i, _ = noun_phrase(i + 1, with_pp=False)
            lindo += [PREPOSITIONS[preposition], *inner]
        return lindo, i, number

    subject, i, number = noun_phrase(0, with_pp=True)
    verb, verb_number = ENGLISH_VERBS[tokens[i]]
    assert verb_number == number  # English agreement with the head of the subject
    obj, i, _ = noun_phrase(i + 1, with_pp=True)
    assert tokens[i:] == ["."]
    return " ".join([*subject, *obj, VERBS[verb][1] + VERB_ENDING[number], "."])


@pytest.fixture(scope="module")
def pairs():
    return generate_pairs(3000, seed=0)


def test_generate_pairs_is_seeded(pairs):
    pd.testing.assert_frame_equal(pairs, generate_pairs(3000, seed=0))
    other = generate_pairs(3000, seed=1)
    assert (pairs.source != other.source).mean() > 0.9
    assert list(pairs.columns) == ["source", "target"] and len(pairs) == 3000
    assert len(generate_pairs(0)) == 0
    with pytest.raises(ValueError, match="`n`"):
        generate_pairs(-1)


def test_pairs_are_distinct_tokenized_and_of_the_right_length(pairs):
    assert not pairs.duplicated().any()
    for column in ("source", "target"):
        text = pairs[column]
        assert text.str.endswith(" .").all() and (text == text.str.lower()).all()
        assert not text.str.contains("  ").any() and (text == text.str.strip()).all()
    lengths = pairs.source.str.split(" ").str.len()
    assert (lengths == pairs.target.str.split(" ").str.len()).all()  # one Lindo word per English word
    assert 5 <= lengths.min() and lengths.max() <= 20 and lengths.mean() > 9


def test_targets_follow_the_grammar(pairs):
    for source, target in pairs.itertuples(index=False):
        assert target == reference_translation(source), source


def test_verb_comes_last_and_agrees_with_the_subject(pairs):
    verbs = {stem for _, stem in VERBS.values()}
    numbers = set()
    for target in pairs.target:
        tokens = target.split(" ")
        _, number = LINDO_NOUNS[tokens[1]]  # the subject's head follows its determiner
        verb = tokens[-2]
        assert verb.removesuffix(VERB_ENDING[number]) in verbs, target
        numbers.add(number)
    assert numbers == {"sg", "pl"}


def test_articles_and_adjectives_agree_with_the_noun(pairs):
    seen = set()
    for target in pairs.target:
        tokens = target.split(" ")
        for i, token in enumerate(tokens):
            if token not in LINDO_NOUNS:
                continue
            gender, number = LINDO_NOUNS[token]
            seen.add((gender, number))
            assert tokens[i - 1] in (ARTICLE[gender, number], A[gender], *NUMBERS.values()), target
            j = i + 1
            while tokens[j] in LINDO_ADJECTIVES:
                assert LINDO_ADJECTIVES[tokens[j]][1:] == (gender, number), target
                j += 1
    assert seen == {("m", "sg"), ("f", "sg"), ("m", "pl"), ("f", "pl")}


def test_adjectives_are_mirrored_around_the_noun(pairs):
    # subjects "the ADJ1 ADJ2 NOUN ..." become "lo NOUN ADJ2 ADJ1 ..."
    checked = 0
    for source, target in pairs.itertuples(index=False):
        english, lindo = source.split(" "), target.split(" ")
        if english[1] in ADJECTIVES and english[2] in ADJECTIVES:
            assert [LINDO_ADJECTIVES[word][0] for word in lindo[2:4]] == [english[2], english[1]]
            checked += 1
    assert checked > 100


def test_lexicon_is_one_to_one():
    assert (len(NOUNS), len(ADJECTIVES), len(VERBS), len(PREPOSITIONS)) == (25, 12, 10, 4)
    assert {g for _, _, g in NOUNS.values()} == {"m", "f"}
    lindo = [*LINDO_NOUNS, *PREPOSITIONS.values(), *NUMBERS.values(), *ARTICLE.values(), *A.values()]
    lindo += list(LINDO_ADJECTIVES)
    lindo += [stem + e for _, stem in VERBS.values() for e in VERB_ENDING.values()]
    assert len(lindo) == len(set(lindo))
    english = [*ENGLISH_NOUNS, *ENGLISH_VERBS, *ADJECTIVES, *PREPOSITIONS, *NUMBERS, "the", "a", "an"]
    assert len(english) == len(set(english))


def test_load_default_splits_are_disjoint_and_sized():
    train, validation, test = load_default(n=1000, seed=3, val_fraction=0.1, test_fraction=0.2)
    assert (len(train), len(validation), len(test)) == (700, 100, 200)
    assert not (set(train.source) & set(validation.source) or set(train.source) & set(test.source))
    assert not set(validation.source) & set(test.source)
    assert all(list(split.index) == list(range(len(split))) for split in (train, validation, test))
    pd.testing.assert_frame_equal(test, load_default(n=1000, seed=3, val_fraction=0.1, test_fraction=0.2)[2])
    with pytest.raises(ValueError, match="`val_fraction`"):
        load_default(val_fraction=1.5)
    with pytest.raises(ValueError, match="`val_fraction` and `test_fraction`"):
        load_default(val_fraction=0.5, test_fraction=0.5)


def test_read_pairs_anki_format(tmp_path):
    path = tmp_path / "deu.txt"
    path.write_text(
        "Go.\tGeh.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n"
        'He said "hi".\tEr sagte „hallo".\tCC-BY 2.0\n'
        "NA\tnull\tCC-BY 2.0\n"
        "  Run!  \t Lauf! \n"
        "\n",
        encoding="utf-8",
    )
    for argument in (path, str(path)):
        frame = read_pairs(argument)
        assert list(frame.columns) == ["source", "target"]
        assert list(frame.source) == ["Go.", 'He said "hi".', "NA", "Run!"]
        assert list(frame.target) == ["Geh.", 'Er sagte „hallo".', "null", "Lauf!"]
    swapped = read_pairs(path, source_col=1, target_col=0)
    assert swapped.source[0] == "Geh." and swapped.target[0] == "Go."


@pytest.mark.parametrize(
    "content, match",
    [
        (None, r"`path`: no such file"),
        (b"", r"`path`: .* is empty"),
        (b"  \n\n", r"`path`: .* is empty"),
        (b"Go.\tGeh.\nno tab here\n", r"`path`: line 2 of .* has 1 column"),
        (b"Go.\tGeh.\n   \nHi.\tHallo.\n", r"`path`: line 2 of .* has 1 column"),
        (b"Go.\tGeh.\nHi.\tHall\xf6.\n", r"`path`: .* not UTF-8 text \(line 2"),
    ],
)
def test_read_pairs_errors_name_the_path_and_line(tmp_path, content, match):
    path = tmp_path / "pairs.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_pairs(path)


def test_read_pairs_checks_the_columns(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="`source_col`"):
        read_pairs(path, source_col=-1)
    with pytest.raises(ValueError, match="`source_col` and `target_col`"):
        read_pairs(path, source_col=1, target_col=1)
    with pytest.raises(ValueError, match="line 1 .* expected at least 3"):
        read_pairs(path, target_col=2)


@pytest.mark.parametrize("ending", ["\n", ""])
def test_read_parallel_aligns_lines(tmp_path, ending):
    source, target = tmp_path / "train.en", tmp_path / "train.de"
    source.write_text("A dog runs.\n\n  Two men . \nNA" + ending, encoding="utf-8")
    target.write_text("Ein Hund rennt.\n\n  Zwei Männer . \nNA" + ending, encoding="utf-8")
    frame = read_parallel(str(source), target)
    assert list(frame.source) == ["A dog runs.", "", "  Two men . ", "NA"]
    assert list(frame.target) == ["Ein Hund rennt.", "", "  Zwei Männer . ", "NA"]


def test_read_parallel_count_mismatch_names_both_files_and_counts(tmp_path):
    source, target = tmp_path / "train.en", tmp_path / "train.de"
    source.write_text("a\nb\nc\n", encoding="utf-8")
    target.write_text("x\ny\n", encoding="utf-8")
    message = r"`source_path` and `target_path` must .* lines: train\.en has 3, train\.de has 2\.$"
    with pytest.raises(ValueError, match=message):
        read_parallel(source, target)


def test_read_parallel_errors_name_the_file(tmp_path):
    source, target = tmp_path / "train.en", tmp_path / "train.de"
    source.write_text("a\n", encoding="utf-8")
    target.write_bytes(b"\xe4\n")
    with pytest.raises(ValueError, match=r"`target_path`: .*train\.de.* not UTF-8"):
        read_parallel(source, target)
    with pytest.raises(ValueError, match="`source_path`: no such file"):
        read_parallel(tmp_path / "missing.en", target)


def test_read_parallel_multi30k_validation():
    if not (MULTI30K / "val.en").is_file():
        pytest.skip(f"Multi30k not found at {MULTI30K}")
    frame = read_parallel(MULTI30K / "val.en", MULTI30K / "val.de")
    assert len(frame) == 1014
    assert frame.source[0] == "A group of men are loading cotton onto a truck"
    assert frame.target[0] == "Eine Gruppe von Männern lädt Baumwolle auf einen Lastwagen"
