"""Caption-style generation: one fixed vector (an image's features) in, a sentence out."""

from .data import generate_scenes, load_default, load_images, read_coco, read_flickr8k
from .model import Captioner
from .pipeline import CaptionPipeline

__all__ = [
    "CaptionPipeline",
    "Captioner",
    "generate_scenes",
    "load_default",
    "load_images",
    "read_coco",
    "read_flickr8k",
]
