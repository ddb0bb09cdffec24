#!/usr/bin/env bash
# The GPU checks (issues 10 and 19), as one prepared run for a lent device machine (about 8 minutes on an H200):
#   1. the fast test set, whose device-taking tests (methods, trainer, timer, metrics, speed) also run on CUDA;
#   2. `run --device cuda` on digits with every built-in method;
#   3. UNSIR and the training epoch on CIFAR-10-shaped data (synthetic_cifar10: real CIFAR-10 is not on those
#      machines; seconds do not depend on pixel values) with resnet18 against their reference loops, fp32 and
#      bf16 + channels-last, with each method's top operators (torch.profiler);
#   4. every built-in method on synthetic_cifar10/resnet18 with the recipe's full training (retrain measured once);
#   5. 8 retrained resnet18 members (one epoch) trained as one stacked model against one by one (issue 28).
# Each step has its own time limit and a failing step does not stop the next; logs go to $OUT/logs.tar.gz
# (refreshed after every step, so a run cut short still returns what it did) and a summary to $OUT/summary.txt.
#
# Usage (repository root): bash tests/benchmarks/gpu_check.sh      (results in $OUT, default ./gpu-check-out)
# Overrides for a plumbing check without a GPU: DEVICE=cpu DATASET=synthetic_mnist MODEL=mlp EPOCHS=1 TESTS=0;
# a second, shorter call: ONLY="tests bench-fp32" TEST_K=cuda.
# The device's Python must hold torch, numpy, scipy, scikit-learn, matplotlib, jinja2 and pytest.
set -uo pipefail

OUT=${OUT:-gpu-check-out}
DEVICE=${DEVICE:-cuda}
DATASET=${DATASET:-synthetic_cifar10}
MODEL=${MODEL:-resnet18}
EPOCHS=${EPOCHS:-}  # empty: the recipe's own epochs for step 4
TESTS=${TESTS:-1}
TEST_K=${TEST_K:-}  # e.g. cuda: only the tests that run on CUDA
ONLY=${ONLY:-}  # space-separated step names to run (default: all)
PYTHON=${PYTHON:-python3}
FAST=(--recipe precision=bf16 --recipe channels_last=true)
mkdir -p "$OUT"
LOGS=$(mktemp -d)
CACHE=$(mktemp -d)
export PYTHONUNBUFFERED=1

step() {  # $1: name, $2: time limit in seconds, the rest: the command; prints its tail, logs it whole
  local name=$1 limit=$2 start rc
  shift 2
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  start=$(date +%s)
  echo "== $name: $*"
  timeout "$limit" "$@" >"$LOGS/$name.txt" 2>&1
  rc=$?
  echo "$name rc=$rc $(($(date +%s) - start))s" | tee -a "$OUT/summary.txt"
  tail -n "${TAIL:-12}" "$LOGS/$name.txt"
  tar -czf "$OUT/logs.tar.gz" -C "$LOGS" .
}

# The package as an import path: the device's Python may lack a build backend recent enough for `pip install -e`.
PKG=$(mktemp -d)
mkdir "$PKG/unlearnbench"
for f in bench/*; do ln -s "$PWD/$f" "$PKG/unlearnbench/"; done
for d in methods datasets reports; do ln -s "$PWD/$d" "$PKG/unlearnbench/$d"; done
export PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"
UB=("$PYTHON" -m unlearnbench.cli)

step info 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; \
  $PYTHON -c 'import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, \
  torch.cuda.get_device_name() if torch.cuda.is_available() else \"no cuda\")'"

if [ "$TESTS" = 1 ]; then
  step tests 240 "$PYTHON" -m pytest -q -rA -p no:cacheprovider -m "not slow and not benchmark" ${TEST_K:+-k $TEST_K} tests
  grep -E "^(PASSED|FAILED|ERROR).*\[.*cuda" "$LOGS/tests.txt" 2>/dev/null | cut -d' ' -f1 | sort | uniq -c \
    | tee -a "$OUT/summary.txt"
fi

step run-digits 150 "${UB[@]}" run --device "$DEVICE" --dataset digits --cache-dir "$CACHE" --out "$LOGS/digits" --quiet

step bench-fp32 150 "${UB[@]}" bench --device "$DEVICE" --dataset "$DATASET" --model "$MODEL" --methods unsir \
  --recipe epochs=1 --repeat 3 --cache-dir "$CACHE" --quiet --profile
# finetune for one epoch: its operators per epoch are those of its ten (the zoo times the ten).
step bench-bf16-channels-last 150 "${UB[@]}" bench --device "$DEVICE" --dataset "$DATASET" --model "$MODEL" \
  --methods unsir,finetune --set finetune.epochs=1 --recipe epochs=1 "${FAST[@]}" --repeat 3 \
  --cache-dir "$CACHE" --quiet --profile

# The zoo in the fast path, the recipe's full training for original and retrain (each measured once).
ZOO=original,retrain,finetune,gradient_ascent,unsir,neggrad_plus,random_labels,amnesiac,bad_teacher,ssd,lfssd,scrub
ZOO=$ZOO,l1_sparse,salun,boundary_shrink,boundary_expanding
step zoo 420 "${UB[@]}" run --device "$DEVICE" --dataset "$DATASET" --model "$MODEL" --methods \
  "$ZOO" "${FAST[@]}" ${EPOCHS:+--recipe epochs=$EPOCHS} \
  --cache-dir "$CACHE" --out "$LOGS/zoo" --quiet
step zoo-rows 60 "$PYTHON" - "$LOGS/zoo/results.db" "$LOGS/digits/results.db" <<'EOF'
import json, sqlite3, sys
for db in sys.argv[1:]:
    print(db)
    for method, status, time_s, mem, metrics, env in sqlite3.connect(db).execute(
            "select method, status, time_s, peak_mem_bytes, metrics, env from cells order by id"):
        m, e = json.loads(metrics), json.loads(env)
        print(f"{method:16} {status:7} {time_s or 0:9.3f} s  peak {(mem or 0) / 2**20:8.1f} MiB  "
              f"speedup {m.get('speedup_vs_retrain', float('nan')):8.2f}x  acc_test {m.get('acc_test', float('nan')):.3f}"
              f"  device {e.get('device')}")
EOF
# Seconds per member: the population row's seconds over 8 (stacked) and its plain-loop seconds over 8 (one by one).
step population 300 "${UB[@]}" bench --device "$DEVICE" --dataset "$DATASET" --model "$MODEL" --methods unsir \
  --recipe epochs=1 --population 8 --cache-dir "$CACHE" --quiet
cat "$OUT/summary.txt"
rm -rf "$CACHE" "$PKG"
