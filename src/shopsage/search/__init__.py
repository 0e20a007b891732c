"""Product search: lexical (BM25F), vector (faiss), hybrid fusion, a learned ranker, query understanding.

``SearchEngine.query`` (:mod:`shopsage.search.front`) is the one front door: a :class:`SearchRequest`
in, a :class:`SearchPage` of results with their evidence, facets and total out. Everything else
returns :class:`~shopsage.types.ScoredItems` over contiguous int item slots; the :class:`Catalog` of
a :class:`SearchEngine` maps them to external ids at the edges.
"""

from shopsage.search.catalog import Catalog, CatalogFacts, SearchFilter, item_fields
from shopsage.search.engine import Mode, ModeChoice, SearchConfig, SearchEngine, embedding_text
from shopsage.search.features import Candidates, FeatureExtractor
from shopsage.search.front import FACETS, SearchHit, SearchPage, SearchRequest, Sort, answer
from shopsage.search.fusion import reciprocal_rank_fusion, weighted_fusion
from shopsage.search.lexical import LexicalConfig, LexicalIndex, QueryTerms
from shopsage.search.query import Autocomplete, CategoryPredictor, SpellCorrector
from shopsage.search.ranker import LearnedRanker, RankerConfig
from shopsage.search.ranking import Ranking, rank
from shopsage.search.spelling import SpellingIndex, edit_distance
from shopsage.search.vector import VectorConfig, VectorIndex

__all__ = ["Catalog", "CatalogFacts", "SearchFilter", "item_fields", "Mode", "ModeChoice", "SearchConfig",
           "SearchEngine", "embedding_text", "Candidates", "FeatureExtractor", "FACETS", "SearchHit", "SearchPage",
           "SearchRequest", "Sort", "answer", "reciprocal_rank_fusion", "weighted_fusion", "LexicalConfig",
           "LexicalIndex", "QueryTerms", "Autocomplete", "CategoryPredictor", "SpellCorrector", "LearnedRanker",
           "RankerConfig", "Ranking", "rank", "SpellingIndex", "edit_distance", "VectorConfig", "VectorIndex"]
