"""`rnnkit lm train|evaluate|generate|export`."""

from ..checks import check_positive_int
from ..command import RECURRENT, REPETITION, Command, pipeline_arguments
from .data import load_default, read_text
from .pipeline import LanguageModelPipeline

__all__ = ["LanguageModelCommand"]


class LanguageModelCommand(Command):
    name, folder = "lm", "runs/language_model"
    help = "language model with truncated BPTT: train, evaluate, generate, export"
    pipeline = LanguageModelPipeline
    hyper_parameters = {
        **RECURRENT,
        "level": "char or word",
        "layers": None,
        "seq_len": "tokens per training window",
        "length": "tokens to generate",
        "temperature": None,
        "top_k": None,
        **REPETITION,
    }
    types = {"top_k": int}
    predict_verb = "generate"
    epochs, patience = 100, 3  # at most 100 epochs; stops 3 epochs after the best validation loss
    val_split = (0.1, "documents held out from --data")
    metrics = (
        "perplexity",
        "cross_entropy",
        "bits_per_token",
        "token_accuracy",
        "tokens",
        "unigram_perplexity",
        "unigram_bits_per_token",
        "ngram_bits_per_token",
    )

    def add_data_arguments(self, parser):
        parser.add_argument(
            "--data",
            help="a UTF-8 text file, documents separated by blank lines (default: the embedded "
            "standard-library docstrings)",
        )
        parser.add_argument(
            "--bptt-steps",
            default=None,
            help="truncated BPTT length k, or 'full' (default min(32, --seq-len))",
        )
        parser.add_argument("--max-documents", type=int, default=None, help="use only this many documents")
        parser.add_argument("--prompt", action="append", help="text to continue (generate; repeatable)")
        parser.add_argument("--seed", type=int, default=None, help="seed of the samples (generate)")

    def make_pipeline(self, args):
        options = pipeline_arguments(args, self.hyper_parameters)
        return LanguageModelPipeline(bptt_steps=_bptt_steps(args.bptt_steps, args.seq_len), **options)

    def load_data(self, args, held_out=True):
        """`(documents,)` splits of a text file (the last documents held out), or of the
        embedded standard-library docstrings."""
        val_split = args.val_split if held_out else 0
        if not 0 <= val_split < 1:
            raise ValueError(f"Argument `--val-split` must be in [0, 1). Received: {val_split}")
        if args.max_documents is not None:
            check_positive_int("--max-documents", args.max_documents)
        if args.data is None:
            splits = load_default(**{"max_documents": args.max_documents, **args.embedded})
        else:
            documents = read_text(args.data, argument="--data")[: args.max_documents]
            n_val = round(val_split * len(documents))
            splits = (documents[:-n_val], documents[-n_val:], None) if n_val else (documents, None, None)
        return tuple(None if split is None else (split,) for split in splits)

    def score(self, pipeline, split, args):
        """`train` scores the Kneser-Ney n-gram baseline too (it counts the training text)."""
        return pipeline.evaluate(*split, baseline=args.verb == "train"), split

    def predict(self, pipeline, args):
        prompts = args.prompt or [""]
        texts = pipeline.generate(
            prompts, length=args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed
        )
        return "\n\n".join(prompt + text for prompt, text in zip(prompts, texts, strict=True))


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
