"""`rnnkit caption train|evaluate|generate|export`."""

import json
from pathlib import Path

import pandas as pd

from ..cli import RECURRENT, add_pipeline_arguments, add_run_arguments, holdout, pipeline_arguments
from .data import load_default, read_coco, read_flickr8k
from .pipeline import CaptionPipeline

__all__ = ["add_arguments", "load_data", "make_pipeline", "run"]

# the hyper-parameters `train` takes, with their help; types and defaults are the pipeline's
HYPER_PARAMETERS = {
    **RECURRENT,
    "embedding_dim": None,
    "conditioning": "init_state, every_step or both",
    "image_size": "side of the square the images are resized to",
}


def add_arguments(parser):
    parser.add_argument("verb", choices=["train", "evaluate", "generate", "export"])
    parser.add_argument(
        "--data",
        help="a COCO captions JSON or a Flickr8k token file, with --images (default: generated scenes)",
    )
    parser.add_argument("--images", help="the image folder of --data")
    parser.add_argument(
        "--missing", default="warn", help="images without captions and the reverse: warn, skip, error"
    )
    add_pipeline_arguments(parser, CaptionPipeline, HYPER_PARAMETERS)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--val-split", type=float, default=0.1, help="share of --data's images held out")
    parser.add_argument("--method", default="greedy", help="greedy, beam or sample (evaluate, generate)")
    parser.add_argument("--image", action="append", help="an image file to caption (repeatable)")
    add_run_arguments(parser, "runs/captioning")


def load_data(data=None, images=None, image_size=64, missing="warn", val_split=0.1, seed=0):
    """`(train, validation, test)`, each `(images, captions)` or None."""
    if data is None:
        return load_default(image_size=image_size, seed=seed)
    if images is None:
        raise ValueError("Argument `--images` is required with `--data`: the folder of the images.")
    path = Path(data)
    reader = read_coco if path.suffix.lower() == ".json" else read_flickr8k
    pixels, captions, _ = reader(path, images, image_size=image_size, missing=missing)
    kept, held = holdout(len(pixels), val_split, seed)
    pick = lambda index: (pixels[index], [captions[i] for i in index])  # noqa: E731
    return pick(kept), (pick(held) if len(held) else None), None


def make_pipeline(args):
    """The untrained pipeline of a `train` command line."""
    return CaptionPipeline(**pipeline_arguments(args, HYPER_PARAMETERS))


def run(args, verbose):
    out = Path(args.out)
    if args.method not in ("greedy", "beam", "sample"):
        raise ValueError(f"Argument `--method` must be greedy, beam or sample. Received: {args.method!r}")
    if args.verb == "train":
        pipeline = make_pipeline(args)
        pipeline.check_run_folder(out, args.overwrite)  # fail before reading or training
        train, validation, test = load_data(
            args.data, args.images, args.image_size, args.missing, args.val_split
        )
        backup = pipeline.run_backup(out, args.resume)
        pipeline.fit(
            *train, validation_data=validation, epochs=args.epochs, backup_dir=backup, verbose=verbose
        )
        scored = test or validation or train
        metrics = pipeline.evaluate(*scored, method=args.method)
        numbers = {name: value for name, value in metrics.items() if name != "captions"}
        pipeline.save_run(out, numbers, *scored, overwrite=args.overwrite)
        return _summary(metrics, out)
    pipeline = CaptionPipeline.load(out / "pipeline")
    if args.verb == "evaluate":
        splits = load_data(args.data, args.images, pipeline.image_size, args.missing, val_split=0)
        scored = next(split for split in reversed(splits) if split is not None)
        return _summary(pipeline.evaluate(*scored, method=args.method), out)
    if args.verb == "generate":
        if not args.image:
            raise ValueError("Argument `--image`: give the image files to caption.")
        captions = pipeline.generate(args.image, method=args.method)
        return "\n".join(f"{image}\t{caption}" for image, caption in zip(args.image, captions, strict=True))
    path = pipeline.export(out / "saved_model", overwrite=args.overwrite)
    return f"SavedModel: {path}"


def _summary(metrics, out):
    names = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "exact_match", "token_accuracy")
    table = pd.Series({name: metrics[name] for name in names})
    sample = json.dumps(metrics["captions"][:3])
    head = f"{metrics['method']} decoding\n{table.round(4).to_string()}"
    return f"{head}\nfirst captions: {sample}\nrun folder: {out}"
