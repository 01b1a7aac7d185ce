"""`rnnkit translate train|evaluate|translate|export`."""

from pathlib import Path

import pandas as pd

from .data import load_default, read_pairs, read_parallel
from .pipeline import TranslationPipeline

__all__ = ["add_arguments", "load_data", "run"]

SPLITS = ("train", "val", "test")


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "translate", "export"])
    parser.add_argument(
        "--data",
        help="a tab-separated file of sentence pairs (Tatoeba/anki), or a folder of aligned files "
        "{train,val,test}.{SRC,TGT} (default: the embedded generated pairs)",
    )
    parser.add_argument("--languages", default="en,de", help="SRC,TGT file suffixes in a --data folder")
    parser.add_argument("--cell", default="gru", help="rnn, lstm, gru, leaky or esn (default gru)")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--attention", default="additive", help="additive, dot or none (default additive)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-len", type=int, default=50, help="tokens kept per sentence (both sides)")
    parser.add_argument("--val-split", type=float, default=0.1, help="held out when --data has no val split")
    parser.add_argument("--method", default="greedy", help="greedy or beam (evaluate, translate)")
    parser.add_argument("--text", action="append", help="a sentence to translate (repeatable)")
    parser.add_argument("--out", default="runs/translation", help="the run folder (default runs/translation)")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out already holds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def load_data(data=None, languages="en,de", val_split=0.1, seed=0):
    """`(train, validation, test)` DataFrames with `source`/`target` columns; any may be None."""
    if data is None:
        return load_default(seed=seed)
    path = Path(data)
    if path.is_dir():
        source, _, target = languages.partition(",")
        if not source or not target:
            raise ValueError(f"Argument `--languages` must be SRC,TGT, e.g. en,de. Received: {languages!r}")
        splits = {
            split: read_parallel(path / f"{split}.{source}", path / f"{split}.{target}")
            if (path / f"{split}.{source}").is_file()
            else None
            for split in SPLITS
        }
        if all(split is None for split in splits.values()):
            raise ValueError(
                f"Argument `--data`: {str(path)!r} holds none of {SPLITS} as .{source}/.{target} files."
            )
        return splits["train"], splits["val"], splits["test"]
    frame = read_pairs(path)
    if not 0 <= val_split < 1:
        raise ValueError(f"Argument `--val-split` must be in [0, 1). Received: {val_split}")
    validation = frame.sample(frac=val_split, random_state=seed) if val_split > 0 else None
    if validation is not None and validation.empty:  # too few rows to hold any out
        validation = None
    train = frame.drop(validation.index) if validation is not None else frame
    return train, validation, None


def _method(args):
    if args.method not in ("greedy", "beam"):
        raise ValueError(f"Argument `--method` must be greedy or beam. Received: {args.method!r}")
    return args.method


def run(args, verbose):
    out = Path(args.out)
    method = _method(args)
    if args.verb == "train":
        attention = None if args.attention.lower() == "none" else args.attention
        pipeline = TranslationPipeline(
            cell=args.cell,
            units=args.units,
            embedding_dim=args.embedding_dim,
            attention=attention,
            max_source_len=args.max_len,
            max_target_len=args.max_len,
        )
        pipeline.check_run_folder(out, args.overwrite)  # fail before reading or training
        train, validation, test = load_data(args.data, args.languages, args.val_split)
        if train is None:
            raise ValueError(f"Argument `--data`: {args.data!r} has no training split.")
        pipeline.fit(
            train.source,
            train.target,
            epochs=args.epochs,
            verbose=verbose,
            validation_data=None if validation is None else (validation.source, validation.target),
            backup_dir=pipeline.run_backup(out, args.resume),
        )
        scored = test if test is not None else validation if validation is not None else train
        metrics = pipeline.evaluate(scored.source, scored.target, method=method)
        pipeline.save_run(out, _numbers(metrics), list(scored.source), overwrite=args.overwrite)
        return _summary(metrics, out)
    pipeline = TranslationPipeline.load(out / "pipeline")
    if args.verb == "evaluate":
        splits = load_data(args.data, args.languages, val_split=0)
        scored = next(split for split in reversed(splits) if split is not None)  # test, else val, else all
        return _summary(pipeline.evaluate(scored.source, scored.target, method=method), out)
    if args.verb == "translate":
        texts = args.text
        if not texts and args.data:
            frame = load_data(args.data, args.languages, val_split=0)[0]
            texts = None if frame is None else frame.source.tolist()
        if not texts:
            raise ValueError("Arguments `--text` or `--data`: give the sentences to translate.")
        translations = pipeline.translate(texts, method=method)
        return "\n".join(
            f"{text}\t{translation}" for text, translation in zip(texts, translations, strict=True)
        )
    path = pipeline.export(out / "saved_model", overwrite=args.overwrite)
    return f"SavedModel: {path}"


def _numbers(metrics):
    return {name: value for name, value in metrics.items() if name != "translations"}


def _summary(metrics, out):
    table = pd.Series({name: metrics[name] for name in ("bleu", "chrf", "token_accuracy")})
    return f"{metrics['method']} decoding\n{table.round(4).to_string()}\nrun folder: {out}"
