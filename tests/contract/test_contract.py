"""fewshot_sep.contract: the one owner of rate, framing, latency, modes/mix, conditioning layout
and the model card; the torch side, the numpy side and the card all read the same numbers."""

from __future__ import annotations

import ast
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fewshot_sep import contract
from fewshot_sep.contract import card as contract_card
from fewshot_sep.utils.errors import UserError
from model_doubles import make_model_folder

CONTRACT_DIR = Path(contract.__file__).resolve().parent
STDLIB_ONLY = {"__future__", "hashlib", "math", "os", "pathlib", "typing"}


def test_contract_imports_only_the_standard_library_and_errors():
    """Every layer imports the contract, so it must stay light: no numpy, no torch, no onnx."""
    for path in CONTRACT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                assert (name.split(".")[0] in STDLIB_ONLY or name.startswith("fewshot_sep.contract")
                        or name == "fewshot_sep.utils.errors"), f"{path.name} imports {name}"


@pytest.mark.parametrize("lookahead", [0, 1, 3])
def test_latency_formula(lookahead):
    assert contract.latency_samples(1024, 256, lookahead) == 1023 + 256 * lookahead
    assert contract.latency_samples(lookahead_frames=lookahead) == contract.N_FFT - 1 + lookahead * contract.HOP
    assert contract.LATENCY_SAMPLES == contract.latency_samples() == 1023


def test_latency_refuses_nonsense():
    with pytest.raises(ValueError):
        contract.latency_samples(1024, 256, -1)
    with pytest.raises(ValueError):
        contract.latency_samples(0, 256, 0)


def test_framing_is_what_both_stft_twins_use():
    import fewshot_sep.realtime.stft as numpy_stft

    assert (contract.SAMPLE_RATE, contract.N_FFT, contract.HOP, contract.N_BINS) == (44100, 1024, 256, 513)
    assert (numpy_stft.N_FFT, numpy_stft.HOP) == (contract.N_FFT, contract.HOP)
    assert numpy_stft.stft(np.zeros(4 * contract.HOP, np.float32)).shape[-2] == contract.N_BINS


def test_torch_side_uses_the_same_numbers():
    pytest.importorskip("torch")
    import fewshot_sep.model.encoder as model_encoder
    import fewshot_sep.model.stft as torch_stft

    assert (torch_stft.N_FFT, torch_stft.HOP, torch_stft.SAMPLE_RATE, torch_stft.LATENCY_SAMPLES) == (
        contract.N_FFT, contract.HOP, contract.SAMPLE_RATE, contract.LATENCY_SAMPLES)
    assert model_encoder.SAMPLE_RATE == contract.SAMPLE_RATE


@pytest.mark.parametrize("embedding_dim", [1, 16, 128])
def test_conditioning_layout_round_trips(embedding_dim):
    from fewshot_sep.realtime.conditioning import build_conditioning, split_conditioning

    d = contract.conditioning_dim(embedding_dim)
    assert d == 2 * embedding_dim + 1 and contract.embedding_dim_of(d) == embedding_dim
    pos, neg, flag = contract.conditioning_slices(embedding_dim)
    rng = np.random.default_rng(embedding_dim)
    p, n = rng.standard_normal(embedding_dim) * 0.01, rng.standard_normal(embedding_dim) * 0.01
    vector = build_conditioning(p, n)
    assert vector.shape == (d,)
    np.testing.assert_array_equal(vector[pos], p.astype(np.float32))
    np.testing.assert_array_equal(vector[neg], n.astype(np.float32))
    assert vector[flag] == 1.0 and build_conditioning(p)[flag] == 0.0
    back_p, back_n = split_conditioning(vector)
    np.testing.assert_array_equal(back_p, vector[pos])
    np.testing.assert_array_equal(back_n, vector[neg])


@pytest.mark.parametrize("size", [0, 2, 4])
def test_conditioning_size_must_be_odd(size):
    with pytest.raises(ValueError):
        contract.embedding_dim_of(size)


@pytest.mark.parametrize("mode", contract.MODES)
def test_modes_accepted(mode):
    assert contract.check_mode(mode) == mode


@pytest.mark.parametrize("mode", ["both", "Isolate", "", None, 1])
def test_bad_modes_refused(mode):
    with pytest.raises(UserError, match="mode .* is invalid: use 'isolate' or 'remove'"):
        contract.check_mode(mode)


@pytest.mark.parametrize("mix, value", [(0, 0.0), (1, 1.0), (0.25, 0.25), (np.float32(0.5), 0.5), ("0.75", 0.75)])
def test_mix_accepted(mix, value):
    assert contract.check_mix(mix) == value


@pytest.mark.parametrize("mix", [-0.1, 1.0001, math.nan, math.inf, "loud", None])
def test_bad_mix_refused(mix):
    with pytest.raises(UserError, match="mix .* is invalid"):
        contract.check_mix(mix)


def test_control_errors_take_the_callers_exception_type():
    class Invalid(ValueError):
        pass

    with pytest.raises(Invalid):
        contract.check_mode("both", error=Invalid)
    with pytest.raises(Invalid):
        contract.check_mix(2, error=Invalid)


def test_engine_uses_the_contract_controls(identity_model):
    from fewshot_sep.realtime.engine import StreamingSeparator

    engine = StreamingSeparator(identity_model, num_channels=1)
    for mode in contract.MODES:
        engine.mode = mode
    with pytest.raises(UserError, match="mode 'both' is invalid"):
        engine.mode = "both"
    with pytest.raises(UserError, match="mix 1.5 is invalid"):
        engine.mix = 1.5


def test_model_id_is_the_hash_of_both_graphs(tmp_path):
    sep, enc = tmp_path / "s.onnx", tmp_path / "e.onnx"
    sep.write_bytes(b"separator bytes")
    enc.write_bytes(b"encoder" * 300_000)  # larger than one read block
    expected = hashlib.sha256(sep.read_bytes() + enc.read_bytes()).hexdigest()[:16]
    assert contract.model_id_of(sep, enc) == expected
    assert contract.model_id_of(enc, sep) != expected


def _card(**overrides) -> dict:
    card = contract.build_card(
        model_id="0123456789abcdef", name="t", sample_rate=44100, n_fft=1024, hop=256, lookahead_frames=2,
        embedding_dim=8, state_shapes=[(None, 4), (None, 2, 3)], clip_seconds=3.0, min_clip_seconds=1.0,
        versions={"fewshot_sep": "x"}, training={"status": "untrained"})
    card.update(overrides)
    return card


def test_built_cards_pass_the_readers_checks(tmp_path):
    card = _card()
    assert card["latency_samples"] == contract.latency_samples(1024, 256, 2)
    assert card["conditioning_dim"] == contract.conditioning_dim(8)
    assert list(card)[:4] == ["format_version", "model_id", "name", "sample_rate"]
    assert list(card)[-2:] == ["versions", "training"]
    states = contract.validate_card(json.loads(json.dumps(card)), tmp_path / "model_card.json")
    assert states == (("state_0", (None, 4)), ("state_1", (None, 2, 3)))


@pytest.mark.parametrize("overrides, message", [
    ({"latency_samples": 1023}, "latency_samples 1023 disagrees"),
    ({"conditioning_dim": 16}, "conditioning_dim 16"),
    ({"format_version": 2}, "format_version 2 is not supported"),
    ({"window": "hann"}, "window 'hann'"),
    ({"min_clip_seconds": 5.0}, "min_clip_seconds"),
    ({"model_id": ""}, "model_id is empty"),
])
def test_validate_card_names_the_problem(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        contract.validate_card(_card(**overrides), tmp_path / "model_card.json")


def test_reader_and_writer_share_the_card_module(identity_model_dir):
    """The run-time reader checks cards with the contract; the exporter's names are the contract's."""
    pytest.importorskip("torch")
    from fewshot_sep.export import card as export_card
    from fewshot_sep.realtime import model_files

    assert export_card.model_id_of is contract_card.model_id_of
    assert export_card.latency_samples is contract.latency_samples
    assert model_files.CARD_NAME == export_card.CARD_NAME == contract_card.CARD_NAME
    model = model_files.ModelFiles.load(identity_model_dir)
    assert model.model_id == contract.model_id_of(model.separator_path, model.encoder_path)


def test_reader_refuses_a_card_the_contract_refuses(tmp_path):
    folder = make_model_folder(tmp_path, "identity", latency_samples=1024)
    from fewshot_sep.realtime.model_files import ModelFiles

    with pytest.raises(UserError, match="latency_samples 1024 disagrees"):
        ModelFiles.load(folder)
