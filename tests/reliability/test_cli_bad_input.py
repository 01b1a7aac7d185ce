"""The bad-input catalogue of the command line: `rnnkit sentiment|forecast|translate|caption|lm`
with bad files or options exits with code 2 and one line, `rnnkit: error: ...` naming the
argument, with no traceback and before any training.

Each row is `(argv, argument)`; `argv(paths)` builds the command line from the bad files below
(`paths["out"]` is a fresh run folder, `paths["<task> run"]` one holding a saved pipeline).
"""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnnkit.apps.captioning import CaptionPipeline
from rnnkit.apps.cli import main
from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.language_model import LanguageModelPipeline
from rnnkit.apps.sentiment import SentimentPipeline
from rnnkit.apps.translation import TranslationPipeline
from tests.data import LABELS, TEXTS

from .runs import DOCUMENTS, PAIRS, SCENES, SERIES

SMALL = ["--quiet", "--units", "4", "--epochs", "1"]
MEGABYTE = "x" * 1_000_000
NOT_UTF8 = b"\xff\xfe\x00bad"


def tweets(rows):
    return "text,label\n" + "".join(f"{text},{label}\n" for text, label in rows)


def series_csv(frame):
    return frame.rename_axis("time").reset_index().to_csv(index=False)


def coco(names, captions):
    images = [{"id": i, "file_name": name} for i, name in enumerate(names)]
    annotations = [{"image_id": i, "caption": caption} for i, caption in enumerate(captions)]
    return json.dumps({"images": images, "annotations": annotations})


FILES = {
    # sentiment: CSV files and TweetEval folders
    "tweets.csv": tweets(zip(TEXTS, LABELS, strict=True)),
    "tweets_not_utf8.csv": b"text,label\nso good,positive\n" + NOT_UTF8 + b",negative\n",
    "tweets_empty.csv": "",
    "tweets_ragged.csv": "text,label\nso good,positive\nnot,good,at,all\n",
    "tweets_no_label.csv": "text,label\nso good,positive\nawful day,\n",
    "tweets_one_class.csv": tweets([("so good", "positive"), ("great", "positive")]),
    "tweets_megabyte_header.csv": f"{MEGABYTE},label\nso good,positive\n",
    "tweeteval_unmapped/train_text.txt": "so good\nawful\n",
    "tweeteval_unmapped/train_labels.txt": "0\n7\n",
    "tweeteval_unmapped/mapping.txt": "0\tnegative\n1\tpositive\n",
    "tweeteval_named/train_text.txt": "so good\nawful\n",
    "tweeteval_named/train_labels.txt": "positive\nnegative\n",
    "tweeteval_test_only/test_text.txt": "so good\n",
    "tweeteval_test_only/test_labels.txt": "0\n",
    # forecast: CSV files with a time column
    "series.csv": series_csv(SERIES),
    "series_not_utf8.csv": b"time,y\n2024-01-01 00:00:00," + NOT_UTF8 + b"\n",
    "series_empty.csv": "",
    "series_ragged.csv": "time,y\n2024-01-01,1\n2024-01-02,2,3,4\n",
    "series_inf.csv": series_csv(SERIES.assign(y=SERIES.y.where(SERIES.index != SERIES.index[40], np.inf))),
    "series_nan.csv": series_csv(SERIES.assign(y=SERIES.y.where(SERIES.index != SERIES.index[40]))),
    "series_megabyte_header.csv": series_csv(SERIES).replace("time", MEGABYTE, 1),
    "series_bad_time.csv": series_csv(SERIES).replace("2024-01-01 05:00:00", "yesterday"),
    "series_daily.csv": series_csv(
        SERIES.set_axis(pd.date_range("2024-01-01", periods=len(SERIES), freq="D"))
    ),
    "series_short.csv": series_csv(SERIES.iloc[:20]),
    # translate: tab-separated pairs and folders of aligned files
    "pairs.tsv": "".join(f"{s}\t{t}\n" for s, t in zip(PAIRS.source, PAIRS.target, strict=True)),
    "pairs_not_utf8.tsv": b"a dog .\tun hund .\n" + NOT_UTF8 + b"\tx\n",
    "pairs_empty.tsv": "\n\n",
    "pairs_no_tab.tsv": "a dog .\tun hund .\na cat without a translation\n",
    "pairs_megabyte.tsv": f"{MEGABYTE}\n",
    "pairs_no_source.tsv": "\tun hund .\n [ ] \tla miska .\n",
    "parallel_test_only/test.en": "a dog .\n",
    "parallel_test_only/test.de": "ein hund .\n",
    # caption: COCO captions, Flickr8k tokens, image files
    "images/0.png": tf.io.encode_png(SCENES[0][0]).numpy(),
    "images/1.png": tf.io.encode_png(SCENES[0][1]).numpy(),
    "images/not_an_image.png": NOT_UTF8,
    "captions.json": coco(["0.png", "1.png"], SCENES[1][:2]),
    "captions_not_utf8.json": b'{"images": [], "annotations": ["' + NOT_UTF8 + b'"]}',
    "captions_empty.json": "",
    "captions_no_annotations.json": json.dumps({"images": [{"id": 0, "file_name": "0.png"}]}),
    "tokens_megabyte.txt": f"0.png#0 {MEGABYTE}\n",
    # lm: text files, documents separated by blank lines
    "docs.txt": "\n\n".join(DOCUMENTS),
    "docs_not_utf8.txt": b"Return the value.\n\n" + NOT_UTF8 + b"\n",
    "docs_empty.txt": "",
    "docs_blank.txt": "\n\n   \n\n\t\n",
    "docs_short.txt": "So long.",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_files")
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (root / "empty_folder").mkdir()
    folders = {name.rpartition("/")[0] for name in FILES if "/" in name}
    return {name: str(root / name) for name in [*FILES, *folders, "empty_folder"]}


@pytest.fixture(scope="module")
def saved(sentiment_run, forecast_run, translation_run, caption_run, language_model_run, tmp_path_factory):
    """Run folders holding each session pipeline, for the verbs that load one."""
    runs = {"sentiment": sentiment_run, "forecast": forecast_run, "translate": translation_run}
    folders = {}
    for task, run in {**runs, "caption": caption_run, "lm": language_model_run}.items():
        folders[f"{task} run"] = str(tmp_path_factory.mktemp(task))
        run.pipeline.save(f"{folders[f'{task} run']}/pipeline")
    return folders


def sentiment(verb, data, *options):
    return lambda p: ["sentiment", verb, "--data", p[data], "--out", p["out"], *SMALL, *options]


def forecast(verb, data, *options):
    return lambda p: ["forecast", verb, "--data", p[data], "--time-col", "time", "--out", p["out"], *options]


def translate(verb, data, *options):
    return lambda p: ["translate", verb, "--data", p[data], "--out", p["out"], *SMALL, *options]


def caption(verb, data, *options):
    command = ["caption", verb, "--data", "{data}", "--images", "{images}", "--image-size", "16", *SMALL]
    return lambda p: (
        [x.format(data=p[data], images=p["images"]) for x in command] + ["--out", p["out"], *options]
    )


def lm(verb, data, *options):
    return lambda p: ["lm", verb, "--data", p[data], "--out", p["out"], *SMALL, "--seq-len", "16", *options]


def on_run(task, *argv):
    """A command on the saved run of `task` (`{name}` in argv is a path from `files`)."""
    return lambda p: [
        task,
        *[p[x[1:-1]] if x.startswith("{") else x for x in argv],
        "--run",
        p[f"{task} run"],
    ]


SENTIMENT_CASES = [
    pytest.param(sentiment("train", "tweets_not_utf8.csv"), "`data`", id="not-utf8"),
    pytest.param(sentiment("train", "tweets_empty.csv"), "`data`", id="empty-file"),
    pytest.param(sentiment("train", "tweets_ragged.csv"), "`data`", id="ragged-csv"),
    pytest.param(sentiment("train", "tweets_no_label.csv"), "`label`", id="empty-label-cell"),
    pytest.param(sentiment("train", "tweets_one_class.csv"), "`labels`", id="one-class"),
    pytest.param(sentiment("train", "tweets.csv", "--text-col", "tweet"), "`text_col`", id="missing-column"),
    pytest.param(sentiment("train", "tweets_megabyte_header.csv"), "`text_col`", id="megabyte-line"),
    pytest.param(sentiment("train", "tweets.csv", "--cell", "gru2"), "`cell`", id="unknown-cell"),
    pytest.param(sentiment("train", "tweets.csv", "--units", "-4"), "`units`", id="negative-units"),
    pytest.param(sentiment("train", "tweets.csv", "--epochs", "-1"), "`epochs`", id="negative-epochs"),
    pytest.param(sentiment("train", "tweets.csv", "--max-len", "-3"), "`max_len`", id="negative-max-len"),
    pytest.param(sentiment("train", "tweets.csv", "--val-split", "1"), "`--val-split`", id="val-split-1"),
    pytest.param(sentiment("train", "tweeteval_unmapped"), "`data`", id="tweeteval-unmapped-label"),
    pytest.param(sentiment("train", "tweeteval_named"), "`data`", id="tweeteval-named-labels-no-mapping"),
    pytest.param(
        on_run("sentiment", "evaluate", "--data", "{empty_folder}"), "`--data`", id="evaluate-no-split"
    ),
    pytest.param(on_run("sentiment", "evaluate", "--data", "{tweeteval_test_only}"), "`labels`", id="unseen"),
    pytest.param(
        on_run("sentiment", "predict", "--data", "{empty_folder}"), "`--text`", id="predict-no-split"
    ),
    pytest.param(on_run("sentiment", "predict"), "`--text`", id="predict-nothing"),
]

FORECAST_CASES = [
    pytest.param(forecast("train", "series_not_utf8.csv"), "`data`", id="not-utf8"),
    pytest.param(forecast("train", "series_empty.csv"), "`data`", id="empty-file"),
    pytest.param(forecast("train", "series_ragged.csv"), "`data`", id="ragged-csv"),
    pytest.param(forecast("train", "series_inf.csv"), "`data`", id="inf"),
    pytest.param(forecast("train", "series_nan.csv"), "`data`", id="nan"),
    pytest.param(forecast("train", "series_megabyte_header.csv"), "`time_col`", id="megabyte-line"),
    pytest.param(forecast("train", "series_bad_time.csv"), "`time_col`", id="unparsable-time"),
    pytest.param(
        forecast("train", "series.csv", "--covariates", "rain"), "`covariates`", id="missing-column"
    ),
    pytest.param(forecast("train", "series.csv", "--cell", "tcn"), "`cell`", id="unknown-cell"),
    pytest.param(forecast("train", "series.csv", "--units", "-8"), "`units`", id="negative-units"),
    pytest.param(forecast("train", "series.csv", "--epochs", "-1"), "`epochs`", id="negative-epochs"),
    pytest.param(forecast("train", "series.csv", "--lookback", "-5"), "`lookback`", id="negative-lookback"),
    pytest.param(forecast("train", "series.csv", "--quantiles", "0.9", "0.1"), "`quantiles`", id="quantiles"),
    pytest.param(
        forecast("train", "series.csv", "--multi-step", "seq2seq"), "`multi_step`", id="unknown-multi-step"
    ),
    pytest.param(forecast("train", "series.csv", "--val-split", "0"), "`--val-split`", id="val-split-0"),
    pytest.param(
        on_run("forecast", "predict", "--data", "{series_daily.csv}", "--time-col", "time"),
        "`history`",
        id="predict-other-frequency",
    ),
    pytest.param(
        on_run("forecast", "backtest", "--data", "{series_short.csv}", "--time-col", "time"),
        "`start`",
        id="backtest-within-a-season",
    ),
]

TRANSLATE_CASES = [
    pytest.param(translate("train", "pairs_not_utf8.tsv"), "`path`", id="not-utf8"),
    pytest.param(translate("train", "pairs_empty.tsv"), "`path`", id="empty-file"),
    pytest.param(translate("train", "pairs_no_tab.tsv"), "`path`", id="missing-column"),
    pytest.param(translate("train", "pairs_megabyte.tsv"), "`path`", id="megabyte-line"),
    pytest.param(translate("train", "pairs_no_source.tsv"), "`sources`", id="no-source-words"),
    pytest.param(translate("train", "empty_folder"), "`--data`", id="folder-without-files"),
    pytest.param(
        translate("train", "parallel_test_only", "--languages", "en"), "`--languages`", id="languages"
    ),
    pytest.param(translate("train", "pairs.tsv", "--cell", "LSTM-2"), "`cell`", id="unknown-cell"),
    pytest.param(translate("train", "pairs.tsv", "--units", "-4"), "`units`", id="negative-units"),
    pytest.param(translate("train", "pairs.tsv", "--epochs", "-1"), "`epochs`", id="negative-epochs"),
    pytest.param(
        translate("train", "pairs.tsv", "--embedding-dim", "0"), "`embedding_dim`", id="zero-embedding"
    ),
    pytest.param(
        translate("train", "pairs.tsv", "--attention", "luong"), "`attention`", id="unknown-attention"
    ),
    pytest.param(translate("train", "pairs.tsv", "--max-len", "0"), "`max_source_len`", id="zero-max-len"),
    pytest.param(translate("train", "pairs.tsv", "--val-split", "2"), "`--val-split`", id="val-split-2"),
    pytest.param(translate("train", "pairs.tsv", "--method", "top-k"), "`--method`", id="unknown-method"),
    pytest.param(
        on_run("translate", "translate", "--data", "{parallel_test_only}"), "`--text`", id="no-train"
    ),
    pytest.param(
        on_run("translate", "evaluate", "--data", "{pairs_not_utf8.tsv}"), "`path`", id="eval-not-utf8"
    ),
]

CAPTION_CASES = [
    pytest.param(caption("train", "captions_not_utf8.json"), "`captions_json`", id="not-utf8"),
    pytest.param(caption("train", "captions_empty.json"), "`captions_json`", id="empty-file"),
    pytest.param(caption("train", "captions_no_annotations.json"), "`captions_json`", id="missing-key"),
    pytest.param(caption("train", "tokens_megabyte.txt"), "`token_file`", id="megabyte-line"),
    pytest.param(
        caption("train", "captions.json", "--images", "/no/such/folder"), "`image_folder`", id="folder"
    ),
    pytest.param(
        lambda p: ["caption", "train", "--data", p["captions.json"], "--out", p["out"]],
        "`--images`",
        id="data-without-images",
    ),
    pytest.param(caption("train", "captions.json", "--cell", "rnn3"), "`cell`", id="unknown-cell"),
    pytest.param(caption("train", "captions.json", "--units", "-4"), "`units`", id="negative-units"),
    pytest.param(caption("train", "captions.json", "--epochs", "-1"), "`epochs`", id="negative-epochs"),
    pytest.param(caption("train", "captions.json", "--image-size", "8"), "`image_size`", id="image-size-8"),
    pytest.param(
        caption("train", "captions.json", "--conditioning", "input"), "`conditioning`", id="conditioning"
    ),
    pytest.param(caption("train", "captions.json", "--missing", "maybe"), "`missing`", id="unknown-missing"),
    pytest.param(caption("train", "captions.json", "--val-split", "1"), "`--val-split`", id="val-split-1"),
    pytest.param(caption("train", "captions.json", "--method", "nucleus"), "`--method`", id="unknown-method"),
    pytest.param(
        on_run("caption", "generate", "--image", "{images/not_an_image.png}"), "`images`", id="not-png"
    ),
    pytest.param(on_run("caption", "generate", "--image", "/no/such.png"), "`images`", id="missing-image"),
    pytest.param(on_run("caption", "generate"), "`--image`", id="generate-nothing"),
]


LM_CASES = [
    pytest.param(lm("train", "docs_not_utf8.txt"), "`--data`", id="not-utf8"),
    pytest.param(lm("train", "docs_empty.txt"), "`--data`", id="empty-file"),
    pytest.param(lm("train", "docs_blank.txt"), "`--data`", id="blank-file"),
    pytest.param(lm("train", "docs_short.txt", "--val-split", "0"), "`texts`", id="shorter-than-a-window"),
    pytest.param(lm("train", "docs.txt", "--level", "byte"), "`level`", id="unknown-level"),
    pytest.param(lm("train", "docs.txt", "--cell", "gru2"), "`cell`", id="unknown-cell"),
    pytest.param(lm("train", "docs.txt", "--units", "-4"), "`units`", id="negative-units"),
    pytest.param(lm("train", "docs.txt", "--epochs", "-1"), "`epochs`", id="negative-epochs"),
    pytest.param(lm("train", "docs.txt", "--bptt-steps", "0"), "`bptt_steps`", id="zero-chunk"),
    pytest.param(
        lm("train", "docs.txt", "--bptt-steps", "17"), "`bptt_steps`", id="chunk-longer-than-window"
    ),
    pytest.param(lm("train", "docs.txt", "--bptt-steps", "half"), "`--bptt-steps`", id="chunk-not-a-number"),
    pytest.param(lm("train", "docs.txt", "--temperature", "0"), "`temperature`", id="zero-temperature"),
    pytest.param(lm("train", "docs.txt", "--top-k", "0"), "`top_k`", id="zero-top-k"),
    pytest.param(lm("train", "docs.txt", "--val-split", "1"), "`--val-split`", id="val-split-1"),
    pytest.param(lm("train", "docs.txt", "--max-documents", "0"), "`--max-documents`", id="no-documents"),
    pytest.param(lm("train", "docs.txt", "--units", "many"), "--units", id="units-not-a-number"),
    pytest.param(on_run("lm", "generate", "--temperature", "-1"), "`temperature`", id="negative-temperature"),
    pytest.param(on_run("lm", "generate", "--length", "0"), "`length`", id="zero-length"),
    pytest.param(on_run("lm", "evaluate", "--data", "{docs_short.txt}"), "`texts`", id="evaluate-too-short"),
]


def refuse(*args, **kwargs):
    raise AssertionError("a model was built or trained before the bad input was refused")


@pytest.mark.parametrize(
    "argv, argument",
    [
        pytest.param(*case.values, id=f"{task}-{case.id}")
        for task, cases in (
            ("sentiment", SENTIMENT_CASES),
            ("forecast", FORECAST_CASES),
            ("translate", TRANSLATE_CASES),
            ("caption", CAPTION_CASES),
            ("lm", LM_CASES),
        )
        for case in cases
    ],
)
def test_bad_input_exits_2_with_one_line(argv, argument, files, saved, tmp_path, capsys, monkeypatch):
    for cls in (
        SentimentPipeline,
        ForecastPipeline,
        TranslationPipeline,
        CaptionPipeline,
        LanguageModelPipeline,
    ):
        monkeypatch.setattr(cls, "build_model", refuse)
    monkeypatch.setattr(keras.Model, "fit", refuse)
    assert main(argv({**files, **saved, "out": str(tmp_path / "run")})) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: "), err[:500]
    assert argument in lines[0] and len(lines[0]) < 500, lines[0][:500]
    assert "Traceback" not in out + err
    assert not (tmp_path / "run").exists()
