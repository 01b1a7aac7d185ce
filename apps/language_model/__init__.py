"""Language modelling: next-token prediction over characters or words, trained with truncated
BPTT, with sampling, perplexity and an export that writes text by itself."""

from .data import load_default, read_text, stdlib_docstrings
from .pipeline import LanguageModelPipeline

__all__ = ["LanguageModelPipeline", "load_default", "read_text", "stdlib_docstrings"]
