from __future__ import annotations

import pytest

from shopsage.errors import ConfigError
from shopsage.text import ChineseAnalyzer, EnglishAnalyzer, MultilingualAnalyzer, cjk_ratio, make_analyzer


def test_english_stems_lowercases_and_drops_stopwords() -> None:
    a = EnglishAnalyzer()
    assert a.analyze("The Running Shoes of Nike") == ["run", "shoe", "nike"]


def test_english_keeps_digits_and_drops_single_letters() -> None:
    a = EnglishAnalyzer()
    assert a.analyze("2 x 4 stud, 8 ft") == ["2", "4", "stud", "8", "ft"]


def test_english_folds_full_width_forms() -> None:
    assert EnglishAnalyzer().analyze("ＡＢＣ１２") == ["abc12"]


def test_nostem_keeps_words_as_typed() -> None:
    assert EnglishAnalyzer(stem=False).analyze("Running shoes") == ["running", "shoes"]


def test_chinese_segments_words() -> None:
    terms = ChineseAnalyzer().analyze("这款手机的屏幕很好")
    assert "手机" in terms and "屏幕" in terms
    assert "的" not in terms


def test_chinese_analyzer_handles_mixed_text() -> None:
    terms = ChineseAnalyzer().analyze("iPhone手机 running")
    assert "iphon" in terms and "手机" in terms and "run" in terms


def test_multilingual_picks_analyzer_per_text() -> None:
    a = MultilingualAnalyzer()
    assert a.analyze("running shoes") == ["run", "shoe"]
    assert "手机" in a.analyze("买了一部手机")


def test_cjk_ratio() -> None:
    assert cjk_ratio("abc") == 0.0
    assert cjk_ratio("手机") == 1.0
    assert cjk_ratio("123") == 0.0


def test_unknown_analyzer_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown analyzer"):
        make_analyzer("klingon")
