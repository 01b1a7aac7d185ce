"""`rnnkit sentiment train|evaluate|predict|export`."""

from pathlib import Path

import pandas as pd

from ..cli import RECURRENT, add_pipeline_arguments, add_run_arguments, holdout, pipeline_arguments
from .data import load_default, read_table, read_tweeteval
from .pipeline import SentimentPipeline

__all__ = ["add_arguments", "load_data", "make_pipeline", "run"]

# the hyper-parameters `train` takes, with their help; types and defaults are the pipeline's
HYPER_PARAMETERS = {
    **RECURRENT,
    "max_len": "tokens kept per tweet",
    "padding": "pre or post",
    "truncating": "pre or post",
}


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "predict", "export"])
    parser.add_argument(
        "--data",
        help="CSV/TSV file, or a TweetEval folder (default: the embedded generated tweets)",
    )
    parser.add_argument(
        "--split",
        default=None,
        help="TweetEval split to read (train: train; evaluate: test, else val)",
    )
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="label")
    add_pipeline_arguments(parser, SentimentPipeline, HYPER_PARAMETERS)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument(
        "--val-split",
        type=float,
        default=0.1,
        help="fraction held out when --data has no val split",
    )
    parser.add_argument("--text", action="append", help="a text to predict (repeatable)")
    add_run_arguments(parser, "runs/sentiment")


def load_data(data=None, split=None, text_col="text", label_col="label", val_split=0.1, seed=0):
    """`(train, validation, test)` DataFrames (`text`, `label`); any may be None."""
    if data is None:
        return load_default(seed=seed)
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


def make_pipeline(args):
    """The untrained pipeline of a `train` command line."""
    return SentimentPipeline(**pipeline_arguments(args, HYPER_PARAMETERS))


def run(args, verbose):
    out = Path(args.out)
    if args.verb == "train":
        train, validation, test = load_data(
            args.data, args.split, args.text_col, args.label_col, args.val_split
        )
        if train is None:
            raise ValueError(f"Argument `--data`: {args.data!r} has no training split.")
        pipeline = make_pipeline(args)
        pipeline.check_run_folder(out, args.overwrite)  # fail before training, not after
        pipeline.fit(
            train.text,
            train.label,
            epochs=args.epochs,
            verbose=verbose,
            validation_data=None if validation is None else (validation.text, validation.label),
            backup_dir=pipeline.run_backup(out, args.resume),
        )
        scored = test if test is not None else validation if validation is not None else train
        metrics = pipeline.evaluate(scored.text, scored.label, baseline=True)
        pipeline.save_run(out, metrics, scored.text, scored.label, overwrite=args.overwrite)
        return _summary(metrics, out)
    pipeline = SentimentPipeline.load(out / "pipeline")
    if args.verb == "evaluate":
        splits = load_data(args.data, args.split, args.text_col, args.label_col, val_split=0)
        # test, else val, else the whole file or split
        scored = next((split for split in reversed(splits) if split is not None), None)
        if scored is None:
            raise ValueError(f"Argument `--data`: {args.data!r} holds no split to evaluate.")
        return _summary(pipeline.evaluate(scored.text, scored.label), out)
    if args.verb == "predict":
        texts = args.text
        if not texts and args.data:
            frame = load_data(args.data, args.split, args.text_col, args.label_col, val_split=0)[0]
            texts = None if frame is None else frame.text.tolist()
        if not texts:
            raise ValueError("Arguments `--text` or `--data`: give the texts to predict.")
        return "\n".join(
            f"{label}\t{text}" for label, text in zip(pipeline.predict(texts), texts, strict=True)
        )
    path = pipeline.export(out / "saved_model", overwrite=args.overwrite)
    return f"SavedModel: {path}"


def _summary(metrics, out):
    rows = {"rnnkit": metrics}
    if "baseline" in metrics:
        rows["TF-IDF + logistic regression"] = metrics["baseline"]
    table = pd.DataFrame(
        {name: {k: m[k] for k in ("accuracy", "macro_f1", "macro_recall")} for name, m in rows.items()}
    ).T
    return f"{table.round(4).to_string()}\nrun folder: {out}"
