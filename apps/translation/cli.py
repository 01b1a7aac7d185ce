"""`rnnkit translate train|evaluate|translate|export`."""

from pathlib import Path

import pandas as pd

from ..cli import RECURRENT, add_pipeline_arguments, add_run_arguments, holdout, pipeline_arguments
from .data import load_default, read_pairs, read_parallel
from .pipeline import TranslationPipeline

__all__ = ["add_arguments", "load_data", "make_pipeline", "run"]

# the hyper-parameters `train` takes, with their help; types and defaults are the pipeline's
HYPER_PARAMETERS = {
    **RECURRENT,
    "embedding_dim": None,
    "max_source_len": "tokens kept per source sentence",
    "max_target_len": "tokens kept per target sentence",
}

SPLITS = ("train", "val", "test")


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "translate", "export"])
    parser.add_argument(
        "--data",
        help="a tab-separated file of sentence pairs (Tatoeba/anki), or a folder of aligned files "
        "{train,val,test}.{SRC,TGT} (default: the embedded generated pairs)",
    )
    parser.add_argument("--languages", default="en,de", help="SRC,TGT file suffixes in a --data folder")
    add_pipeline_arguments(parser, TranslationPipeline, HYPER_PARAMETERS)
    parser.add_argument("--attention", default="additive", help="additive, dot or none (default additive)")
    parser.add_argument("--max-len", type=int, help="tokens kept per sentence, both sides (sets both maxima)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--val-split", type=float, default=0.1, help="held out when --data has no val split")
    parser.add_argument("--method", default="greedy", help="greedy or beam (evaluate, translate)")
    parser.add_argument("--text", action="append", help="a sentence to translate (repeatable)")
    add_run_arguments(parser, "runs/translation")


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
    kept, held = holdout(len(frame), val_split, seed)
    return frame.iloc[kept], (frame.iloc[held] if len(held) else None), None


def _method(args):
    if args.method not in ("greedy", "beam"):
        raise ValueError(f"Argument `--method` must be greedy or beam. Received: {args.method!r}")
    return args.method


def make_pipeline(args):
    """The untrained pipeline of a `train` command line."""
    options = pipeline_arguments(args, HYPER_PARAMETERS)
    if args.max_len is not None:
        options.update(max_source_len=args.max_len, max_target_len=args.max_len)
    attention = None if args.attention.lower() == "none" else args.attention
    return TranslationPipeline(attention=attention, **options)


def run(args, verbose):
    out = Path(args.out)
    method = _method(args)
    if args.verb == "train":
        pipeline = make_pipeline(args)
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
