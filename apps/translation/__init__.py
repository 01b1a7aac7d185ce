"""Encoder-decoder translation with attention and beam search (`TranslationPipeline`)."""

from .data import generate_pairs, load_default, read_pairs, read_parallel
from .model import Seq2Seq
from .pipeline import TranslationPipeline

__all__ = ["Seq2Seq", "TranslationPipeline", "generate_pairs", "load_default", "read_pairs", "read_parallel"]
