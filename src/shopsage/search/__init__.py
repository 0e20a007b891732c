"""Product search: lexical (BM25F), vector (faiss), hybrid fusion, a learned ranker, query understanding.

Everything returns :class:`~shopsage.types.ScoredItems` over contiguous int item slots; the
:class:`Catalog` of a :class:`SearchEngine` maps them to external ids at the edges.
"""

from shopsage.search.catalog import Catalog, SearchFilter, item_fields
from shopsage.search.engine import Mode, SearchConfig, SearchEngine, SearchResponse, embedding_text
from shopsage.search.features import Candidates, FeatureExtractor
from shopsage.search.fusion import reciprocal_rank_fusion, weighted_fusion
from shopsage.search.lexical import LexicalConfig, LexicalIndex, QueryTerms
from shopsage.search.query import Autocomplete, CategoryPredictor, SpellCorrector
from shopsage.search.ranker import LearnedRanker, RankerConfig
from shopsage.search.spelling import SpellingIndex, edit_distance
from shopsage.search.vector import VectorConfig, VectorIndex

__all__ = ["Catalog", "SearchFilter", "item_fields", "Mode", "SearchConfig", "SearchEngine", "SearchResponse",
           "embedding_text", "Candidates", "FeatureExtractor", "reciprocal_rank_fusion", "weighted_fusion",
           "LexicalConfig", "LexicalIndex", "QueryTerms", "Autocomplete", "CategoryPredictor", "SpellCorrector",
           "LearnedRanker", "RankerConfig", "SpellingIndex", "edit_distance", "VectorConfig", "VectorIndex"]
