"""Contrastive fine-tuning of a sentence encoder: full or LoRA, in-batch and hard negatives.

The loss is the softmax of sentence-transformers' ``MultipleNegativesRankingLoss`` (every other
positive in the batch, plus the pair's hard negatives, is a negative; cosine times ``scale``), with
three additions: a candidate that is a known positive of the anchor (the positive or hard negative
of another pair in the batch that this anchor is paired with outside the batch, or a borrowed
negative) is masked out rather than pushed away; with ``weighted`` each pair counts by its
``weight`` (a judgment's gain); with ``symmetric`` each positive item must also pick its anchor
among the batch's anchors. With ``tower="query"`` only the anchor
(query) side is trained: item vectors stay those of the item encoder (given as ``item_vectors``),
the same in-batch + hard-negative softmax is computed against them, a step costs one short forward
and backward pass, and promoting the model needs no re-embedding of the catalogue. ``precision``
"auto" trains under bfloat16 autocast where the processor computes it natively (CPUs with
AVX512-BF16 or AMX, recent GPUs): 1.5x faster steps on the 2-core CPU, same losses
(docs/benchmarks.md). With ``average_from`` the evaluations after that share of the steps score
the running mean of the weights (SWA) rather than the last step's. The loop is ours rather than
``SentenceTransformerTrainer`` because early stopping must use the shop's own retrieval metric
(dev nDCG@10 over the whole catalogue), and the trainer would add the ``datasets`` dependency.
A GPU is used automatically when present.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shopsage.errors import ModelError, ValidationError
from shopsage.finetune.pairs import PairSet

__all__ = ["FineTuneConfig", "FineTuneResult", "fine_tune", "load_finetuned"]


class FineTuneConfig(BaseModel):
    """Hyperparameters of one fine-tuning run (names from docs/conventions.md)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["full", "lora"] = Field("lora", description="Train every weight, or LoRA adapters only.")
    tower: Literal["both", "query"] = Field("both", description="One encoder for anchors and items, or train the "
                                            "anchor (query) encoder against fixed item vectors.")
    scale: float = Field(20.0, gt=0, description="Inverse temperature of the softmax over candidates (MNRL's scale).")
    epochs: int = Field(1, ge=1, description="Passes over the pairs.")
    batch_size: int = Field(64, ge=2, description="Pairs per step; the other pairs of a batch are its negatives.")
    learning_rate: float = Field(2e-4, gt=0, description="AdamW step size (LoRA wants ~10x a full run's).")
    reg: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_fraction: float = Field(0.1, ge=0, lt=1, description="Share of steps with a linear warm-up.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling.")
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_targets: list[str] = Field(default_factory=lambda: ["query", "key", "value", "dense"],
                                    description="Names of the linear layers that get adapters.")
    max_length: int = Field(64, ge=8, description="Word pieces per text.")
    eval_every: int = Field(100, ge=1, description="Steps between dev evaluations.")
    patience: int = Field(3, ge=1, description="Evaluations without improvement before stopping.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps (None: epochs decide).")
    seed: int = 0
    threads: int = Field(2, ge=1, description="CPU threads for torch.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="Arithmetic of the training steps: bf16 autocast (master weights stay float32), "
        "fp32, or auto: bf16 where the processor computes it natively (AVX512-BF16 / AMX CPUs, bf16 GPUs).")
    weighted: bool = Field(False, description="Weigh each pair's loss by its weight (say, the judgment's gain), "
                           "so exact matches pull harder than partial ones.")
    symmetric: bool = Field(True, description="Add the reverse softmax, each positive item against the batch's "
                            "anchors, and average the two (sentence-transformers' "
                            "MultipleNegativesSymmetricRankingLoss); costs no extra forward pass and ranked "
                            "better at every evaluation on Home Depot (docs/benchmarks.md). False: one-way MNRL.")
    wise_alphas: list[float] = Field(
        default_factory=list, description="WiSE-FT (Wortsman et al., 2022): train to the end without early "
        "stopping, then try the weights (1-a)*base + a*tuned for each a in (0, 1] and keep the best on dev "
        "(the base model when none beats it). Empty: early stopping picks a step instead.")
    average_from: float | None = Field(
        None, ge=0, lt=1, description="Weight averaging (SWA, Izmailov et al., 2018): from this share of the steps "
        "on, keep the running mean of the trained weights, updated every step; each evaluation from then on "
        "scores the mean (the raw weights, logged as dev_raw, keep training) and early stopping may keep it. "
        "None: no averaging.")

    @field_validator("wise_alphas")
    @classmethod
    def _alphas_in_range(cls, v: list[float]) -> list[float]:
        bad = [a for a in v if not 0 < a <= 1]
        if bad:
            raise ValueError(f"wise_alphas must lie in (0, 1] (1 = the tuned weights as trained), got {bad}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _one_way_to_pick_weights(self) -> FineTuneConfig:
        if self.average_from is not None and self.wise_alphas:
            raise ValueError("average_from and wise_alphas both choose the final weights: set one of them")
        return self


@dataclass
class FineTuneResult:
    config: dict[str, Any]
    steps: int
    best_step: int
    best_metric: float | None
    baseline_metric: float | None
    seconds: float
    train_seconds: float  # optimiser steps only, without the dev evaluations
    device: str
    trainable_params: int
    total_params: int
    saved_bytes: int
    history: list[dict[str, float]] = field(default_factory=list)
    alpha: float | None = None  # WiSE-FT: the blend kept (0 = the base model), None without wise_alphas
    blend: list[dict[str, float]] = field(default_factory=list)  # WiSE-FT: dev metric of each alpha tried
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM; the best model up to then was saved
    precision: str = "fp32"  # the arithmetic the steps ran in ("auto" resolved)


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(pairs: PairSet, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches in which no positive item and no anchor repeats (either would put one of the
    anchor's positives among its negatives)."""
    order = list(range(len(pairs.pairs)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    current: list[int] = []
    seen: set[tuple[str, str]] = set()
    pending = order
    while pending:  # a pair whose positive is already in the batch waits for a later one
        leftovers: list[int] = []
        for i in pending:
            keys = ("p", pairs.pairs[i].positive), ("a", pairs.pairs[i].anchor)
            if keys[0] in seen or keys[1] in seen:
                leftovers.append(i)
                continue
            current.append(i)
            seen.update(keys)
            if len(current) == batch_size:
                batches.append(current)
                current, seen = [], set()
        if len(leftovers) == len(pending):
            break
        pending = leftovers
    if len(current) >= 2:
        batches.append(current)
    return batches


def fine_tune(base_model: str, pairs: PairSet, config: FineTuneConfig, out_dir: Path,
              evaluate: Callable[[Any], float] | None = None, progress: bool = True,
              item_vectors: Mapping[str, np.ndarray] | None = None,
              log: Callable[[str], None] | None = None) -> FineTuneResult:
    """Fine-tune ``base_model`` (a sentence-transformers directory) on ``pairs``; save the best
    model to ``out_dir`` (a full model, or the LoRA adapter only) with ``training.json`` and a
    plot of the training curves.

    ``evaluate(model) -> float`` is the dev metric (higher is better) used for early stopping;
    without it the last step is kept. ``item_vectors`` (external id -> unit vector) are the fixed
    item side of ``tower="query"`` training and must cover every positive and hard negative.
    ``log`` receives one line per evaluation (runs without a terminal have no progress bar).
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if len(pairs) < 2:
        raise ValidationError(f"fine-tuning needs at least 2 pairs, got {len(pairs)}; gather more logs or judgments")
    if config.wise_alphas and evaluate is None:
        raise ValidationError("wise_alphas chooses a blend by the dev metric: pass evaluate=, or leave wise_alphas empty")
    if config.tower == "query":
        needed = {p.positive for p in pairs.pairs} | {n for p in pairs.pairs for n in p.negatives}
        missing = needed - set(item_vectors or {})
        if missing:
            raise ValidationError(f"tower='query' needs item_vectors for every positive and negative; {len(missing)} "
                                  f"are missing (e.g. {sorted(missing)[:3]}): encode them with the item encoder")
    torch.set_num_threads(config.threads)
    _seed(config.seed)
    device = _device()
    model = SentenceTransformer(base_model, device=device)
    model.max_seq_length = config.max_length
    if config.method == "lora":
        from peft import LoraConfig

        targets = _present_targets(model, config.lora_targets)
        model.add_adapter(LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                     target_modules=targets))
    trainable = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in model.parameters())
    bf16 = _use_bf16(config.precision, device)
    known = pairs.positives_of()
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.reg)
    rng = random.Random(config.seed)
    plan = [_batches(pairs, config.batch_size, rng) for _ in range(config.epochs)]
    total_steps = sum(len(b) for b in plan) if config.max_steps is None else min(config.max_steps, sum(len(b) for b in plan))
    warmup = max(1, int(config.warmup_fraction * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    hard = max((len(p.negatives) for p in pairs.pairs), default=0)

    started = time.perf_counter()
    train_time = 0.0
    history: list[dict[str, float]] = []
    baseline = evaluate(model) if evaluate is not None else None
    wise = bool(config.wise_alphas) and evaluate is not None
    base_state = _trainable_state(model)
    best_metric, best_step, best_state, bad_evals = baseline, 0, base_state, 0
    if baseline is not None:
        history.append({"step": 0, "dev": baseline})
    step, running = 0, []
    average = _Average(model, int(config.average_from * total_steps)) if config.average_from is not None else None
    bar = _progress(progress, total_steps)
    model.train()
    interrupted = False
    try:
        with _sigterm_interrupts():
            for epoch_batches in plan:
                for batch in epoch_batches:
                    if step >= total_steps:
                        break
                    t0 = time.perf_counter()
                    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                        loss = _batch_loss(model, pairs, batch, hard, known, config, device, item_vectors)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                    step += 1
                    if average is not None:
                        average.update(step)
                    train_time += time.perf_counter() - t0
                    running.append(float(loss.item()))
                    if bar is not None:
                        bar[0].update(bar[1], advance=1, description=f"fine-tune loss {np.mean(running[-20:]):.3f}")
                    if step % config.eval_every == 0 or step == total_steps:
                        entry = {"step": step, "loss": float(np.mean(running[-config.eval_every:]))}
                        if evaluate is not None and not wise:  # WiSE-FT trains to the end, then blends
                            model.eval()
                            if average is not None and average.count:
                                entry["dev_raw"] = evaluate(model)
                                with average.swapped_in():
                                    entry["dev"] = evaluate(model)
                                entry["averaged"] = average.count
                            else:
                                entry["dev"] = evaluate(model)
                            model.train()
                            if best_metric is None or entry["dev"] > best_metric:  # the mean, once it is what was scored
                                best_state = (average.state() if average is not None and "averaged" in entry
                                              else _trainable_state(model))
                                best_metric, best_step, bad_evals = entry["dev"], step, 0
                            else:
                                bad_evals += 1
                        history.append(entry)
                        if log is not None:
                            log(f"step {step}/{total_steps}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k != "step")
                                + f" ({time.perf_counter() - started:.0f}s)")
                        if bad_evals >= config.patience:
                            break
                if bad_evals >= config.patience or step >= total_steps:
                    break
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep the best model so far instead of losing the run
        interrupted = True
        if log is not None:
            log(f"interrupted at step {step}: saving the best model so far (step {best_step})")
    if bar is not None:
        bar[0].stop()
    alpha: float | None = None
    blend: list[dict[str, float]] = []
    if wise:
        assert evaluate is not None
        best_step, alpha, best_state, blend = 0, 0.0, base_state, []  # step 0: the base model
        tuned = _trainable_state(model)
        model.eval()
        for a in config.wise_alphas:
            blended = _blend(base_state, tuned, a)
            model.load_state_dict(blended, strict=False)  # copies: blended stays as it is
            metric = evaluate(model)
            blend.append({"alpha": a, "dev": metric})
            if log is not None:
                log(f"WiSE-FT alpha {a:g}: dev {metric:.4f}")
            if best_metric is None or metric > best_metric:
                best_metric, best_step, alpha, best_state = metric, step, a, blended
    elif evaluate is None:
        best_step, best_state = step, average.state() if average is not None and average.count else _trainable_state(model)
    model.load_state_dict(best_state, strict=False)
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    seconds = time.perf_counter() - started
    saved = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin"))
    result = FineTuneResult(config.model_dump(), step, best_step, best_metric, baseline, round(seconds, 1),
                            round(train_time, 1), device, sum(p.numel() for p in trainable), total, saved, history,
                            alpha, blend, interrupted, "bf16" if bf16 else "fp32")
    (out_dir / "training.json").write_text(json.dumps({**result.__dict__, "base_model": base_model}, indent=2))
    _plot(history, out_dir / "training_curves.png")
    return result


class _Average:
    """The running mean of the trained weights over every step after ``start`` (SWA)."""

    def __init__(self, model: Any, start: int) -> None:
        self.model, self.start, self.count = model, start, 0
        self.trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.mean: dict[str, Any] = {}

    def update(self, step: int) -> None:
        if step <= self.start:
            return
        self.count += 1
        for n, p in self.trained:
            if self.count == 1:
                self.mean[n] = p.detach().clone()
            else:
                self.mean[n] += (p.detach() - self.mean[n]) / self.count

    def state(self) -> dict[str, Any]:
        return {n: t.clone() for n, t in self.mean.items()}

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The mean in the model's weights for the block, the trained weights back afterwards."""
        raw = _trainable_state(self.model)
        self.model.load_state_dict(self.mean, strict=False)
        try:
            yield
        finally:
            self.model.load_state_dict(raw, strict=False)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler or ``kill`` stopping a long run) interrupts training like Ctrl-C does;
    the caller's handler is back afterwards. Only the main thread may set handlers: elsewhere nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:  # None: the previous handler was not set from Python, i.e. the default
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _present_targets(model: Any, wanted: list[str]) -> list[str]:
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    present = [t for t in wanted if t in names]
    if not present:
        raise ModelError(f"none of the LoRA targets {wanted} is a layer of this model; its layers include "
                         f"{sorted(names)[:20]}")
    return present


def _trainable_state(model: Any) -> dict[str, Any]:
    """A copy of the weights being trained (all of them, or the adapters only)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _blend(base: dict[str, Any], tuned: dict[str, Any], alpha: float) -> dict[str, Any]:
    """WiSE-FT weights: (1-alpha)*base + alpha*tuned. For LoRA the base adapter is zero (B starts at
    zero), so scaling B by alpha and keeping the tuned A gives exactly W0 + alpha*(tuned delta)."""
    return {n: t if "lora_A" in n or "lora_embedding_A" in n else (1 - alpha) * base[n] + alpha * t
            for n, t in tuned.items()}


def _use_bf16(precision: str, device: str) -> bool:
    """Whether the steps run under bfloat16 autocast: asked for, or "auto" on hardware with native bf16."""
    import torch

    if precision != "auto":
        return precision == "bf16"
    if device == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = next((ln.split(":", 1)[1].split() for ln in fh if ln.startswith("flags")), [])
    except OSError:  # not Linux: emulated bf16 would be slower than float32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _batch_loss(model: Any, pairs: PairSet, batch: list[int], hard: int, known: Mapping[str, set[str]],
                config: FineTuneConfig, device: str, item_vectors: Mapping[str, np.ndarray] | None) -> Any:
    """The in-batch + hard-negative softmax loss of one batch: each anchor against every positive of the
    batch and every pair's hard negatives. A pair without its k-th hard negative borrows the next
    pair's positive (masked for that pair's own anchor like any known positive)."""
    import torch

    rows = [pairs.pairs[i] for i in batch]
    cands = [r.positive for r in rows]
    for k in range(hard):
        cands += [r.negatives[k] if len(r.negatives) > k else rows[(j + 1) % len(rows)].positive
                  for j, r in enumerate(rows)]
    q = _embed(model, [r.anchor for r in rows], device)
    if config.tower == "query":
        assert item_vectors is not None
        items = torch.from_numpy(np.stack([np.asarray(item_vectors[c], dtype=np.float32) for c in cands])).to(device)
    else:  # one encoder for both sides: every candidate column through the model, like MNRL
        items = torch.cat([_embed(model, [pairs.texts[c] for c in cands[s:s + len(rows)]], device)
                           for s in range(0, len(cands), len(rows))])
    logits = config.scale * (q.float() @ items.float().T)  # (B, C), cosine: both sides are unit vectors
    other = torch.tensor([[c in known[r.anchor] for c in cands] for r in rows], device=device)
    other &= ~torch.eye(len(rows), len(cands), dtype=torch.bool, device=device)
    logits = logits.masked_fill(other, -1e4)  # a known positive is never a negative
    target = torch.arange(len(rows), device=device)
    losses = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    if config.symmetric:  # each positive item picks its own anchor among the batch's anchors
        losses = (losses + torch.nn.functional.cross_entropy(logits[:, :len(rows)].T, target, reduction="none")) / 2
    if not config.weighted:
        return losses.mean()
    w = torch.tensor([r.weight for r in rows], dtype=losses.dtype, device=device)
    return (losses * w).sum() / w.sum()


def _embed(model: Any, texts: list[str], device: str) -> Any:
    import torch

    tokenize = getattr(model, "preprocess", None) or model.tokenize
    feats = {k: v.to(device) if hasattr(v, "to") else v for k, v in tokenize(texts).items()}
    return torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=-1)


def _progress(enabled: bool, total: int) -> tuple[Any, Any] | None:
    import sys

    if not enabled or not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar.start()
    return bar, bar.add_task("fine-tune", total=total)


def _plot(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [h["step"] for h in history if "loss" in h]
    ax.plot(steps, [h["loss"] for h in history if "loss" in h], label="train loss", color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    dev = [(h["step"], h["dev"]) for h in history if "dev" in h]
    if dev:
        ax2 = ax.twinx()
        ax2.plot(*zip(*dev, strict=True), label="dev metric", color="tab:orange", marker="o")
        ax2.set_ylabel("dev metric")
    ax.set_title("fine-tuning")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_finetuned(path: Path | str, base_model: str | None = None) -> Any:
    """Load a fine-tuned encoder: a full model directory, or base model + LoRA adapter."""
    from sentence_transformers import SentenceTransformer

    path = Path(path)
    if (path / "adapter_config.json").is_file():
        info = json.loads((path / "training.json").read_text()) if (path / "training.json").is_file() else {}
        base = base_model or info.get("base_model")
        if not base:
            raise ModelError(f"{path} holds a LoRA adapter but names no base model; pass base_model=")
        model = SentenceTransformer(base, device=_device())
        model.load_adapter(str(path))
        return model
    return SentenceTransformer(str(path), device=_device())


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
