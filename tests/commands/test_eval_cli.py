"""`fewshot-sep evaluate` on the command line: outputs, clear errors, no torch at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eval_fixtures import make_positive_gain_model, make_synthetic_dataset
from fewshot_sep.cli import main

pytest.importorskip("fast_bss_eval")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalcli")
    return make_synthetic_dataset(root / "data", n_works=4, seconds=4.0), make_positive_gain_model(root)


def test_evaluate_command_writes_all_outputs(tiny, tmp_path, capsys):
    data, model = tiny
    out = tmp_path / "run"
    results = tmp_path / "docs" / "results.md"
    code = main(["evaluate", "--data", str(data), "--episodes", "1", "--k", "1", "3", "--negatives", "without",
                 "--systems", "mixture", "oracle", "fewshot-onnx", "--model", str(model), "--seconds", "1.5",
                 "--workers", "1", "--out", str(out), "--results-md", str(results), "--quiet"])
    assert code == 0
    for name in ("episodes.csv", "summary.md", "run.json", "listen/index.html", "plots/si_sdri_vs_k.png"):
        assert (out / name).is_file(), name
    text = results.read_text()
    # the exact command is recorded, with every option explicit
    assert "fewshot-sep evaluate --data" in text and "--systems mixture oracle fewshot-onnx" in text
    # the results page says where its listening page is
    assert f"| listening page | `{out / 'listen' / 'index.html'}` (" in text
    assert "evaluated 2 episodes" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--split", "train"], "--split train is invalid"),
    (["--episodes", "0"], "--episodes 0 is invalid"),
    (["--k", "0"], "--k 0 is invalid"),
    (["--systems", "magic"], "--systems magic is invalid"),
    (["--interferers", "0", "2"], "--interferers 0 2 is invalid"),
    (["--interferers", "3", "2"], "--interferers 3 2 is invalid"),
    (["--systems", "fewshot-torch", "--checkpoint", "/nonexistent/run"], "fewshot-torch needs a checkpoint"),
])
def test_bad_arguments_are_user_errors(tiny, tmp_path, capsys, argv, needle):
    data, model = tiny
    # argparse keeps the last --systems, so argv may override the default one here
    code = main(["evaluate", "--data", str(data), "--model", str(model), "--out", str(tmp_path / "o"),
                 "--systems", "mixture", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_missing_manifest_is_a_user_error(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path), "--systems", "mixture"]) == 2
    assert "has no manifest.csv" in capsys.readouterr().err


def test_command_module_imports_no_torch(run_without_torch):
    """Importing the command (where torch is installed) loads neither torch nor matplotlib."""
    proc = run_without_torch("import fewshot_sep.commands.evaluate\nassert not imported(), imported()",
                             also=("matplotlib",), block=False)
    assert proc.returncode == 0, proc.stderr


def test_command_modules_import_without_the_eval_layer():
    """The standalone app leaves fewshot_sep.eval out and imports every command module at start."""
    code = ("import sys, pkgutil, importlib, fewshot_sep.commands as c\n"
            "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('fewshot_sep.commands.' + m.name)\n"
            "assert not any(n == 'fewshot_sep.eval' or n.startswith('fewshot_sep.eval.') for n in sys.modules), "
            "sorted(n for n in sys.modules if n.startswith('fewshot_sep.eval'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluate_default_interferers_match_the_harness():
    from fewshot_sep.commands.evaluate import DEFAULT_INTERFERERS
    from fewshot_sep.eval.harness import DEFAULT_INTERFERERS as HARNESS_DEFAULT

    assert tuple(DEFAULT_INTERFERERS) == tuple(HARNESS_DEFAULT)


def test_fewshot_torch_alone_uses_the_clip_length_its_run_trained_on(tiny, tmp_path):
    import json

    from model_test_config import save_tiny_run

    data, _ = tiny
    run = save_tiny_run(tmp_path / "tiny-run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data": {"support_seconds": 0.75}}))
    out = tmp_path / "run"
    code = main(["evaluate", "--data", str(data), "--episodes", "1", "--k", "1", "--negatives", "without",
                 "--systems", "fewshot-torch", "--checkpoint", str(run), "--seconds", "1.5",
                 "--workers", "1", "--out", str(out), "--quiet"])
    assert code == 0
    # the recorded command says which example length ran (not the 3 s of a model without a card)
    assert "--support-seconds 0.75" in (out / "summary.md").read_text()


def test_an_example_length_out_of_range_from_a_run_config_names_the_config(tiny, tmp_path, capsys):
    import json

    from model_test_config import save_tiny_run

    data, _ = tiny
    run = save_tiny_run(tmp_path / "tiny-run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data": {"support_seconds": 0.25}}))
    code = main(["evaluate", "--data", str(data), "--episodes", "1", "--k", "1", "--negatives", "without",
                 "--systems", "fewshot-torch", "--checkpoint", str(run), "--seconds", "1.5",
                 "--workers", "1", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    message = capsys.readouterr().err
    # the value came from the run's config, not the command line: the error says so and how to fix it
    assert "data.support_seconds" in message and "0.25" in message and "pass --support-seconds" in message
