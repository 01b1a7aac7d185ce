"""Tweet sentiment on TweetEval: rnnkit's pipeline against TF-IDF + logistic regression.

Trains on `../shared/data/tweeteval_sentiment/train_semeval2013_2016.tsv` (a substitute for
TweetEval's train split, see its PROVENANCE.md), selects the epoch on TweetEval's val split
(early stopping on validation loss, best weights restored), and reports macro-recall
(TweetEval's official metric), macro-F1 and accuracy on val for both models, with the
training time, in one run. The official test split is not here: the TweetEval paper reports
test macro-recall LSTM 58.3, SVM 62.9, FastText 62.9.

    python -m benchmarks.sentiment_tweeteval     # writes benchmarks/results/sentiment_tweeteval.md
    python -m benchmarks.sentiment_tweeteval --cell lstm --units 128 --epochs 12
"""

import argparse
import json
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


def run(args):
    train = read_table(args.data / "train_semeval2013_2016.tsv", label_col="label_name")
    val = read_tweeteval(args.data, "val")
    pipeline = SentimentPipeline(
        cell=args.cell,
        units=args.units,
        layers=args.layers,
        embedding_dim=args.embedding_dim,
        vocab_size=args.vocab_size,
        max_len=args.max_len,
        dropout=args.dropout,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )
    start = time.perf_counter()
    history = pipeline.fit(
        train.text,
        train.label,
        validation_data=(val.text, val.label),
        epochs=args.epochs,
        callbacks=[stop],
        verbose=2,
    )
    minutes = (time.perf_counter() - start) / 60
    start = time.perf_counter()
    metrics = pipeline.evaluate(val.text, val.label, baseline=True)
    baseline_minutes = (time.perf_counter() - start) / 60  # includes fitting the baseline
    return pipeline, metrics, minutes, baseline_minutes, len(history.history["loss"])


def table(pipeline, metrics, minutes, baseline_minutes, epochs, args):
    rows = [
        ("rnnkit " + describe(pipeline), metrics, f"{minutes:.1f} ({epochs} epochs)"),
        ("TF-IDF (1-2 grams) + logistic regression", metrics["baseline"], f"{baseline_minutes:.1f}"),
    ]
    lines = [
        "# Tweet sentiment: TweetEval validation split",
        "",
        "Trained on train_semeval2013_2016.tsv (47,575 tweets; a substitute for TweetEval's train split),",
        "epoch selected on TweetEval val (2,000 tweets) by early stopping on validation loss. Scores on val.",
        "TweetEval paper, official test split, macro-recall: LSTM 58.3, SVM 62.9, FastText 62.9.",
        "",
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}.",
        "",
        "| model | macro-recall | macro-F1 | accuracy | training minutes |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, m, time_text in rows:
        lines.append(
            f"| {name} | {100 * m['macro_recall']:.1f} | {100 * m['macro_f1']:.1f} | "
            f"{100 * m['accuracy']:.1f} | {time_text} |"
        )
    command = " ".join(["python -m benchmarks.sentiment_tweeteval", *args.argv])
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def describe(pipeline):
    config = pipeline.get_config()
    direction = "bidirectional " if config["bidirectional"] else ""
    return (
        f"{direction}{config['cell']} x{config['layers']}, {config['units']} units, "
        f"embedding {config['embedding_dim']}, vocab {config['vocab_size']}, max_len {config['max_len']}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embedding-dim", type=int, default=200)
    parser.add_argument("--vocab-size", type=int, default=30000)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--dropout", type=float, default=0.4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if not args.data.is_dir():
        raise SystemExit(f"TweetEval data not found at {args.data}")
    pipeline, metrics, minutes, baseline_minutes, epochs = run(args)
    report = table(pipeline, metrics, minutes, baseline_minutes, epochs, args)
    print(report)
    print(json.dumps({k: v for k, v in metrics.items() if k != "report"}, indent=1, default=float)[:2000])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)


if __name__ == "__main__":
    main()
