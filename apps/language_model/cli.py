"""`rnnkit lm train|evaluate|generate|export`."""

from pathlib import Path

import pandas as pd

from ..cli import RECURRENT, add_pipeline_arguments, add_run_arguments, pipeline_arguments
from .data import load_default, read_text
from .pipeline import LanguageModelPipeline

__all__ = ["add_arguments", "load_data", "make_pipeline", "run"]

# the hyper-parameters `train` takes, with their help; types and defaults are the pipeline's
HYPER_PARAMETERS = {
    **RECURRENT,
    "level": "char or word",
    "layers": None,
    "seq_len": "tokens per training window",
    "length": "tokens to generate",
    "temperature": None,
    "top_k": None,
}


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "generate", "export"])
    parser.add_argument(
        "--data",
        help="a UTF-8 text file, documents separated by blank lines (default: the embedded "
        "standard-library docstrings)",
    )
    add_pipeline_arguments(parser, LanguageModelPipeline, HYPER_PARAMETERS, types={"top_k": int})
    parser.add_argument(
        "--bptt-steps", default=None, help="truncated BPTT length k, or 'full' (default min(32, --seq-len))"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--val-split", type=float, default=0.1, help="documents held out from --data")
    parser.add_argument("--max-documents", type=int, default=None, help="use only this many documents")
    parser.add_argument("--prompt", action="append", help="text to continue (generate; repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the samples (generate)")
    add_run_arguments(parser, "runs/language_model")


def load_data(data=None, val_split=0.1, max_documents=None, seed=0):
    """`(train, validation, test)` lists of documents; `test` is None for a --data file."""
    if not 0 <= val_split < 1:
        raise ValueError(f"Argument `--val-split` must be in [0, 1). Received: {val_split}")
    if max_documents is not None and max_documents <= 0:
        raise ValueError(f"Argument `--max-documents` must be a positive integer. Received: {max_documents}")
    if data is None:
        return load_default(max_documents=max_documents, seed=seed)
    documents = read_text(data, argument="--data")[:max_documents]
    n_val = round(val_split * len(documents))
    if n_val == 0:
        return documents, None, None
    return documents[:-n_val], documents[-n_val:], None


def _bptt_steps(value, seq_len):
    if value is None:
        return min(32, seq_len) if seq_len > 0 else 32  # a bad --seq-len is reported by the pipeline
    if value == "full":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"Argument `--bptt-steps` must be an integer or 'full'. Received: {value!r}"
        ) from None


def make_pipeline(args):
    """The untrained pipeline of a `train` command line."""
    options = pipeline_arguments(args, HYPER_PARAMETERS)
    return LanguageModelPipeline(bptt_steps=_bptt_steps(args.bptt_steps, args.seq_len), **options)


def run(args, verbose):
    out = Path(args.out)
    if args.verb == "train":
        pipeline = make_pipeline(args)
        pipeline.check_run_folder(out, args.overwrite)  # fail before reading or training
        train, validation, test = load_data(args.data, args.val_split, args.max_documents)
        backup = pipeline.run_backup(out, args.resume)
        pipeline.fit(
            train, validation_data=validation, epochs=args.epochs, backup_dir=backup, verbose=verbose
        )
        scored = test or validation or train
        metrics = pipeline.evaluate(scored)
        pipeline.save_run(out, metrics, overwrite=args.overwrite)
        return _summary(metrics, out)
    pipeline = LanguageModelPipeline.load(out / "pipeline")
    if args.verb == "evaluate":
        train, validation, test = load_data(args.data, args.val_split, args.max_documents)
        return _summary(pipeline.evaluate(test or validation or train), out)
    if args.verb == "generate":
        prompts = args.prompt or [""]
        texts = pipeline.generate(
            prompts, length=args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed
        )
        return "\n\n".join(prompt + text for prompt, text in zip(prompts, texts, strict=True))
    path = pipeline.export(out / "saved_model", overwrite=args.overwrite)
    return f"SavedModel: {path}"


def _summary(metrics, out):
    table = pd.Series(metrics)
    return f"{table.round(4).to_string()}\nrun folder: {out}"
