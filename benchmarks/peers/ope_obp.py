"""Peer check (not part of `make test`): the Open Bandit off-policy evaluation of ``shopsage bench ope``
recomputed end to end by the Open Bandit Pipeline itself, obp 0.5.7 (Saito et al.'s reference
implementation): its dataset loader, its ``BernoulliTS.compute_batch_action_dist`` Monte Carlo, its
``RegressionModel`` (logistic regression per position, K-fold cross-fitted), its estimators
(IPW, SNIPW, DM, DR, Switch-DR, DR-os) and its bootstrap intervals. Nothing of ShopSage's is used
to compute obp's numbers; with ``--compare`` the ShopSage report of the same campaign is read and
put beside them.

obp is a peer, not a dependency: it is marked for Python < 3.11 and installs with
``pip install --no-deps --ignore-requires-python obp==0.5.7`` (see ../shared/data/README.md).
One adaptation: obp's ``OpenBanditDataset.pre_process`` calls ``DataFrame.drop(columns=..., axis=1)``,
which pandas 3 rejects; :class:`_Dataset` repeats that method without the redundant ``axis``.

    .venv/bin/python benchmarks/peers/ope_obp.py --campaign men --json benchmarks/results/ope-obp-men.json \
        --compare benchmarks/results/ope-open-bandit-men.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from obp.dataset import OpenBanditDataset
from obp.ope import (
    DirectMethod,
    DoublyRobust,
    DoublyRobustWithShrinkage,
    InverseProbabilityWeighting,
    RegressionModel,
    SelfNormalizedInverseProbabilityWeighting,
    SwitchDoublyRobust,
)
from obp.policy import BernoulliTS, Random
from obp.version import __version__ as obp_version
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder

from shopsage.settings import get_settings


class _Dataset(OpenBanditDataset):
    """obp's loader; ``pre_process`` as in obp 0.5.7 but without ``axis=1`` beside ``columns=`` (pandas 3)."""

    def pre_process(self) -> None:
        user_cols = self.data.columns.str.contains("user_feature")
        self.context = pd.get_dummies(self.data.loc[:, user_cols], drop_first=True).values
        item_feature_0 = self.item_context["item_feature_0"].to_frame()
        item_feature_cat = self.item_context.drop(columns=["item_id", "item_feature_0"]).apply(
            LabelEncoder().fit_transform)
        self.action_context = pd.concat(objs=[item_feature_cat, item_feature_0], axis=1).values


def _direction(logs: _Dataset, action_dist: np.ndarray, truth: float, args: argparse.Namespace) -> dict[str, Any]:
    feedback = logs.obtain_batch_bandit_feedback()
    n = feedback["n_rounds"]
    action_dist = np.tile(action_dist, (n, 1, 1)) if action_dist.shape[0] == 1 else action_dist
    model = RegressionModel(n_actions=logs.n_actions, len_list=logs.len_list, action_context=logs.action_context,
                            base_model=LogisticRegression(C=1.0 / args.reg, max_iter=10_000))
    q_hat = model.fit_predict(context=feedback["context"], action=feedback["action"], reward=feedback["reward"],
                              position=feedback["position"], n_folds=args.n_folds, random_state=args.seed)
    estimators = {"ips": InverseProbabilityWeighting(), "snips": SelfNormalizedInverseProbabilityWeighting(),
                  "dm": DirectMethod(), "dr": DoublyRobust(), "switch_dr": SwitchDoublyRobust(lambda_=args.switch_tau),
                  "dr_os": DoublyRobustWithShrinkage(lambda_=args.shrinkage_lambda)}
    inputs = {"reward": feedback["reward"], "action": feedback["action"], "position": feedback["position"],
              "pscore": feedback["pscore"], "action_dist": action_dist}
    out: dict[str, Any] = {}
    for name, est in estimators.items():
        kwargs = dict(inputs) if name != "dm" else {"action_dist": action_dist, "position": feedback["position"]}
        if name != "ips" and name != "snips":
            kwargs["estimated_rewards_by_reg_model"] = q_hat
        value = float(est.estimate_policy_value(**kwargs))
        ci = est.estimate_interval(**kwargs, alpha=0.05, n_bootstrap_samples=args.bootstrap, random_state=args.seed)
        out[name] = {"estimate": value, "ci_low": float(ci["95.0% CI (lower)"]), "ci_high": float(ci["95.0% CI (upper)"]),
                     "truth": truth, "relative_error": abs(value - truth) / truth}
    return out


def _compare(obp_results: dict[str, Any], shopsage_path: Path) -> dict[str, Any]:
    ours = json.loads(shopsage_path.read_text(encoding="utf-8"))["results"]
    rows = {}
    for direction, estimates in obp_results.items():
        for name, peer in estimates.items():
            mine = ours[direction][name]
            rows[f"{direction}/{name}"] = {"shopsage": mine["estimate"], "obp": peer["estimate"],
                                           "abs_diff": abs(mine["estimate"] - peer["estimate"]),
                                           "shopsage_ci": [mine["ci_low"], mine["ci_high"]],
                                           "obp_ci": [peer["ci_low"], peer["ci_high"]]}
    return {"shopsage_report": str(shopsage_path), "estimates": rows,
            "max_abs_diff": max(r["abs_diff"] for r in rows.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=get_settings().data_dir / "open-bandit")
    parser.add_argument("--campaign", choices=["all", "men"], required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="A `shopsage bench ope` JSON of the same campaign.")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--n-sim", type=int, default=100_000)
    parser.add_argument("--n-folds", type=int, default=3)
    parser.add_argument("--reg", type=float, default=0.01)
    parser.add_argument("--switch-tau", type=float, default=50.0)
    parser.add_argument("--shrinkage-lambda", type=float, default=2500.0)
    args = parser.parse_args()

    start = time.perf_counter()
    logs = {p: _Dataset(behavior_policy=p, campaign=args.campaign, data_path=args.data) for p in ("random", "bts")}
    truth = {p: float(d.obtain_batch_bandit_feedback()["reward"].mean()) for p, d in logs.items()}
    bts = BernoulliTS(n_actions=logs["bts"].n_actions, len_list=logs["bts"].len_list, is_zozotown_prior=True,
                      campaign=args.campaign, random_state=args.seed)
    bts_dist = bts.compute_batch_action_dist(n_rounds=1, n_sim=args.n_sim)
    uniform = Random(n_actions=logs["random"].n_actions, len_list=logs["random"].len_list,
                     random_state=args.seed).compute_batch_action_dist(n_rounds=logs["bts"].n_rounds)
    results = {"bts_from_random": _direction(logs["random"], bts_dist, truth["bts"], args),
               "random_from_bts": _direction(logs["bts"], uniform, truth["random"], args)}
    report: dict[str, Any] = {"benchmark": "ope-open-bandit-obp", "obp_version": obp_version,
                              "campaign": args.campaign, "settings": {k: str(v) for k, v in vars(args).items()},
                              "results": results, "seconds": round(time.perf_counter() - start, 1)}
    if args.compare:
        report["comparison"] = _compare(results, args.compare)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for direction, estimates in results.items():
        for name, r in estimates.items():
            mine = report.get("comparison", {}).get("estimates", {}).get(f"{direction}/{name}", {}).get("shopsage")
            beside = f"  shopsage {mine:.6f}" if mine is not None else ""
            print(f"{args.campaign} {direction:16s} {name:9s} obp {r['estimate']:.6f} "
                  f"[{r['ci_low']:.6f}, {r['ci_high']:.6f}] truth {r['truth']:.6f}{beside}")


if __name__ == "__main__":
    main()
