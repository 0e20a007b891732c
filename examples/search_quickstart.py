"""Product search in a few lines: index items, search four ways, filter, facet, learn a ranker.

Every query goes through the front door, ``SearchEngine.query(SearchRequest(...))``: one page of
results with their evidence, facets and total.

    HF_HUB_OFFLINE=1 python examples/search_quickstart.py
"""

from __future__ import annotations

from shopsage.data.rows import ItemRow
from shopsage.search import SearchConfig, SearchEngine, SearchRequest
from shopsage.search.ranker import RankerConfig
from shopsage.text import EncoderConfig, TextEncoder

ITEMS = [
    ItemRow("sku-1", "Cordless drill driver 18V", category_path=("Tools", "Drills"), brand="Makita", price=149.0),
    ItemRow("sku-2", "Hammer drill with battery", category_path=("Tools", "Drills"), brand="Bosch", price=199.0),
    ItemRow("sku-3", "Drill bit set, 30 pieces", category_path=("Tools", "Accessories"), brand="Bosch", price=25.0),
    ItemRow("sku-4", "Garden hose 50 ft", category_path=("Garden", "Hoses"), brand="Gardena", price=30.0),
    ItemRow("sku-5", "Expandable water hose", category_path=("Garden", "Hoses"), brand="Flexi", price=22.0, stock=0),
    ItemRow("sku-6", "Kitchen faucet with pull-down sprayer", category_path=("Plumbing", "Faucets"), brand="Moen", price=179.0),
]


def main() -> None:
    encoder = TextEncoder(EncoderConfig(progress=False))  # packaged all-MiniLM-L6-v2, offline
    engine = SearchEngine(SearchConfig(candidates=10, ranker=RankerConfig(epochs=20, min_data_in_leaf=1,
                                                                          early_stopping=0)), encoder)
    engine.index(ITEMS)

    for mode in ("lexical", "vector", "hybrid"):
        r = engine.query(SearchRequest("battery powered drill", per_page=3, mode=mode))
        print(f"{mode:8s}", r.ids)

    r = engine.query(SearchRequest("gardn hose", mode="lexical"))  # typo tolerance
    print("typo     ", r.ids, "read as:", r.corrections)
    r = engine.query(SearchRequest("hose", in_stock=True, price_max=50))
    print("filtered ", r.ids, r.facets["brand"])
    print("why      ", r.hits[0].reasons[0].text)
    print("category ", engine.query(SearchRequest("water hose", predict_categories=True)).categories[:1])
    engine.add_past_queries(["garden hose", "garden hose reel"])
    print("complete ", engine.autocomplete.complete("gar"))

    judgments = [("drill", "sku-2", 2.0), ("drill", "sku-1", 1.0), ("hose", "sku-4", 2.0),
                 ("faucet", "sku-6", 2.0), ("bits", "sku-3", 2.0)]
    engine.fit_ranker(judgments)
    print("learned  ", engine.query(SearchRequest("drill", per_page=3, mode="learned")).ids)


if __name__ == "__main__":
    main()
