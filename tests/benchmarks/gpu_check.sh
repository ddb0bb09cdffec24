#!/usr/bin/env bash
# The GPU checks of the speed issue, as one prepared run for a lent device machine (a few minutes on an H100):
# CIFAR-10-shaped data (synthetic_cifar10: real CIFAR-10 is not on those machines; seconds do not depend on pixel
# values) with resnet18, UNSIR and the training epoch against their reference loops, in fp32 and in
# bf16 + channels-last; then the bf16 accuracy check on real MNIST/cnn where MNIST is at $UNLEARNBENCH_DATA.
#
# Usage (repository root): bash tests/benchmarks/gpu_check.sh      (results in $OUT, default ./gpu-check-out)
# Overrides for a plumbing check without a GPU: DEVICE=cpu DATASET=synthetic_mnist MODEL=mlp.
# The device's Python must hold torch, numpy, scipy, scikit-learn, matplotlib and jinja2; where one is missing,
# `pip download` it here into an ignored folder .wheels/ (for that Python's version) and carry the folder.
set -euo pipefail

OUT=${OUT:-gpu-check-out}
DEVICE=${DEVICE:-cuda}
DATASET=${DATASET:-synthetic_cifar10}
MODEL=${MODEL:-resnet18}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
CACHE=$(mktemp -d)

if [ -d .wheels ]; then
  "$PYTHON" -m pip install -q --no-index --find-links .wheels scikit-learn matplotlib jinja2 scipy
fi
if ! "$PYTHON" -c "import unlearnbench" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e .
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
fi

bench() {  # $1: output name; the rest: extra options
  local name=$1; shift
  "$PYTHON" -m unlearnbench.cli bench --device "$DEVICE" --dataset "$DATASET" --model "$MODEL" \
    --methods unsir --recipe epochs=1 --repeat 3 --cache-dir "$CACHE" --quiet "$@" | tee "$OUT/$name.txt"
}
bench fp32
bench bf16-channels-last --recipe precision=bf16 --recipe channels_last=true

if [ -n "${UNLEARNBENCH_DATA:-}" ] && [ -d "$UNLEARNBENCH_DATA/MNIST/raw" ]; then
  for recipe in "precision=fp32" "precision=bf16"; do
    "$PYTHON" -m unlearnbench.cli run --device "$DEVICE" --dataset mnist --model cnn --methods original,unsir \
      --recipe "$recipe" --recipe channels_last=true --cache-dir "$CACHE" --out "$CACHE/${recipe#precision=}" \
      --quiet > "$OUT/mnist-cnn-${recipe#precision=}.txt"
    head -4 "$OUT/mnist-cnn-${recipe#precision=}.txt"
  done
fi
rm -rf "$CACHE"
