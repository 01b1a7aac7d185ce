"""Tweet sentiment on TweetEval: rnnkit's pipeline against TF-IDF + logistic regression.

Two splits of the shared data (`../shared/data/tweeteval_sentiment`, see its PROVENANCE.md),
each scored for both models in one run, with TweetEval's metric (macro-recall), macro-F1,
accuracy and the training minutes:

- **val**: trained on `train_semeval2013_2016.tsv` (a substitute for TweetEval's train split),
  scored on TweetEval's val split. The pipeline selects its epoch on that same split
  (`fit(patience=2)`: best validation macro-recall), so its val score is optimistic.
- **newest source (proxy)**: trained on every source but the newest, `twitter-2016test`,
  selected on TweetEval val, scored on `twitter-2016test`, which neither training nor
  selection saw. Its tweets are later than the rest, as the official test (SemEval-2017) is
  later than all of them: the closer proxy for the shift a user meets. (Val tweets are drawn
  from the same pool as the training tweets.)

The pipeline runs with its defaults (`SentimentPipeline()`), unless options say otherwise.
The official test split is not here; the TweetEval paper reports test macro-recall LSTM
58.3, SVM 62.9, FastText 62.9.

    python -m benchmarks.sentiment_tweeteval     # writes benchmarks/results/sentiment_tweeteval.md
    python -m benchmarks.sentiment_tweeteval --option ngram_buckets=0 --output /tmp/no_ngrams.md
"""

import argparse
import ast
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnnkit.apps.sentiment import SentimentPipeline, read_table, read_tweeteval  # noqa: E402

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "tweeteval_sentiment"
RESULTS = Path(__file__).parent / "results" / "sentiment_tweeteval.md"
NEWEST = "twitter-2016test"


def splits(data):
    """`{name: (train, selection, scored)}` frames of the two settings."""
    train = read_table(data / "train_semeval2013_2016.tsv", label_col="label_name")
    sources = read_table(data / "train_semeval2013_2016.tsv", text_col="source", label_col="label_name")
    val = read_tweeteval(data, "val")
    newest = (sources.text == NEWEST).to_numpy()
    return {
        "val": (train, val, val),
        f"newest source ({NEWEST})": (train[~newest], val, train[newest]),
    }


def run(options, train, selection, scored, epochs):
    """Metrics of the pipeline and of its TF-IDF baseline on `scored`, and their minutes."""
    pipeline = SentimentPipeline(**options)
    start = time.perf_counter()
    history = pipeline.fit(
        train.text,
        train.label,
        validation_data=(selection.text, selection.label),
        epochs=epochs,
        patience=2,
        verbose=2,
    )
    minutes = (time.perf_counter() - start) / 60
    start = time.perf_counter()
    metrics = pipeline.evaluate(scored.text, scored.label, baseline=True)
    baseline_minutes = (time.perf_counter() - start) / 60  # mostly fitting the baseline
    recalls = history.history["val_macro_recall"]
    best = max(range(len(recalls)), key=recalls.__getitem__)
    return pipeline, metrics, minutes, baseline_minutes, len(recalls), best + 1


def table(results, args):
    lines = [
        "# Tweet sentiment: TweetEval val and the newest source",
        "",
        "Scores in % on each setting's scored split; both models trained on the same tweets in one run.",
        "- val: trained on train_semeval2013_2016.tsv (47,575 tweets), scored on TweetEval val (2,000),",
        "  on which rnnkit also selects its epoch (so its val score is optimistic).",
        f"- newest source: trained on every source but {NEWEST} (27,973 tweets), epoch selected on",
        f"  TweetEval val, scored on {NEWEST} (19,602 tweets), which neither saw.",
        "",
        "TweetEval paper, official test split, macro-recall: LSTM 58.3, SVM 62.9, FastText 62.9.",
        "",
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}.",
        "",
        "| setting | model | macro-recall | macro-F1 | accuracy | training minutes |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for setting, (pipeline, metrics, minutes, baseline_minutes, epochs, best) in results.items():
        rows = [
            (f"rnnkit {describe(pipeline)}", metrics, f"{minutes:.1f} ({epochs} epochs, best {best})"),
            ("TF-IDF (1-2 grams) + logistic regression", metrics["baseline"], f"{baseline_minutes:.1f}"),
        ]
        for name, m, time_text in rows:
            lines.append(
                f"| {setting} | {name} | {100 * m['macro_recall']:.1f} | {100 * m['macro_f1']:.1f} | "
                f"{100 * m['accuracy']:.1f} | {time_text} |"
            )
    command = " ".join(["python -m benchmarks.sentiment_tweeteval", *args.argv])
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def describe(pipeline):
    config = pipeline.get_config()
    defaults = SentimentPipeline().get_config()
    changed = {name: value for name, value in config.items() if value != defaults[name]}
    return "defaults" + "".join(f", {name}={value}" for name, value in changed.items())


def option(text):
    """`name=value` of a `SentimentPipeline` argument, the value a Python literal or a string."""
    name, _, value = text.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--option", type=option, action="append", default=[], help="name=value (repeatable)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--settings", default="all", choices=["all", "val", "newest"])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if not args.data.is_dir():
        raise SystemExit(f"TweetEval data not found at {args.data}")
    results = {}
    for setting, (train, selection, scored) in splits(args.data).items():
        if args.settings in ("all", setting.split()[0]):
            results[setting] = run(dict(args.option), train, selection, scored, args.epochs)
    report = table(results, args)
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)


if __name__ == "__main__":
    main()
