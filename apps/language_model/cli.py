"""`rnnkit lm train|evaluate|generate|export`."""

from pathlib import Path

import pandas as pd

from .data import load_default, read_text
from .pipeline import LanguageModelPipeline

__all__ = ["add_arguments", "load_data", "run"]


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "generate", "export"])
    parser.add_argument(
        "--data",
        help="a UTF-8 text file, documents separated by blank lines (default: the embedded "
        "standard-library docstrings)",
    )
    parser.add_argument("--level", default="char", help="char or word (default char)")
    parser.add_argument("--cell", default="lstm", help="rnn, lstm, gru, leaky or esn (default lstm)")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per training window")
    parser.add_argument(
        "--bptt-steps", default=None, help="truncated BPTT length k, or 'full' (default min(32, --seq-len))"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--val-split", type=float, default=0.1, help="documents held out from --data")
    parser.add_argument("--max-documents", type=int, default=None, help="use only this many documents")
    parser.add_argument("--prompt", action="append", help="text to continue (generate; repeatable)")
    parser.add_argument("--length", type=int, default=200, help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None, help="seed of the samples (generate)")
    parser.add_argument("--out", default="runs/language_model", help="the run folder")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out already holds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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


def run(args, verbose):
    out = Path(args.out)
    if args.verb == "train":
        pipeline = LanguageModelPipeline(
            level=args.level,
            cell=args.cell,
            units=args.units,
            layers=args.layers,
            seq_len=args.seq_len,
            bptt_steps=_bptt_steps(args.bptt_steps, args.seq_len),
            length=args.length,
            temperature=args.temperature,
            top_k=args.top_k,
        )
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
