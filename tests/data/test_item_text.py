"""Item fields recovered from the sources' own layouts: UniSRec's ``title. categories. brand.`` texts
(recbole) and Home Depot's ``attributes.csv`` brands."""

from __future__ import annotations

from pathlib import Path

from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers._unisrec import UniSRecText
from shopsage.data.rows import ItemRow
from shopsage.data.stores import open_store

TEXTS = [
    "PORTER-CABLE Sanding Roll, 80 Grit. Shop Abrasives Manual Sanding Sanding Rolls. PORTER-CABLE. ",
    "Hand file. Shop Abrasives. Nicholson. ",
    "Mr. Heater Connector Kit 3/8 in. Shop Plumbing Pipe Fittings. Mr. Heater. ",
    "Duct tape 2 in. x 60 yd. Shop Tapes Duct Tape. S.O.L. Survive Outdoors Longer. ",
    "Exhaust fan, 24 in. . TPI. ",
    "Safety glasses. . . ",
    "Copper lugs. Shop Electrical Ring Terminals. . ",
    "Shop vac filter. Shop Abrasives Manual Sanding. Vacmaster. ",
]


def test_unisrec_texts_split_into_title_category_path_and_brand() -> None:
    layout = UniSRecText.detect(TEXTS)
    assert layout is not None and layout.root == "Shop"
    got = [layout.split(t) for t in TEXTS]
    assert got[0] == ("PORTER-CABLE Sanding Roll, 80 Grit", ("Shop", "Abrasives", "Manual Sanding", "Sanding Rolls"),
                      "PORTER-CABLE")
    assert got[1] == ("Hand file", ("Shop", "Abrasives"), "Nicholson")
    assert got[2] == ("Mr. Heater Connector Kit 3/8 in", ("Shop", "Plumbing Pipe Fittings"), "Mr. Heater")
    assert got[3] == ("Duct tape 2 in. x 60 yd", ("Shop", "Tapes Duct Tape"), "S.O.L. Survive Outdoors Longer")
    assert got[4] == ("Exhaust fan, 24 in", (), "TPI")
    assert got[5] == ("Safety glasses", (), None)
    assert got[6] == ("Copper lugs", ("Shop", "Electrical Ring Terminals"), None)
    assert got[7] == ("Shop vac filter", ("Shop", "Abrasives", "Manual Sanding"), "Vacmaster")


def test_category_words_are_split_only_where_another_item_proves_a_node() -> None:
    """``Abrasives`` and ``Abrasives Manual Sanding`` hold items of their own, so they are nodes; ``Plumbing
    Pipe Fittings`` has no such witness and stays one name rather than a guess."""
    layout = UniSRecText.detect(TEXTS)
    assert layout is not None
    assert layout.nodes == {"Abrasives Manual Sanding Sanding Rolls", "Abrasives", "Plumbing Pipe Fittings",
                            "Tapes Duct Tape", "Electrical Ring Terminals", "Abrasives Manual Sanding"}
    assert layout.path("Shop") == ("Shop",) and layout.path("") == ()


def test_other_texts_are_left_whole() -> None:
    plain = ["Red running shoe", "Blue hat with a brim", "Wool socks, pack of 3"]
    assert UniSRecText.detect(plain) is None
    prose = ["A fine shoe. It runs well. Buy it.", "Great hat. Warm. Cheap.", "Socks. Soft. Wool."]
    assert UniSRecText.detect(prose) is None  # sentences, but no shared root in the middle
    layout = UniSRecText.detect(TEXTS)
    assert layout is not None and layout.split("no layout at all") is None


def _recbole(folder: Path, texts: list[str]) -> Path:
    folder.mkdir()
    (folder / "T.text").write_text("item_id:token\ttext:token_seq\n" + "".join(f"i{n}\t{t}\n" for n, t in enumerate(texts)),
                                   encoding="utf-8")
    (folder / "T.inter").write_text("user_id:token\titem_id:token\nu1\ti0\nu1\ti1\n", encoding="utf-8")
    return folder


def test_recbole_import_stores_the_split_fields(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("recbole", str(_recbole(tmp_path / "t", TEXTS))))
    assert summary.quarantined == 0
    items = {r.ext_id: r for _, r in store.items()}
    assert items["i2"] == ItemRow("i2", "Mr. Heater Connector Kit 3/8 in", None, ("Shop", "Plumbing Pipe Fittings"),
                                  "Mr. Heater", key=items["i2"].key)
    assert items["i0"].price is None  # UniSRec texts carry no price
    store.close()


def test_recbole_plain_text_stays_the_title(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    run_import(store, get_importer("recbole", str(_recbole(tmp_path / "t", ["Red shoe. Runs well. Buy it.", "Blue hat"]))))
    titles = {r.ext_id: (r.title, r.category_path, r.brand) for _, r in store.items()}
    assert titles == {"i0": ("Red shoe. Runs well. Buy it.", (), None), "i1": ("Blue hat", (), None)}
    store.close()


def _homedepot(folder: Path, attributes: str | None) -> Path:
    folder.mkdir()
    (folder / "product_titles.csv").write_text('"product_uid","product_title"\r\n100001,"Angle bracket"\r\n'
                                               '100002,"Deck screws"\r\n100003,"Hinge"\r\n', encoding="latin-1")
    (folder / "train.csv").write_text("id,product_uid,product_title,search_term,relevance\n2,100001,Angle bracket,"
                                      "angle bracket,3\n", encoding="latin-1")
    if attributes is not None:
        (folder / "attributes.csv").write_text(attributes, encoding="utf-8")
    return folder


def test_homedepot_brands_come_from_attributes_csv_when_present(tmp_path: Path) -> None:
    attrs = ('"product_uid","name","value"\n100001,"Bullet01","Versatile connector"\n'
             '100001,"MFG Brand Name","Simpson Strong-Tie"\n100002.0,"MFG Brand Name","Deckmate"\n'
             ',,\n"abc","MFG Brand Name"\n100003,"Color Family","Brass"\n')
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("homedepot", str(_homedepot(tmp_path / "hd", attrs))))
    brands = {r.ext_id: r.brand for _, r in store.items()}
    assert brands == {"100001": "Simpson Strong-Tie", "100002": "Deckmate", "100003": None}
    assert summary.quarantined == 1 and "expected 3 fields" in store.quarantined()[0].reason
    assert summary.balanced
    store.close()


def test_homedepot_without_attributes_has_no_brands(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    run_import(store, get_importer("homedepot", str(_homedepot(tmp_path / "hd", None))))
    assert {r.brand for _, r in store.items()} == {None}
    store.close()
