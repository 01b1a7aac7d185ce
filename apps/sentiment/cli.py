"""`rnnkit sentiment train|evaluate|predict|export`."""

from pathlib import Path

import pandas as pd

from ..command import RECURRENT, Command, holdout
from .data import load_default, read_table, read_tweeteval
from .pipeline import SentimentPipeline

__all__ = ["SentimentCommand", "load_data"]


class SentimentCommand(Command):
    name, help, folder = "sentiment", "tweet sentiment: train, evaluate, predict, export", "runs/sentiment"
    pipeline = SentimentPipeline
    hyper_parameters = {
        **RECURRENT,
        "max_len": "tokens kept per tweet",
        "padding": "pre or post",
        "truncating": "pre or post",
    }
    epochs = 8

    def add_data_arguments(self, parser):
        parser.add_argument(
            "--data", help="CSV/TSV file, or a TweetEval folder (default: the embedded generated tweets)"
        )
        parser.add_argument(
            "--split", default=None, help="TweetEval split to read (train: train; evaluate: test, else val)"
        )
        parser.add_argument("--text-col", default="text")
        parser.add_argument("--label-col", default="label")
        parser.add_argument("--text", action="append", help="a text to predict (repeatable)")

    def load_data(self, args, held_out=True):
        val_split = args.val_split if held_out else 0
        splits = load_data(args.data, args.split, args.text_col, args.label_col, val_split, **args.embedded)
        return tuple(None if split is None else (split.text, split.label) for split in splits)

    def score(self, pipeline, split, args):
        return pipeline.evaluate(*split, baseline=args.verb == "train"), split

    def summary(self, metrics):
        rows = {"rnnkit": metrics}
        if "baseline" in metrics:
            rows["TF-IDF + logistic regression"] = metrics["baseline"]
        names = ("accuracy", "macro_f1", "macro_recall")
        table = pd.DataFrame({name: {k: m[k] for k in names} for name, m in rows.items()}).T
        return table.round(4).to_string()

    def predict(self, pipeline, args):
        texts = self.texts(args, "texts to predict")
        return "\n".join(
            f"{label}\t{text}" for label, text in zip(pipeline.predict(texts), texts, strict=True)
        )


def load_data(data=None, split=None, text_col="text", label_col="label", val_split=0.1, seed=0, **sizes):
    """`(train, validation, test)` DataFrames (`text`, `label`); any may be None. `sizes`: those
    of the embedded data (`load_default`'s arguments)."""
    if data is None:
        return load_default(seed=seed, **sizes)
    path = Path(data)
    if path.is_dir():
        splits = {
            s: read_tweeteval(path, s) for s in ("train", "val", "test") if (path / f"{s}_text.txt").is_file()
        }
        if split is not None:
            return splits.get(split, read_tweeteval(path, split)), None, None
        return splits.get("train"), splits.get("val"), splits.get("test")
    frame = read_table(path, text_col, label_col)
    kept, held = holdout(len(frame), val_split, seed, labels=frame.label)  # stratified
    return frame.iloc[kept], (frame.iloc[held] if len(held) else None), None
