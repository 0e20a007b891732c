"""Text processing: analyzers (stemming, Chinese segmentation), the text encoder and its cache."""

from shopsage.text.analyzers import (
    Analyzer,
    ChineseAnalyzer,
    EnglishAnalyzer,
    MultilingualAnalyzer,
    cjk_ratio,
    make_analyzer,
)
from shopsage.text.cache import EmbeddingCache, text_keys
from shopsage.text.encoder import EncoderConfig, TextEncoder, default_model_path

__all__ = ["Analyzer", "ChineseAnalyzer", "EnglishAnalyzer", "MultilingualAnalyzer", "cjk_ratio", "make_analyzer",
           "EmbeddingCache", "text_keys", "EncoderConfig", "TextEncoder", "default_model_path"]
