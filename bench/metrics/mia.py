"""Population membership-inference attacks (three families), one polarity: higher means forget-train looks more like
members. The entropy and SVC values are the share of forget-train the attack calls *member*, the loss attack's is
the challenge kit's cross-validated accuracy, and every AUC tells forget-train from held-out samples of the same
classes.

Two attacks are fitted as their sources fit them, on retain-train (members) against the scenario's retain-test
(non-members), then applied to forget-train: an entropy attack with a balanced logistic regression (SSD's
src/metrics.py, also SUPREME and LoTUS; Bad Teacher's metrics.py fits an RBF SVC on the same feature) and
Unlearn-Sparse / SalUn's RBF SVC on true-class confidence (SalUn reports 1 - its member share as "MIA-efficacy").
In class-wise forgetting that fit has never seen the forgotten classes, so its member *share* on them measures how
unlike the retained classes they look, not membership; their AUCs are therefore taken against forget-test (held-out
samples of the forgotten classes), which compares like with like in every scenario. The loss attack (NeurIPS 2023
challenge kit) is fitted on forget-train against forget-test itself and reported, as the kit reports it, as its
cross-validated accuracy (0.5: chance), with its cross-validated AUC.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from unlearnbench.metrics.base import MetricInputs, MetricValue, register_metric

MAX_FIT = 2000  # attack-training samples per side (members, non-members); keeps an MNIST cell to ~1 s
MAX_TARGET = 5000  # forget-train samples the fitted attack is applied to
MAX_LOSS = 2000  # per side in the loss attack (forget-train vs held-out), after balancing
LOSS_FOLDS = 10  # stratified folds of the loss attack's cross-validation (NeurIPS 2023 challenge kit)
SVC_C = 3.0  # Unlearn-Sparse / SalUn SVC_MIA


def _subsample(x: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= limit else x[np.sort(rng.choice(len(x), limit, replace=False))]


def entropy(logits: torch.Tensor) -> np.ndarray:
    """Softmax entropy per row (nats)."""
    logp = logits.double().log_softmax(1)
    return -(logp.exp() * logp).sum(1).cpu().numpy()


def true_confidence(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Softmax probability of each row's true class (one value per row, not a whole column)."""
    probs = logits.double().softmax(1)
    return probs.gather(1, labels.view(-1, 1)).squeeze(1).cpu().numpy()


def sample_loss(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Per-sample cross-entropy."""
    return F.cross_entropy(logits.double(), labels, reduction="none").cpu().numpy()


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    if len(positive) == 0 or len(negative) == 0:
        return math.nan
    from sklearn.metrics import roc_auc_score  # scikit-learn loads on first scoring, not at start-up

    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(labels, np.r_[positive, negative]))


def _fit_and_target(feature, inputs: MetricInputs, model) -> tuple[float, float]:
    """Fits `model` on retain-train (1) vs retain-test (0) features; returns (share of forget-train predicted
    member, ROC-AUC of the member score on forget-train vs forget-test, the held-out samples of the same classes)."""
    out, rng = inputs.outputs, np.random.default_rng(inputs.seed)
    members = _subsample(feature(out, "retain_train"), MAX_FIT, rng)
    non_members = _subsample(feature(out, "retain_test"), MAX_FIT, rng)
    target = _subsample(feature(out, "forget_train"), MAX_TARGET, rng)
    held_out = _subsample(feature(out, "forget_test"), MAX_TARGET, rng)
    if len(target) == 0 or len(members) == 0 or len(non_members) == 0:
        return math.nan, math.nan
    x = np.r_[members, non_members].reshape(-1, 1)
    model.fit(x, np.r_[np.ones(len(members)), np.zeros(len(non_members))])
    member_rate = float(model.predict(target.reshape(-1, 1)).mean())
    score = model.decision_function
    return member_rate, _auc(score(target.reshape(-1, 1)), score(held_out.reshape(-1, 1)))


def _mia(name: str, label: str, help: str) -> tuple[MetricValue, MetricValue]:
    """An attack's member share of forget-train (primary) and its like-with-like AUC (detail; the privacy gap's)."""
    return (MetricValue(name, label, help, better="closer_to_retrain", group="privacy", tier="primary", unit="rate",
                        objective=True),
            MetricValue(f"{name}_auc", f"{label} AUC", f"AUC of the {label} attack's member scores, forget-train "
                        "against held-out samples of the same classes (0.5: cannot tell them apart)",
                        better="closer_to_retrain", group="privacy", unit="rate"))


@register_metric("mia_entropy", produces=_mia("mia_entropy", "MIA entropy",
                                              "share of forget-train an entropy attack calls member"))
def mia_entropy(inputs: MetricInputs) -> dict[str, float]:
    """SSD's entropy attack (balanced logistic regression): share of forget-train it calls member."""
    from sklearn.linear_model import LogisticRegression

    feature = lambda o, s: entropy(o.logits(s))  # noqa: E731
    rate, auc = _fit_and_target(feature, inputs, LogisticRegression(class_weight="balanced"))
    return {"mia_entropy": rate, "mia_entropy_auc": auc}


@register_metric("mia_svc", produces=_mia("mia_svc", "MIA SVC",
                                          "share of forget-train an SVC on true-class confidence calls member "
                                          "(SalUn's MIA-efficacy is 1 - this)"))
def mia_svc(inputs: MetricInputs) -> dict[str, float]:
    """Unlearn-Sparse's confidence SVC: share of forget-train it calls member (MIA-efficacy = 1 - this)."""
    from sklearn.svm import SVC

    out = inputs.outputs
    feature = lambda o, s: true_confidence(o.logits(s), o.labels(s))  # noqa: E731
    # Equal sides, as Unlearn-Sparse fits as many retain samples as there are non-members.
    n = min(len(out.labels("retain_train")), len(out.labels("retain_test")), MAX_FIT)
    rng = np.random.default_rng(inputs.seed)

    def balanced(o, s):
        return _subsample(feature(o, s), n, rng) if s != "forget_train" else feature(o, s)

    rate, auc = _fit_and_target(balanced, inputs, SVC(C=SVC_C, kernel="rbf", gamma="auto"))
    return {"mia_svc": rate, "mia_svc_auc": auc}


@register_metric("mia_loss", produces=_mia("mia_loss", "MIA loss",
                                           "accuracy of a cross-validated loss attack telling forget-train from held-out "
                                           "samples of the same classes (0.5: chance; higher: more member-like)"))
def mia_loss(inputs: MetricInputs) -> dict[str, float]:
    """NeurIPS 2023 challenge kit: cross-validated accuracy of an LR on loss, forget-train vs held-out same classes.

    The one attack value that is not a member share: the kit defines it as an accuracy, and at chance a share would
    flip between 0 and 1 with the sign of a fitted intercept near 0 (floating-point noise), while the accuracy stays
    at 0.5. Its polarity is the others': higher means forget-train looks more like members."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate

    out, rng = inputs.outputs, np.random.default_rng(inputs.seed)
    forget = sample_loss(out.logits("forget_train"), out.labels("forget_train"))
    held_out = sample_loss(out.logits("forget_test"), out.labels("forget_test"))
    n = min(len(forget), len(held_out), MAX_LOSS)
    folds = min(LOSS_FOLDS, n)
    if folds < 2:
        return {"mia_loss": math.nan, "mia_loss_auc": math.nan}
    x = np.r_[_subsample(forget, n, rng), _subsample(held_out, n, rng)].reshape(-1, 1)
    y = np.r_[np.ones(n), np.zeros(n)]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=inputs.seed)
    scores = cross_validate(LogisticRegression(), x, y, cv=cv, scoring=("accuracy", "roc_auc"))
    return {"mia_loss": float(scores["test_accuracy"].mean()), "mia_loss_auc": float(scores["test_roc_auc"].mean())}
