"""Bring your own: a method written as a function, an original model trained outside the harness, three built-in
methods beside it on digits, the unlearned models kept, a metric registered afterwards and filled in by rescoring,
and the report. Run: python examples/bring_your_own.py [--out FOLDER]  (9 s on 2 CPU cores, measured)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import unlearnbench
from unlearnbench.data.loading import load_data
from unlearnbench.execution.rescore import rescore
from unlearnbench.metrics.base import MetricValue, register_metric
from unlearnbench.models.architectures import build_model


@unlearnbench.method(name="forget_by_ascent", access={"forget", "retain_subset"}, scenarios={"class"})
def forget_by_ascent(model, ctx):
    """Ten ascent steps on the forget data, then ten descent steps on 50 retained samples per class."""
    (xf, yf), (xr, yr) = ctx.forget(), ctx.retain_subset(per_class=50)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for sign, x, y in [(-1.0, xf, yf)] * 10 + [(1.0, xr, yr)] * 10:
        opt.zero_grad()
        (sign * F.cross_entropy(model(x), y)).backward()
        opt.step()
    return model


def train_elsewhere(out: Path) -> Path:
    """An mlp trained by the user's own loop (not the harness's recipe), saved as a state dict."""
    data = load_data("digits", torch.device("cpu"))
    model = build_model("mlp", data.input_shape, data.num_classes, seed=2024)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(15):
        for idx in torch.randperm(len(data.x_train), generator=generator).split(64):
            opt.zero_grad()
            F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
            opt.step()
    path = out / "my-original.pt"
    torch.save(model.state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bring-your-own-out")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = train_elsewhere(out)
    results = unlearnbench.run(dataset="digits", forget="0", original=str(checkpoint), save_models=True, out=out,
                               methods=["original", "retrain", "finetune", "unsir", "ssd", forget_by_ascent])
    print(results.table())

    late = MetricValue("forget_confidence", "forget confidence", "mean top-class probability on forget-train",
                       better="closer_to_retrain", group="privacy", tier="primary", unit="rate")

    @register_metric("forget_confidence", produces=(late,))
    def forget_confidence(inputs):
        probs = inputs.outputs.logits("forget_train").softmax(1)
        return {"forget_confidence": float(probs.max(1).values.mean())}

    print(f"rescored {rescore(out)} rows from their saved models, no method run again")
    confidences = {r["method"]: r["metrics"]["forget_confidence"] for r in results.all_rows()}
    print("forget confidence:", ", ".join(f"{name} {value:.3f}" for name, value in confidences.items()))
    print("the unlearned weights of forget_by_ascent:", sum(p.numel() for p in
                                                            results.model("forget_by_ascent").parameters()), "values")
    print("report:", results.report())


if __name__ == "__main__":
    main()
