"""KLOM: per example, the KL divergence between the margin distributions of retrained and unlearned populations.

Definition: Georgiev, Rinberg, Park, Garg, Ilyas, Madry, Neel, "Attribute-to-Delete: Machine Unlearning via
Datamodel Matching", ICLR 2025; binning as its authors' benchmark code, RoyRin/data-unlearning-bench@eb261f9
`unlearning_bench/eval.py` (`get_margin`, `compute_binned_KL_div`, `kl_from_margins`) as `run.py` `load_klom` calls it.
The margin of an example is its true class's logit minus the log-sum-exp of the other logits. Both populations'
margins, clipped to [-100, 100], are binned into 20 equal bins spanning their combined range (width 1 when every
value is equal); each side's counts become probabilities; where the retrained side has mass, the unlearned side's
probability is floored at 1e-5; KLOM = sum p log(p / q) with q renormalised (`scipy.stats.entropy`).
Direction: KL(retrained || unlearned). `kl_from_margins(unlearned, oracle)` names its arguments the other way, but
`load_klom` passes the oracle's margins first, so the computed divergence is KL(oracle || unlearned); that is the
one kept here. As `np.digitize` assigns it, a value equal to the top edge falls outside every bin and is not
counted; kept too.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import Tensor

BINS = 20
FLOOR = 1e-5
CLIP = 100.0
PERCENTILES = (50, 95)


def margins(logits: Tensor, targets: Tensor) -> np.ndarray:
    """Per row, the true class's logit minus the log-sum-exp of the others, in the logits' dtype (`get_margin`)."""
    rows = torch.arange(len(logits), device=logits.device)
    others = logits.clone()
    others[rows, targets] = -torch.inf
    return (logits[rows, targets] - others.logsumexp(dim=1)).cpu().numpy()


def binned_kl(p_samples: np.ndarray, q_samples: np.ndarray) -> float:
    """KL(p || q) between two sample sets over shared bins (the authors' binning, flooring and quirks)."""
    p, q = np.clip(p_samples, -CLIP, CLIP), np.clip(q_samples, -CLIP, CLIP)
    start, end = min(p.min(), q.min()), max(p.max(), q.max())
    if start >= end:
        end = start + 1
    edges = np.linspace(start, end, BINS + 1)
    counts = [np.bincount(np.digitize(side, edges), minlength=BINS + 2)[1:BINS + 1] for side in (p, q)]
    probs = [c / c.sum() if c.sum() > 0 else np.zeros(BINS) for c in counts]
    q_safe = np.where(probs[0] > 0, np.maximum(probs[1], FLOOR), probs[1])
    return float(stats.entropy(pk=probs[0], qk=q_safe))


def klom(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per example, KL(retrained margins || unlearned margins) from [models, examples] arrays."""
    return np.array([binned_kl(retrained[:, i], unlearned[:, i]) for i in range(unlearned.shape[1])])


def klom_summary(values: np.ndarray, prefix: str) -> dict[str, float]:
    """`prefix`_p50 and `prefix`_p95 of per-example KLOM values."""
    return {f"{prefix}_p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
