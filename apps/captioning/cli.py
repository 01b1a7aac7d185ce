"""`rnnkit caption train|evaluate|generate|export`."""

import json
from pathlib import Path

from ..checks import check_choice
from ..command import RECURRENT, REPETITION, Command, holdout
from ..generation import METHODS
from .data import load_default, read_coco, read_flickr8k
from .pipeline import CaptionPipeline

__all__ = ["CaptionCommand"]


class CaptionCommand(Command):
    name, help, folder = "caption", "caption generation: train, evaluate, generate, export", "runs/captioning"
    pipeline = CaptionPipeline
    hyper_parameters = {
        **RECURRENT,
        "embedding_dim": None,
        "conditioning": "init_state, every_step or both",
        "image_size": "side of the square the images are resized to",
        **REPETITION,
    }
    predict_verb = "generate"
    epochs, patience = 30, 3  # up to 30 epochs; stops 3 epochs after the best validation loss
    val_split = (0.1, "share of --data's images held out")
    metrics = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "exact_match", "token_accuracy")
    outputs = "captions"

    def add_data_arguments(self, parser):
        parser.add_argument(
            "--data",
            help="a COCO captions JSON or a Flickr8k token file, with --images (default: generated scenes)",
        )
        parser.add_argument("--images", help="the image folder of --data")
        parser.add_argument(
            "--missing", default="warn", help="images without captions and the reverse: warn, skip, error"
        )
        parser.add_argument("--method", default="greedy", help="greedy, beam or sample (evaluate, generate)")
        parser.add_argument("--image", action="append", help="an image file to caption (repeatable)")

    def check_arguments(self, args):
        _method(args)

    def load_data(self, args, held_out=True):
        """`(images, captions)` splits of COCO or Flickr8k captions (validation images held
        out), or of the embedded generated scenes."""
        if args.data is None:
            return load_default(image_size=args.image_size, **args.embedded)
        if args.images is None:
            raise ValueError("Argument `--images` is required with `--data`: the folder of the images.")
        reader = read_coco if Path(args.data).suffix.lower() == ".json" else read_flickr8k
        pixels, captions, _ = reader(args.data, args.images, image_size=args.image_size, missing=args.missing)
        kept, held = holdout(len(pixels), args.val_split if held_out else 0)
        pick = lambda index: (pixels[index], [captions[i] for i in index])  # noqa: E731
        return pick(kept), (pick(held) if len(held) else None), None

    def score(self, pipeline, split, args):
        return pipeline.evaluate(*split, method=_method(args)), split

    def summary(self, metrics):
        first = json.dumps(metrics["captions"][:3])
        return f"{metrics['method']} decoding\n{super().summary(metrics)}\nfirst captions: {first}"

    def predict(self, pipeline, args):
        if not args.image:
            raise ValueError("Argument `--image`: give the image files to caption.")
        captions = pipeline.generate(args.image, method=_method(args))
        return "\n".join(f"{image}\t{caption}" for image, caption in zip(args.image, captions, strict=True))


def _method(args):
    return check_choice("--method", args.method, METHODS)
