"""Fine-tuning on tiny data with a tiny model: it must learn pairs it could not match before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.data.rows import EventRow, ItemRow, JudgmentRow, RowKey
from shopsage.data.stores import open_store
from shopsage.finetune import (
    FineTuneConfig,
    Pair,
    PairSet,
    cap_per_positive,
    fine_tune,
    load_finetuned,
    mine_hard_negatives,
    pairs_from_histories,
    pairs_from_judgments,
    pairs_from_search_events,
    pairs_from_sequences,
)
from shopsage.text import EncoderConfig, TextEncoder

# made-up words: a randomly initialised model cannot know which goes with which
WORDS = ["zorb", "plim", "quax", "vrel", "snib", "trop", "glen", "frum", "wask", "drib", "kelp", "mirn"]
PARTNERS = ["bolt", "cask", "dune", "fern", "gust", "hive", "isle", "jolt", "kite", "lava", "moss", "nook"]


def _pairs() -> PairSet:
    texts = {f"I{i}": p for i, p in enumerate(PARTNERS)}
    return PairSet([Pair(w, f"I{i}") for i, w in enumerate(WORDS)], texts, "query-item")


def _mrr(model: object) -> float:
    q = model.encode(WORDS, normalize_embeddings=True)  # type: ignore[attr-defined]
    d = model.encode(PARTNERS, normalize_embeddings=True)  # type: ignore[attr-defined]
    ranks = (-(q @ d.T)).argsort(axis=1)
    return float(np.mean([1.0 / (1 + int(np.flatnonzero(ranks[i] == i)[0])) for i in range(len(WORDS))]))


@pytest.mark.parametrize("method,lr", [("full", 5e-3), ("lora", 2e-2)])
def test_fine_tuning_learns_the_pairs(tiny_model: str, tmp_path: Path, method: str, lr: float) -> None:
    cfg = FineTuneConfig(method=method, epochs=80, batch_size=12, learning_rate=lr, eval_every=20, patience=10,
                         lora_r=4, lora_alpha=8, lora_targets=["query", "value"], max_length=16, threads=1)
    result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / "out", evaluate=_mrr, progress=False)
    assert result.baseline_metric is not None and result.best_metric is not None
    assert result.best_metric > result.baseline_metric + 0.3, result.history
    reloaded = load_finetuned(tmp_path / "out")
    assert abs(_mrr(reloaded) - result.best_metric) < 1e-4  # the saved model is the best one
    assert (tmp_path / "out" / "training_curves.png").stat().st_size > 1000
    # the serving path (TextEncoder: transformers directly, a LoRA adapter merged on load) gives the same vectors
    served = TextEncoder(EncoderConfig(model=str(tmp_path / "out"), progress=False)).encode(WORDS)
    np.testing.assert_allclose(served, reloaded.encode(WORDS, normalize_embeddings=True), atol=1e-5)
    if method == "lora":
        assert result.trainable_params < result.total_params / 10
        assert (tmp_path / "out" / "adapter_config.json").is_file()


def test_pairs_from_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.write_items([ItemRow("p1", "Angle bracket"), ItemRow("p2", "Deck paint", brand="BEHR"), ItemRow("p3", "Saw")])
    store.write_judgments([JudgmentRow(RowKey("j", 1), "bracket", "p1", 3.0), JudgmentRow(RowKey("j", 2), "bracket", "p3", 1.0),
                           JudgmentRow(RowKey("j", 3), "paint", "p2", 2.5)])
    judged = pairs_from_judgments(store, min_grade=2.0)
    assert [(p.anchor, p.positive) for p in judged.pairs] == [("bracket", "p1"), ("paint", "p2")]
    assert judged.texts["p2"] == "Deck paint | BEHR"
    store.write_events([EventRow(RowKey("e", 1), "click", "p3", "u1", query="saw", ts=1.0),
                        EventRow(RowKey("e", 2), "view", "p2", "u1", query="paint", ts=2.0),
                        EventRow(RowKey("e", 3), "purchase", "p1", "u1", ts=3.0)])
    searched = pairs_from_search_events(store)
    assert [(p.anchor, p.positive) for p in searched.pairs] == [("saw", "p3")]
    seq = pairs_from_sequences(store, window=1)
    assert [(p.anchor_item, p.positive) for p in seq.pairs] == [("p3", "p2"), ("p2", "p1")]
    assert seq.pairs[0].anchor == "Saw"
    assert pairs_from_sequences(store, exclude_items={"p2"}).pairs == []
    hist = pairs_from_histories(store, history=2)
    assert [(p.anchor, p.positive) for p in hist.pairs] == [("Saw", "p2"), ("Deck paint | BEHR ; Saw", "p1")]  # newest first
    assert [(p.anchor, p.positive) for p in pairs_from_histories(store, history=1).pairs][1] == ("Deck paint | BEHR", "p1")
    assert [(p.anchor, p.positive) for p in pairs_from_histories(store, exclude_items={"p2"}).pairs] == [("Saw", "p1")]
    catalog = {"p1": "Angle bracket", "p2": "Deck paint", "p3": "Saw"}
    mined = mine_hard_negatives(judged, lambda anchors: [["p1", "p3", "p2"] for _ in anchors], catalog)
    assert [p.negatives for p in mined.pairs] == [("p3",), ("p1",)]  # never a known positive
    assert mined.fingerprint() != judged.fingerprint()


def test_query_tower_learns_fixed_item_vectors(tiny_model: str, tmp_path: Path) -> None:
    """Only the query side trains; the items keep vectors it did not make (say, the zero-shot catalogue)."""
    from shopsage.errors import ValidationError

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(PARTNERS), 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    item_vectors = {f"I{i}": vecs[i] for i in range(len(PARTNERS))}

    def mrr(model: object) -> float:
        q = model.encode(WORDS, normalize_embeddings=True)  # type: ignore[attr-defined]
        ranks = (-(q @ vecs.T)).argsort(axis=1)
        return float(np.mean([1.0 / (1 + int(np.flatnonzero(ranks[i] == i)[0])) for i in range(len(WORDS))]))

    cfg = FineTuneConfig(method="full", tower="query", epochs=60, batch_size=12, learning_rate=5e-3, eval_every=20,
                         patience=10, max_length=16, threads=1)
    with pytest.raises(ValidationError, match="item_vectors"):
        fine_tune(tiny_model, _pairs(), cfg, tmp_path / "x", item_vectors={"I0": vecs[0]}, progress=False)
    result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / "out", evaluate=mrr, progress=False, item_vectors=item_vectors)
    assert result.baseline_metric is not None and result.best_metric is not None
    assert result.best_metric > result.baseline_metric + 0.3, result.history
    assert 0 < result.train_seconds <= result.seconds


def test_batches_never_repeat_a_positive_and_use_every_pair_they_can() -> None:
    import random

    from shopsage.finetune.trainer import _batches

    pairs = PairSet([Pair(f"q{i}", "A" if i % 5 == 0 else f"I{i}") for i in range(60)], {}, "query-item")
    batches = _batches(pairs, 8, random.Random(0))
    assert all(len({pairs.pairs[i].positive for i in b}) == len(b) for b in batches)
    shared = PairSet([Pair("same query", f"I{i}") for i in range(5)] + [Pair(f"q{i}", f"J{i}") for i in range(20)], {}, "x")
    assert all(sum(shared.pairs[i].anchor == "same query" for i in b) <= 1 for b in _batches(shared, 8, random.Random(0)))
    used = [i for b in batches for i in b]
    assert len(used) == len(set(used))
    assert {i for i in range(60) if i % 5} <= set(used)  # every pair with a unique positive is trained on
    assert 2 <= sum(1 for i in used if i % 5 == 0) <= len(batches)  # the shared positive: at most once per batch


def test_cap_per_positive_keeps_at_most_k_pairs_of_each_positive() -> None:
    pairs = PairSet([Pair(f"a{i}", "hit") for i in range(10)] + [Pair(f"b{i}", f"I{i}") for i in range(4)]
                    + [Pair("c0", "two"), Pair("c1", "two")], {"hit": "x"}, "item-item", {"co-interactions": 16})
    capped = cap_per_positive(pairs, 2, seed=1)
    counts: dict[str, int] = {}
    for p in capped.pairs:
        counts[p.positive] = counts.get(p.positive, 0) + 1
    assert counts == {"hit": 2, "two": 2, **{f"I{i}": 1 for i in range(4)}}
    assert [p for p in capped.pairs if p.positive != "hit"] == pairs.pairs[10:]  # the rest untouched, in order
    assert capped.texts == pairs.texts and capped.sources["cap per positive"] == 2
    assert cap_per_positive(pairs, 2, seed=1).pairs == capped.pairs  # seeded
    from shopsage.errors import ValidationError

    with pytest.raises(ValidationError, match="most >= 1"):
        cap_per_positive(pairs, 0)


@pytest.mark.parametrize("method,lr", [("full", 5e-3), ("lora", 2e-2)])
def test_wise_ft_keeps_the_best_blend_of_base_and_tuned_weights(tiny_model: str, tmp_path: Path, method: str,
                                                                 lr: float) -> None:
    cfg = FineTuneConfig(method=method, epochs=60, batch_size=12, learning_rate=lr, eval_every=20, lora_r=4,
                         lora_alpha=8, lora_targets=["query", "value"], max_length=16, threads=1,
                         wise_alphas=[1.0, 0.5])
    result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / "out", evaluate=_mrr, progress=False)
    assert [b["alpha"] for b in result.blend] == [0.5, 1.0]
    assert result.steps == 60 and result.best_step == 60  # no early stopping: trained to the end
    assert result.alpha in (0.5, 1.0) and result.best_metric > result.baseline_metric + 0.2, result.blend
    assert result.best_metric == max(b["dev"] for b in result.blend)
    assert abs(_mrr(load_finetuned(tmp_path / "out")) - result.best_metric) < 1e-4  # the blend kept is saved


def test_wise_blend_of_a_lora_adapter_scales_its_weight_change() -> None:
    import torch

    from shopsage.finetune.trainer import _blend

    g = torch.Generator().manual_seed(0)
    a0, a1, b1 = (torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g), torch.randn(8, 4, generator=g))
    w0, w1 = torch.randn(8, 8, generator=g), torch.randn(8, 8, generator=g)
    base = {"x.lora_A.default.weight": a0, "x.lora_B.default.weight": torch.zeros(8, 4), "y.weight": w0}
    tuned = {"x.lora_A.default.weight": a1, "x.lora_B.default.weight": b1, "y.weight": w1}
    half = _blend(base, tuned, 0.5)
    # the adapter's weight change B @ A is halved (not a product of two half-way factors)
    torch.testing.assert_close(half["x.lora_B.default.weight"] @ half["x.lora_A.default.weight"], 0.5 * (b1 @ a1))
    torch.testing.assert_close(half["y.weight"], 0.5 * (w0 + w1))  # a fully trained weight: the midpoint


def test_wise_alphas_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match=r"wise_alphas must lie in \(0, 1\]"):
        FineTuneConfig(wise_alphas=[0.0, 0.5])


def test_wise_alphas_without_a_dev_metric_are_refused(tiny_model: str, tmp_path: Path) -> None:
    from shopsage.errors import ValidationError

    with pytest.raises(ValidationError, match="pass evaluate="):
        fine_tune(tiny_model, _pairs(), FineTuneConfig(wise_alphas=[0.5], threads=1), tmp_path / "out", progress=False)


def test_weight_average_is_the_mean_of_the_steps_after_its_start_and_swaps_back() -> None:
    import torch

    from shopsage.finetune.trainer import _Average

    layer = torch.nn.Linear(3, 2)
    layer.bias.requires_grad_(False)  # only trained weights are averaged
    avg = _Average(layer, start=2)
    seen = []
    for step in range(1, 6):
        with torch.no_grad():
            layer.weight.fill_(float(step))
        avg.update(step)
        seen.append(step)
    assert avg.count == 3 and set(avg.mean) == {"weight"}
    torch.testing.assert_close(avg.mean["weight"], torch.full((2, 3), 4.0))  # mean of steps 3, 4, 5
    with avg.swapped_in():
        torch.testing.assert_close(layer.weight.detach(), torch.full((2, 3), 4.0))
    torch.testing.assert_close(layer.weight.detach(), torch.full((2, 3), 5.0))  # the trained weights are back


def test_weight_averaging_scores_the_mean_and_saves_what_early_stopping_kept(tiny_model: str, tmp_path: Path) -> None:
    def margin(model: object) -> float:  # continuous, unlike a rank metric that saturates on 12 pairs
        q = model.encode(WORDS, normalize_embeddings=True)  # type: ignore[attr-defined]
        d = model.encode(PARTNERS, normalize_embeddings=True)  # type: ignore[attr-defined]
        sims = q @ d.T
        return float(np.mean(np.diag(sims)) - np.mean(sims))

    cfg = FineTuneConfig(method="full", epochs=60, batch_size=12, learning_rate=5e-3, eval_every=10, patience=10,
                         max_length=16, threads=1, average_from=0.5)
    result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / "out", evaluate=margin, progress=False)
    late = [h for h in result.history if h["step"] > 30]
    assert late and all(h["averaged"] == h["step"] - 30 for h in late), result.history
    assert all("dev_raw" not in h for h in result.history if 0 < h["step"] <= 30)
    assert all(abs(h["dev"] - h["dev_raw"]) > 1e-6 for h in late)  # the mean is another model than the raw weights
    assert result.best_metric == max(h["dev"] for h in result.history)
    assert result.best_metric > result.baseline_metric + 0.1, result.history
    assert abs(margin(load_finetuned(tmp_path / "out")) - result.best_metric) < 1e-4  # the model kept is saved


def test_weight_averaging_and_wise_blends_are_not_combined() -> None:
    with pytest.raises(ValueError, match="set one of them"):
        FineTuneConfig(average_from=0.5, wise_alphas=[0.5])


def test_sigterm_stops_training_and_keeps_the_best_model_so_far(tiny_model: str, tmp_path: Path) -> None:
    import os
    import signal

    calls: list[float] = []

    def evaluate(model: object) -> float:
        if len(calls) == 2:  # the third evaluation (step 40): a scheduler stops the job
            os.kill(os.getpid(), signal.SIGTERM)
        calls.append(_mrr(model))
        return calls[-1]

    before = signal.getsignal(signal.SIGTERM)
    cfg = FineTuneConfig(method="full", epochs=60, batch_size=12, learning_rate=5e-3, eval_every=20, patience=10,
                         max_length=16, threads=1)
    result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / "out", evaluate=evaluate, progress=False)
    assert result.interrupted and result.steps == 40, result
    assert result.best_step in (0, 20) and result.best_metric == max(calls)
    assert abs(_mrr(load_finetuned(tmp_path / "out")) - max(calls)) < 1e-4  # the best model up to then was saved
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back


def _loss_setup(tiny_model: str) -> tuple[object, PairSet, dict[str, np.ndarray], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_model, device="cpu")
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(3, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    # q1 is paired with A and with B (its second pair is not in the batch); q2 with B; N is q2's hard negative
    pairs = PairSet([Pair("q1", "A", ("N",), weight=2.0), Pair("q2", "B", ("N",), weight=1.0), Pair("q1", "B")],
                    {"A": "a", "B": "b", "N": "n"}, "query-item")
    items = dict(zip("ABN", vecs, strict=True))
    q = model.encode(["q1", "q2"], normalize_embeddings=True)
    return model, pairs, items, q


def _ce(logits: np.ndarray, target: int) -> float:
    logits = logits - logits.max()
    return float(np.log(np.exp(logits).sum()) - logits[target])


@pytest.mark.parametrize("weighted", [False, True])
def test_a_known_positive_of_the_anchor_is_never_its_negative(tiny_model: str, weighted: bool) -> None:
    """Candidates A, B (the batch's positives) and N, N (hard negatives). B is q1's positive in a pair
    outside the batch: for q1 it is masked, not pushed away; for q2 every other candidate counts."""
    import torch

    from shopsage.finetune.trainer import _batch_loss

    model, pairs, items, q = _loss_setup(tiny_model)
    cfg = FineTuneConfig(tower="query", scale=20.0, weighted=weighted, symmetric=False)
    with torch.no_grad():
        loss = float(_batch_loss(model, pairs, [0, 1], 1, pairs.positives_of(), cfg, "cpu", items))
    cands = np.stack([items["A"], items["B"], items["N"], items["N"]])
    s = 20.0 * q @ cands.T
    q1 = _ce(s[0, [0, 2, 3]], 0)  # B masked
    q2 = _ce(s[1], 1)
    expected = (2.0 * q1 + 1.0 * q2) / 3.0 if weighted else (q1 + q2) / 2
    assert loss == pytest.approx(expected, rel=1e-4)
    if not weighted:  # without the mask q1 would be pushed away from its own B: a larger loss
        assert (_ce(s[0], 0) + q2) / 2 > loss


def test_symmetric_loss_adds_each_positive_picking_its_anchor(tiny_model: str) -> None:
    """The reverse softmax: column A picks q1 among q1, q2; column B would pick q2, but q1 is also paired
    with B (outside the batch), so q1 is masked there and B's reverse term is ~0. Each pair's loss is
    the mean of its two directions."""
    import torch

    from shopsage.finetune.trainer import _batch_loss

    model, pairs, items, q = _loss_setup(tiny_model)
    cfg = FineTuneConfig(tower="query", scale=20.0, symmetric=True)
    with torch.no_grad():
        loss = float(_batch_loss(model, pairs, [0, 1], 1, pairs.positives_of(), cfg, "cpu", items))
    cands = np.stack([items["A"], items["B"], items["N"], items["N"]])
    s = 20.0 * q @ cands.T
    forward = [_ce(s[0, [0, 2, 3]], 0), _ce(s[1], 1)]
    reverse = [_ce(s[:, 0], 0), 0.0]
    assert _ce(s[:, 1], 1) > 0.05  # were q1 not masked in B's column, B's reverse term would count: told apart below
    expected = np.mean([(f + r) / 2 for f, r in zip(forward, reverse, strict=True)])
    assert loss == pytest.approx(expected, rel=1e-4)
    plain = float(_batch_loss(model, pairs, [0, 1], 1, pairs.positives_of(),
                              FineTuneConfig(tower="query", scale=20.0, symmetric=False), "cpu", items).detach())
    assert plain == pytest.approx(np.mean(forward), rel=1e-4) and plain != pytest.approx(loss, rel=1e-3)


def test_precision_auto_follows_the_processor_and_both_arithmetics_train(tiny_model: str, tmp_path: Path) -> None:
    from shopsage.finetune.trainer import _use_bf16

    assert _use_bf16("fp32", "cpu") is False and _use_bf16("bf16", "cpu") is True
    flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
    assert _use_bf16("auto", "cpu") == ("avx512_bf16" in flags.split() or "amx_bf16" in flags.split())
    for precision in ("bf16", "fp32"):
        cfg = FineTuneConfig(method="full", epochs=60, batch_size=12, learning_rate=5e-3, eval_every=20, patience=10,
                             max_length=16, threads=1, precision=precision)
        result = fine_tune(tiny_model, _pairs(), cfg, tmp_path / precision, evaluate=_mrr, progress=False)
        assert result.precision == precision
        assert result.best_metric is not None and result.baseline_metric is not None
        assert result.best_metric > result.baseline_metric + 0.3, (precision, result.history)
