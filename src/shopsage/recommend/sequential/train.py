"""Training loop of the sequential models: every position of a sequence in one pass.

Each training sequence is cut into windows of ``max_len + 1`` items (consecutive windows share
one item, so every item after the first is a target exactly once); the model reads the window
under a causal mask and predicts item ``t + 1`` at every position ``t`` (not one sample per prefix).
Loss: full softmax cross-entropy over the catalogue, or sampled softmax against negatives shared
by the batch (accidental hits masked). Early stopping on validation NDCG@10; the best weights are
kept (and written as a checkpoint when ``checkpoint_dir`` is set).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from shopsage.data.splits import EvalCases, Sequences, subsample_cases
from shopsage.ranking_metrics import target_rank_metrics

if TYPE_CHECKING:
    from shopsage.recommend.base import TrainData
    from shopsage.recommend.sequential.base import SequentialRecommender

__all__ = ["TrainReport", "windows", "rank_metrics", "train_net"]


@dataclass
class TrainReport:
    epochs_run: int = 0
    best_epoch: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    seconds_to_best: float = 0.0
    seconds: float = 0.0
    examples: int = 0
    """Training targets (positions) seen in all."""
    examples_per_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def windows(seqs: Sequences, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Training windows ``(W, max_len + 1)`` int64 (ids + 1, right-padded with 0) and their lengths."""
    lengths = seqs.lengths
    starts: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    step = max_len
    for s in np.flatnonzero(lengths >= 2):
        n = int(lengths[s])
        ends = np.arange(n, 1, -step)  # window ends (exclusive), newest first
        starts.append(np.maximum(ends - max_len - 1, 0) + seqs.indptr[s])
        owners.append(ends + seqs.indptr[s])
    if not starts:
        return np.zeros((0, max_len + 1), np.int64), np.zeros(0, np.int64)
    lo = np.concatenate(starts)
    hi = np.concatenate(owners)
    wl = hi - lo
    out = np.zeros((len(lo), max_len + 1), dtype=np.int64)
    cols = np.arange(max_len + 1)
    mask = cols[None, :] < wl[:, None]
    idx = lo[:, None] + cols[None, :]
    out[mask] = seqs.items[idx[mask]].astype(np.int64) + 1
    return out, wl


def rank_metrics(model: SequentialRecommender, cases: EvalCases, ks: tuple[int, ...] = (10,),
                 filter_seen: bool = True, batch: int = 1024) -> dict[str, float]:
    """NDCG@k, HR@k and MRR@k of one-target cases under full ranking (ties rank the target last),
    by the one formula of :func:`shopsage.ranking_metrics.target_rank_metrics`."""
    target = cases.target.astype(np.int64)
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("ndcg", "hr", "mrr")}
    for lo in range(0, len(cases), batch):
        hist = [cases.history[c] for c in range(lo, min(lo + batch, len(cases)))]
        scores = model.score_tensor(hist)  # (B, N)
        tgt = torch.from_numpy(target[lo:lo + len(hist)])
        if filter_seen:
            rows = np.repeat(np.arange(len(hist)), [len(h) for h in hist])
            if len(rows):
                scores[torch.from_numpy(rows), torch.from_numpy(np.concatenate(hist).astype(np.int64))] = -torch.inf
        ts = scores.gather(1, tgt[:, None])  # (B, 1)
        rank = (scores >= ts).sum(1) - 1  # 0-based, ties count against the target
        ranks = torch.where(torch.isfinite(ts[:, 0]), rank, torch.full_like(rank, 1 << 30)).numpy()
        for k in ks:
            for name, values in target_rank_metrics(ranks, k).items():
                sums[f"{name}@{k}"] += float(values.sum())
    return {key: v / max(len(cases), 1) for key, v in sums.items()}


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of windows of similar length (less padding), in shuffled order."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 64
    out: list[np.ndarray] = []
    for lo in range(0, len(order), chunk):
        part = order[lo:lo + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [out[i] for i in rng.permutation(len(out))]


def _loss(model: SequentialRecommender, inp: torch.Tensor, tgt: torch.Tensor, cold: torch.Tensor | None,
          gen: torch.Generator) -> tuple[torch.Tensor, int]:
    net = model.net
    assert net is not None
    cfg = model.config
    hidden = net(inp)  # (B, T, D)
    mask = tgt > 0
    h = hidden[mask]  # (P, D)
    y = tgt[mask] - 1  # (P,) 0-based targets
    table = net.items.weight()[1:]  # (N, D)
    if cfg.cosine_scale:
        h, table = model._output(h) * cfg.cosine_scale, F.normalize(table, dim=-1)
    if cfg.loss == "softmax":
        logits = h @ table.T  # (P, N)
        if cold is not None:
            logits = logits.masked_fill(cold, -torch.inf)
        return F.cross_entropy(logits, y), int(y.numel())
    n = table.shape[0]
    neg = torch.randint(0, n, (cfg.n_negatives,), generator=gen).to(h.device)  # (K,) shared negatives
    if cold is not None:
        neg = neg[~cold[neg]]
    pos = (h * table[y]).sum(-1, keepdim=True)  # (P, 1)
    neg_logits = h @ table[neg].T  # (P, K)
    neg_logits = neg_logits.masked_fill(neg[None, :] == y[:, None], -torch.inf)
    logits = torch.cat([pos, neg_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(y)), int(y.numel())


def train_net(model: SequentialRecommender, data: TrainData, warm: np.ndarray | None) -> TrainReport:
    """Train ``model.net`` on ``data`` with early stopping; leaves the best weights in place."""
    cfg = model.config
    net = model.net
    assert net is not None
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    win, wlen = windows(data.sequences, cfg.max_len)
    device = next(net.parameters()).device
    cold = None if warm is None else torch.from_numpy(~warm.astype(bool)).to(device)
    valid = subsample_cases(data.valid, cfg.max_valid_cases, cfg.seed) if data.valid is not None and len(data.valid) else None
    decay = [p for n, p in net.named_parameters() if p.ndim >= 2 and "items" not in n]
    rest = [p for n, p in net.named_parameters() if not (p.ndim >= 2 and "items" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.reg}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.learning_rate)
    report = TrainReport()
    best_state: dict[str, torch.Tensor] | None = None
    best = -math.inf
    bad = 0
    t0 = time.perf_counter()
    train_s = 0.0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        te = time.perf_counter()
        total, count = 0.0, 0
        for idx in _batches(wlen, cfg.batch_size, rng):
            t = int(wlen[idx].max())
            w = torch.from_numpy(win[idx, :t]).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bfloat16"):
                loss, p = _loss(model, w[:, :-1], w[:, 1:], cold, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * p
            count += p
        train_s += time.perf_counter() - te
        report.examples += count
        report.epochs_run = epoch
        row = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - t0}
        last = epoch == cfg.epochs or (cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s)
        if valid is not None and (epoch % cfg.eval_every == 0 or last):
            model._refresh()
            m = rank_metrics(model, valid, (10,), filter_seen=cfg.filter_seen)
            row.update({"valid_ndcg@10": m["ndcg@10"], "valid_hr@10": m["hr@10"]})
            if m["ndcg@10"] >= best:  # a tie keeps the later (lower-loss) weights but is no progress
                bad = 0 if m["ndcg@10"] > best else bad + 1
                best = m["ndcg@10"]
                best_state = copy.deepcopy(net.state_dict())
                report.best_epoch, report.best_valid = epoch, m
                report.seconds_to_best = time.perf_counter() - t0
                if cfg.checkpoint_dir:
                    model.save_checkpoint(Path(cfg.checkpoint_dir), {"epoch": epoch, **m})
            else:
                bad += 1
        report.history.append(row)
        if cfg.verbose:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        if valid is not None and bad >= cfg.patience:
            report.stopped = f"no better validation NDCG@10 for {cfg.patience} evaluations"
            break
        if cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s:
            report.stopped = f"time budget of {cfg.time_budget_s} s"
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    report.seconds = time.perf_counter() - t0
    report.examples_per_s = report.examples / max(train_s, 1e-9)
    report.stopped = report.stopped or "epochs done"
    return report
