"""The trained-model cache: round trip, and corrupt or mismatched files retrained instead of trusted."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from unlearnbench.execution.cache import ModelCache, TrainingTime
from unlearnbench.models.architectures import build_model

PAYLOAD = {"kind": "original", "dataset": "tiny", "model": "mlp", "seed": 0}


def _model(seed=0):
    return build_model("mlp", (1, 8, 8), 4, seed=seed)


def test_round_trip_restores_weights_and_seconds(tmp_path):
    cache = ModelCache(tmp_path)
    cache.save(PAYLOAD, _model(seed=1), TrainingTime(12.5, {"device_name": "cpu"}))
    fresh = _model(seed=2)
    assert cache.load(PAYLOAD, fresh) == TrainingTime(12.5, {"device_name": "cpu"})
    assert all(torch.equal(p, q) for p, q in zip(fresh.parameters(), _model(seed=1).parameters()))


def test_missing_file_is_a_miss(tmp_path):
    assert ModelCache(tmp_path).load(PAYLOAD, _model()) is None


def test_corrupt_file_is_a_miss_not_an_error(tmp_path, capsys):
    cache = ModelCache(tmp_path)
    cache.save(PAYLOAD, _model(), TrainingTime(1.0))
    cache.path(PAYLOAD).write_bytes(b"not a checkpoint")
    assert cache.load(PAYLOAD, _model()) is None
    assert "retraining" in capsys.readouterr().err


def test_file_for_another_architecture_is_a_miss(tmp_path):
    cache = ModelCache(tmp_path)
    cache.save(PAYLOAD, build_model("cnn", (1, 8, 8), 4, seed=0), TrainingTime(1.0))
    assert cache.load(PAYLOAD, _model()) is None


def test_key_covers_every_payload_field(tmp_path):
    cache = ModelCache(tmp_path)
    assert cache.path(PAYLOAD) != cache.path({**PAYLOAD, "seed": 1})
    assert cache.path(PAYLOAD) == cache.path(dict(reversed(list(PAYLOAD.items()))))


def test_no_temporary_files_are_left_behind(tmp_path):
    ModelCache(tmp_path).save(PAYLOAD, _model(), TrainingTime(1.0))
    assert [p.suffix for p in tmp_path.iterdir()] == [".pt"]


def test_concurrent_workers_train_a_key_once(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from unlearnbench.execution.cache import ModelCache, TrainingTime
        from unlearnbench.models.architectures import build_model
        cache, payload = ModelCache({str(tmp_path)!r}), {PAYLOAD!r}
        with cache.lock(payload):
            model = build_model("mlp", (1, 8, 8), 4, seed=0)
            if cache.load(payload, model) is None:
                time.sleep(0.5)  # a slow 'training' that a second worker must not repeat
                cache.save(payload, model, TrainingTime(1.0))
                print("trained")
            else:
                print("loaded")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(p.communicate()[0].strip() for p in procs)
    assert outputs == ["loaded", "trained"]


def test_after_a_reset_all_but_the_original_train_again_against_an_empty_cache(tmp_path):
    # Regression: timings reset only "retrain", so retrain_independent was timed from memory (826x "faster").
    from unlearnbench.testing import tiny_setting

    kinds = ("original", "retrain", "retrain_independent")
    for kind in kinds:
        tiny_setting(tmp_path / "filled").trained(kind)
    setting = tiny_setting(tmp_path / "filled")
    assert all(setting.trained(kind).cached for kind in kinds)  # loaded from the cache, now held in memory
    setting.cache = ModelCache(tmp_path / "empty")
    setting.reset_all_but_original()
    assert setting.trained("original").cached  # kept in memory
    assert not setting.trained("retrain").cached and not setting.trained("retrain_independent").cached
