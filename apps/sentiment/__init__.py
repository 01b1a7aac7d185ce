"""Tweet sentiment: the many-to-one pipeline and its data."""

from .data import generate_tweets, load_default, read_table, read_tweeteval
from .pipeline import MacroRecall, SentimentPipeline

__all__ = [
    "MacroRecall",
    "SentimentPipeline",
    "generate_tweets",
    "load_default",
    "read_table",
    "read_tweeteval",
]
