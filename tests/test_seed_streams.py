"""Seed streams: every model and purpose draws from its own stream of the run seed."""
from __future__ import annotations

import pytest
import torch

from helpers import tiny_setting
from unlearnbench.core.seeds import STREAMS, derive_seed


def test_every_stream_of_a_seed_differs_and_fits_32_bits():
    seeds = [derive_seed(0, s) for s in STREAMS]
    assert len(set(seeds)) == len(STREAMS) and all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(0, "method") != derive_seed(1, "method")


def test_an_unknown_stream_is_refused():
    with pytest.raises(ValueError, match="unknown seed stream 'orignal.init'"):
        derive_seed(0, "orignal.init")


def test_the_original_the_reference_and_the_floor_start_from_different_weights(tmp_path):
    setting = tiny_setting(tmp_path)
    starts = [setting.new_model(f"{kind}.init").state_dict() for kind in ("original", "retrain", "retrain_independent")]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not torch.equal(starts[i]["1.weight"], starts[j]["1.weight"])


def test_cached_models_are_keyed_by_the_stream_scheme(tmp_path):
    payload = tiny_setting(tmp_path).payload("retrain_independent")
    assert payload["seed_streams"] == 1 and payload["kind"] == "retrain_independent" and "forget" in payload
