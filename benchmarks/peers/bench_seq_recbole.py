"""RecBole 1.2.1's SASRec on Amazon Beauty, for the speed comparison of issue 4.

Runs in RecBole's own virtual environment (never the project's):

    python3 -m venv /work/recbole-venv
    /work/recbole-venv/bin/pip install torch==2.13.0
    /work/recbole-venv/bin/pip install recbole==1.2.1 'numpy<2' 'pandas<2.2' 'scipy<1.13' 'setuptools>=77.0.3,<81'
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /work/recbole-venv/bin/python benchmarks/peers/bench_seq_recbole.py --epochs 2

(torch 2.13.0 needs setuptools >= 77.0.3: with the issue's ``setuptools<70`` pip silently replaces it
by torch 2.12.1 and its CUDA packages, 5.4 GB; below 81 keeps the ``pkg_resources`` RecBole's ray
import needs.) A run stopped from outside goes on with ``--resume <checkpoint-dir>/SASRec-*.pth``.

The Beauty sequences become a RecBole atomic file (``user_id``, ``item_id`` and the position in
the user's line as the ordering column: the data has no timestamps); the split is RecBole's
leave-one-out (``LS valid_and_test``, ordered), full ranking, NDCG@10 / Hit@10, the same model
dimensions as ShopSage's SASRec (hidden 64, 2 blocks, 2 heads, max length 50, cross-entropy).
RecBole trains one sample per prefix; examples/s counts those samples (= training targets).
Writes ``benchmarks/results/seq-recbole-beauty.json``. RecBole's own log (per-epoch training
time) lies under ``<temp dir>/log/SASRec/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", BENCHMARKS.parents[1] / "shared" / "data"))


def write_atomic(root: Path) -> int:
    (root / "beauty").mkdir(parents=True, exist_ok=True)
    n = 0
    with open(DATA / "amazon-beauty" / "user_sequence.txt", encoding="utf-8") as src, \
            open(root / "beauty" / "beauty.inter", "w", encoding="utf-8") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for line in src:
            parts = line.split()
            for pos, item in enumerate(parts[1:]):
                out.write(f"{parts[0]}\t{item}\t{pos}\n")
                n += 1
    return n


USERS = 22363


def train_samples(events: int) -> int:
    """RecBole's training samples an epoch: one per prefix of each user's training sequence (every
    user line has >= 5 items; the last two are validation and test)."""
    return events - 3 * USERS


def count_events() -> int:
    with open(DATA / "amazon-beauty" / "user_sequence.txt", encoding="utf-8") as src:
        return sum(len(line.split()) - 1 for line in src)


def parse_epochs(log: str) -> list[dict[str, float]]:
    """Per epoch: training and evaluation seconds, validation NDCG@10, and wall seconds since the
    process started when the evaluation ended (data preparation included)."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # RecBole colours its log lines
    train = {int(e): float(t) for e, t in re.findall(r"epoch (\d+) training \[time: ([0-9.]+)s", log)}
    out = []
    for ms, e, t, score in re.findall(
            r"^(\d+) ms \| epoch (\d+) evaluating \[time: ([0-9.]+)s, valid_score: ([0-9.]+)\]", log, re.M):
        out.append({"epoch": int(e), "train_s": train.get(int(e), float("nan")), "eval_s": float(t),
                    "valid_ndcg@10": float(score), "wall_s": int(ms) / 1000})
    return out


def resume(config_dict: dict, checkpoint: Path) -> dict:
    """RecBole's own pipeline (as ``run_recbole``) with ``Trainer.resume_checkpoint`` before ``fit``:
    a run stopped from outside goes on from the epoch after its best one (RecBole saves only those).
    The epochs it logs keep their numbers; its log's milliseconds start again at 0."""
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    config = Config(model="SASRec", dataset="beauty", config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.resume_checkpoint(checkpoint)
    best_score, best_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    return {"best_valid_score": best_score, "best_valid_result": best_result, "test_result": test_result,
            "resumed_from": str(checkpoint)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stopping-step", type=int, default=10)
    ap.add_argument("--log", default=None, help="RecBole's log with seconds since start on each line "
                    "(default: in the temp dir); kept so a run stopped by `timeout` can still be read")
    ap.add_argument("--parse-log", default=None, help="only summarise the epochs of an earlier run's --log")
    ap.add_argument("--checkpoint-dir", default=str(BENCHMARKS.parent / "var" / "recbole-beauty"),
                    help="where RecBole saves its best epoch (model, optimiser, epoch): kept for --resume")
    ap.add_argument("--resume", default=None, help="a checkpoint of an earlier run (a .pth file of "
                    "--checkpoint-dir): training goes on from the epoch after it, with its optimiser state")
    args = ap.parse_args()
    resume_from = Path(args.resume).resolve() if args.resume else None  # before the chdir below
    if args.parse_log:  # a run stopped from outside (timeout): its epochs so far
        epochs = parse_epochs(Path(args.parse_log).read_text(encoding="utf-8", errors="replace"))
        samples = train_samples(count_events())
        mean_train = sum(e["train_s"] for e in epochs) / max(1, len(epochs))
        out = {"recbole": "1.2.1", "threads": args.threads, "stopped_from_outside": True, "epochs_log": epochs,
               "train_samples_per_epoch": samples, "examples_per_s": samples / mean_train if epochs else None,
               "best_valid_ndcg@10_so_far": max((e["valid_ndcg@10"] for e in epochs), default=None),
               "load_average_1m": os.getloadavg()[0]}
        (BENCHMARKS / "results" / "seq-recbole-beauty.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
        print(json.dumps(out, indent=2))
        return
    import torch
    from recbole.quick_start import run_recbole

    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="recbole-beauty-"))
    events = write_atomic(root)
    config = {
        "data_path": str(root), "checkpoint_dir": str(Path(args.checkpoint_dir).resolve()), "seed": 0, "reproducibility": True,
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]}, "MAX_ITEM_LIST_LENGTH": 50,
        "hidden_size": 64, "inner_size": 256, "n_layers": 2, "n_heads": 2, "hidden_dropout_prob": 0.5,
        "attn_dropout_prob": 0.5, "loss_type": "CE", "train_neg_sample_args": None,
        "epochs": args.epochs, "train_batch_size": 256, "eval_batch_size": 1024, "learning_rate": 0.001,
        "stopping_step": args.stopping_step, "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO",
                                                          "mode": "full", "group_by": "user"},
        "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10", "device": "cpu", "use_gpu": False,
        "show_progress": False, "worker": 0,
    }
    os.chdir(root)  # RecBole writes log/ and log_tensorboard/ into the working directory
    log_path = Path(args.log) if args.log else root / "recbole.log"
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(relativeCreated)d ms | %(message)s"))
    handler.setLevel(logging.INFO)
    # RecBole's own logging.basicConfig does nothing once the root logger has a handler: set the level here
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    started = time.perf_counter()
    if resume_from is not None:
        result = resume(config, resume_from)
    else:
        result = run_recbole(model="SASRec", dataset="beauty", config_dict=config)
    wall = time.perf_counter() - started
    log = log_path.read_text(encoding="utf-8", errors="replace")
    epochs = parse_epochs(log)
    train_s = [e["train_s"] for e in epochs]
    valid = [e["valid_ndcg@10"] for e in epochs]
    samples = train_samples(events)
    out = {"recbole": "1.2.1", "torch": torch.__version__, "threads": args.threads, "epochs": args.epochs,
           "epoch_train_seconds": train_s, "valid_ndcg@10_per_epoch": valid, "wall_seconds": wall,
           "train_samples_per_epoch": samples,
           "examples_per_s": samples / (sum(train_s) / len(train_s)) if train_s else None,
           "epochs_log": epochs,
           "best_valid": result.get("best_valid_result"), "test": result.get("test_result"),
           "load_average_1m": os.getloadavg()[0]}
    (BENCHMARKS / "results").mkdir(exist_ok=True)
    (BENCHMARKS / "results" / "seq-recbole-beauty.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
