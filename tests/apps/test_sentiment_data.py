"""The generated tweets, the CSV/TSV reader and the TweetEval reader."""

from pathlib import Path

import pandas as pd
import pytest

from rnnkit.apps.sentiment import generate_tweets, load_default, read_table, read_tweeteval

SHARED = Path(__file__).parents[3] / "shared" / "data" / "tweeteval_sentiment"


def test_generator_is_seeded_and_balanced():
    a, b = generate_tweets(3000, seed=4), generate_tweets(3000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_tweets(3000, seed=5))
    shares = a.label.value_counts(normalize=True)
    assert set(shares.index) == {"negative", "neutral", "positive"} and shares.min() > 0.2


def test_generator_holds_the_noise_of_real_tweets():
    text = " ".join(generate_tweets(2000, seed=0).text)
    for marker in ("@", "#", "https://t.co/", "😊", "not", "but honestly"):
        assert marker in text
    assert any(ch * 3 in text for ch in "aeiou")  # elongations


def test_negation_reuses_the_words_of_the_opposite_label():
    frame = generate_tweets(3000, seed=0)
    pair = frame[frame.text.str.contains("that good")]  # "was that good" / "was not that good"
    assert set(pair.label) == {"negative", "positive"}


def test_load_default_splits_do_not_share_seeds():
    train, validation, test = load_default(train=50, validation=20, test=30)
    assert (len(train), len(validation), len(test)) == (50, 20, 30)
    assert not set(train.text) >= set(test.text)


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_read_table_named_columns(tmp_path, suffix, sep):
    path = tmp_path / f"tweets{suffix}"
    pd.DataFrame({"id": [1, 2], "tweet": ["so good, really", "he said: bad"], "y": ["pos", "neg"]}).to_csv(
        path, sep=sep, index=False
    )
    frame = read_table(path, text_col="tweet", label_col="y")
    assert list(frame.text) == ["so good, really", "he said: bad"]
    assert list(frame.label) == ["pos", "neg"]


def test_read_table_missing_column_names_the_argument(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a"], "label": ["b"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="`text_col`/`label_col`.*'sentiment'"):
        read_table(path, label_col="sentiment")
    with pytest.raises(ValueError, match="`data`"):
        read_table(tmp_path / "missing.csv")


def test_read_tweeteval_layout(tmp_path):
    (tmp_path / "train_text.txt").write_text("I love it \nmeh\u2028still one tweet\n", encoding="utf-8")
    (tmp_path / "train_labels.txt").write_text("2\n1\n")
    (tmp_path / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    frame = read_tweeteval(tmp_path, "train")
    assert list(frame.label) == ["positive", "neutral"]
    assert list(frame.text) == ["I love it", "meh\u2028still one tweet"]
    (tmp_path / "mapping.txt").unlink()
    assert list(read_tweeteval(tmp_path, "train").label) == [2, 1]
    with pytest.raises(ValueError, match="test_text.txt"):
        read_tweeteval(tmp_path, "test")


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared TweetEval data is not beside this checkout")
def test_read_tweeteval_shared_validation_split():
    frame = read_tweeteval(SHARED, "val")
    assert len(frame) == 2000
    assert frame.label.value_counts().to_dict() == {"neutral": 869, "positive": 819, "negative": 312}
