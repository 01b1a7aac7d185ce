"""`rnnkit sentiment train|evaluate|predict|export`."""

from pathlib import Path

import pandas as pd

from ..command import RECURRENT, Command, holdout
from .data import load_default, read_table, read_tweeteval
from .pipeline import SentimentPipeline

__all__ = ["SentimentCommand"]

SPLITS = ("train", "val", "test")


class SentimentCommand(Command):
    name, help, folder = "sentiment", "tweet sentiment: train, evaluate, predict, export", "runs/sentiment"
    pipeline = SentimentPipeline
    hyper_parameters = {
        **RECURRENT,
        "max_len": "tokens kept per tweet",
        "padding": "pre or post",
        "truncating": "pre or post",
        "embeddings": "pre-trained word vectors: a GloVe / word2vec / fastText text-format file",
        "freeze_embeddings": "keep the pre-trained vectors fixed",
        "ngram_buckets": "hash buckets of the words' character n-grams (0: none)",
    }
    types = {"embeddings": str}
    epochs = 8
    patience = 2  # the epoch of the best validation macro-recall

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
        """`(texts, labels)` splits of a CSV/TSV file (validation held out, stratified), of a
        TweetEval folder, or of the embedded generated tweets."""
        if args.data is None:
            frames = load_default(**args.embedded)
        elif Path(args.data).is_dir():
            path = Path(args.data)
            splits = {s: read_tweeteval(path, s) for s in SPLITS if (path / f"{s}_text.txt").is_file()}
            if args.split is not None:
                frames = splits.get(args.split, read_tweeteval(path, args.split)), None, None
            else:
                frames = tuple(splits.get(split) for split in SPLITS)
        else:
            frame = read_table(args.data, args.text_col, args.label_col)
            kept, held = holdout(len(frame), args.val_split if held_out else 0, labels=frame.label)
            frames = frame.iloc[kept], (frame.iloc[held] if len(held) else None), None
        return tuple(None if frame is None else (frame.text, frame.label) for frame in frames)

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
