"""`rnnkit sentiment train|evaluate|predict|export` on a small CSV."""

import numpy as np
import pandas as pd
import pytest

from rnnkit.apps.cli import main
from rnnkit.apps.sentiment import SentimentPipeline

SMALL = ["--units", "8", "--max-len", "10", "--epochs", "1", "--quiet"]


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "tweets.csv"
    texts = ["so good", "not good at all", "it starts at 8", "great stuff", "awful day", "watching tv"] * 5
    labels = ["pos", "neg", "neu"] * 10
    pd.DataFrame({"tweet": texts, "sentiment": labels}).to_csv(path, index=False)
    return path


def test_train_evaluate_predict_export(csv, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--data", str(csv), "--text-col", "tweet", "--label-col", "sentiment", "--out", str(out)]
    assert main(["sentiment", "train", *common, *SMALL, "--val-split", "0.2", "--padding", "post"]) == 0
    assert "macro_recall" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {"pipeline", "saved_model", "metrics.json", "history.csv"}

    assert main(["sentiment", "evaluate", *common]) == 0
    assert "rnnkit" in capsys.readouterr().out

    assert main(["sentiment", "predict", "--run", str(out), "--text", "so good", "--text", "awful"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["so good", "awful"]
    assert all(line.split("\t")[0] in {"pos", "neg", "neu"} for line in lines)

    assert main(["sentiment", "export", "--run", str(out)]) == 2  # exists: not without --overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main(["sentiment", "export", "--run", str(out), "--overwrite"]) == 0


def test_train_with_pretrained_vectors(csv, tmp_path):
    vectors = tmp_path / "vectors.vec"  # fastText's .vec: a header line, then word and numbers
    vectors.write_text("2 3\ngood 0.5 -1 2\nawful -2 0.25 1\n", encoding="utf-8")
    out = tmp_path / "run"
    args = ["--data", str(csv), "--text-col", "tweet", "--label-col", "sentiment", "--out", str(out)]
    extra = ["--embeddings", str(vectors), "--freeze-embeddings", "--ngram-buckets", "0"]
    assert main(["sentiment", "train", *args, *SMALL, *extra]) == 0
    pipeline = SentimentPipeline.load(out / "pipeline")
    vocabulary = pipeline.preprocessor.get_vocabulary()
    table = pipeline.model.get_layer("word_vectors").get_weights()[0]
    np.testing.assert_array_equal(table[vocabulary.index("good")], [0.5, -1, 2])
    np.testing.assert_array_equal(table[vocabulary.index("awful")], [-2, 0.25, 1])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--label-col", "mood"], "label_col"),
        (["--max-len", "0"], "max_len"),
        (["--cell", "transformer"], "cell"),
        (["--padding", "middle"], "padding"),
        (["--val-split", "1.5"], "val-split"),
        (["--embeddings", "no-such-vectors.txt"], "embeddings"),
    ],
)
def test_bad_input_exits_2_with_one_line(csv, tmp_path, capsys, extra, message):
    args = ["sentiment", "train", "--data", str(csv), "--text-col", "tweet", "--label-col", "sentiment"]
    assert main([*args, "--out", str(tmp_path / "run"), *SMALL, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_missing_data_file_and_missing_run(tmp_path, capsys):
    assert main(["sentiment", "train", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path)]) == 2
    assert "`data`" in capsys.readouterr().err
    assert main(["sentiment", "predict", "--out", str(tmp_path), "--text", "hi"]) == 2
    assert "no saved pipeline" in capsys.readouterr().err


def test_out_refuses_a_folder_of_other_files_unless_overwrite(csv, tmp_path, capsys):
    """`--out DIR` with DIR the user's own folder (not a run) writes nothing there unasked."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    args = ["sentiment", "train", "--data", str(csv), "--text-col", "tweet", "--label-col", "sentiment"]
    assert main([*args, "--out", str(folder), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert "`out`" in err and "notes.txt" in err and "overwrite" in err and len(err.splitlines()) == 1
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]  # nothing written
    assert main([*args, "--out", str(folder), *SMALL, "--overwrite"]) == 0  # asked: beside them
    assert (folder / "notes.txt").read_text() == "my notes" and (folder / "pipeline").exists()
    assert main([*args, "--out", str(csv), *SMALL]) == 2  # a file is no run folder
    assert "is a file" in capsys.readouterr().err
