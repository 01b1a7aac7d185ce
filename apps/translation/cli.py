"""`rnnkit translate train|evaluate|translate|export`."""

from pathlib import Path

from ..checks import check_choice
from ..command import RECURRENT, REPETITION, Command, holdout, pipeline_arguments
from .data import load_default, read_pairs, read_parallel
from .pipeline import METHODS, TranslationPipeline

__all__ = ["TranslationCommand"]

SPLITS = ("train", "val", "test")


class TranslationCommand(Command):
    name, folder = "translate", "runs/translation"
    help = "encoder-decoder translation: train, evaluate, translate, export"
    pipeline = TranslationPipeline
    hyper_parameters = {
        **RECURRENT,
        "embedding_dim": None,
        "max_source_len": "subword pieces kept per source sentence",
        "max_target_len": "subword pieces kept per target sentence",
        **REPETITION,
    }
    predict_verb = "translate"
    metrics, outputs = ("bleu", "bleu_lowercase", "chrf", "token_accuracy"), "translations"

    def add_data_arguments(self, parser):
        parser.add_argument(
            "--data",
            help="a tab-separated file of sentence pairs (Tatoeba/anki), or a folder of aligned files "
            "{train,val,test}.{SRC,TGT} (default: the embedded generated pairs)",
        )
        parser.add_argument("--languages", default="en,de", help="SRC,TGT file suffixes in a --data folder")
        parser.add_argument(
            "--attention", default="additive", help="additive, dot or none (default additive)"
        )
        parser.add_argument(
            "--max-len", type=int, help="subword pieces kept per sentence, both sides (sets both maxima)"
        )
        parser.add_argument("--method", default="greedy", help="greedy or beam (evaluate, translate)")
        parser.add_argument("--text", action="append", help="a sentence to translate (repeatable)")

    def check_arguments(self, args):
        _method(args)

    def make_pipeline(self, args):
        options = pipeline_arguments(args, self.hyper_parameters)
        if args.max_len is not None:
            options.update(max_source_len=args.max_len, max_target_len=args.max_len)
        attention = None if args.attention.lower() == "none" else args.attention
        return TranslationPipeline(attention=attention, **options)

    def load_data(self, args, held_out=True):
        """`(sources, targets)` splits of a folder of aligned files, of a pairs file (validation
        held out), or of the embedded generated pairs."""
        if args.data is None:
            frames = load_default(**args.embedded)
        elif Path(args.data).is_dir():
            path, (source, _, target) = Path(args.data), args.languages.partition(",")
            if not source or not target:
                raise ValueError(
                    f"Argument `--languages` must be SRC,TGT, e.g. en,de. Received: {args.languages!r}"
                )
            frames = tuple(
                read_parallel(path / f"{split}.{source}", path / f"{split}.{target}")
                if (path / f"{split}.{source}").is_file()
                else None
                for split in SPLITS
            )
            if all(frame is None for frame in frames):
                raise ValueError(
                    f"Argument `--data`: {str(path)!r} holds none of {SPLITS} as .{source}/.{target} files."
                )
        else:
            frame = read_pairs(args.data)
            kept, held = holdout(len(frame), args.val_split if held_out else 0)
            frames = frame.iloc[kept], (frame.iloc[held] if len(held) else None), None
        return tuple(None if frame is None else (frame.source, frame.target) for frame in frames)

    def score(self, pipeline, split, args):
        return pipeline.evaluate(*split, method=_method(args)), (list(split[0]),)

    def summary(self, metrics):
        return f"{metrics['method']} decoding\n{super().summary(metrics)}"

    def predict(self, pipeline, args):
        texts = self.texts(args, "sentences to translate")
        translations = pipeline.translate(texts, method=_method(args))
        return "\n".join(f"{text}\t{out}" for text, out in zip(texts, translations, strict=True))


def _method(args):
    return check_choice("--method", args.method, METHODS)
