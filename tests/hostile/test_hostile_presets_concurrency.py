"""Two processes writing the preset library at once: no lost update, no silent overwrite.

Real processes (spawned, so each has its own interpreter and onnxruntime) released
together by a multiprocessing barrier run the CLI; the library must hold every change.
"""

from __future__ import annotations

import multiprocessing as mp

import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import load_preset
from fewshot_sep.presets.library import find_in_library
from preset_helpers import bright_noise, dark_tone, write

ROUNDS = 3


def _cli_after_barrier(barrier, results, home: str, argv: list[str]) -> None:
    import contextlib
    import io
    import os

    os.environ["FEWSHOT_SEP_HOME"] = home
    err = io.StringIO()
    barrier.wait(timeout=60)
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results.put((code, err.getvalue()))


def _run_together(home, *argvs):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(argvs))
    results = ctx.Queue()
    procs = [ctx.Process(target=_cli_after_barrier, args=(barrier, results, str(home), list(a))) for a in argvs]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return out


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_two_adds_at_once_keep_both_examples(home, tmp_path, identity_model_dir):
    m = ["--model", str(identity_model_dir)]
    first = write(tmp_path / "first.wav", dark_tone(110, 3.0))
    for r in range(ROUNDS):
        name = f"bass {r}"
        assert main(["preset", "create", name, "--examples", str(first), "-q", *m]) == 0
        extra = [write(tmp_path / f"extra{r}_{i}.wav", dark_tone(150 + 40 * i, 3.0, seed=i)) for i in range(2)]
        results = _run_together(home, *(["preset", "add", name, "--examples", str(e), "-q", *m] for e in extra))
        assert [code for code, _ in results] == [0, 0], results
        preset = load_preset(find_in_library(name))
        files = sorted(c.file for c in preset.clips)
        assert files == sorted(["first.wav", *(e.name for e in extra)]), f"round {r}: an added example was lost: {files}"
        assert preset.positive.count == 3


SAVE_ROUNDS = 40


def _save_rounds(barrier, results, home: str, rounds: int) -> None:
    import os

    from fewshot_sep.presets.library import save_to_library
    from fewshot_sep.utils.errors import UserError
    from preset_helpers import synthetic_preset

    os.environ["FEWSHOT_SEP_HOME"] = home
    outcome = []
    for r in range(rounds):
        preset = synthetic_preset()
        preset.name = f"lead {r}"
        barrier.wait(timeout=60)
        try:
            save_to_library(preset)
            outcome.append("saved")
        except UserError as err:
            outcome.append(str(err))
    results.put(outcome)


def test_two_new_saves_of_one_name_at_once_one_is_refused(home):
    """The library's check-then-write, 40 times two processes at once: each time
    exactly one save succeeds and the other is refused (no overwrite without --force)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_save_rounds, args=(barrier, results, str(home), SAVE_ROUNDS))
             for _ in range(2)]
    for p in procs:
        p.start()
    a, b = (results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    both = [r for r in range(SAVE_ROUNDS) if a[r] == b[r] == "saved"]
    assert not both, f"both processes saved the new name in rounds {both} (one overwrote the other)"
    refused = [x for x in a + b if x != "saved"]
    assert len(refused) == SAVE_ROUNDS and all("already" in x and "--force" in x for x in refused), refused[:3]


def test_two_new_saves_to_one_file_at_once_one_is_refused(home, tmp_path, identity_model_dir):
    m = ["--model", str(identity_model_dir)]
    tone = write(tmp_path / "tone.wav", dark_tone(110, 3.0))
    noise = write(tmp_path / "noise.wav", bright_noise(3.0))
    for r in range(ROUNDS):
        out = tmp_path / f"shared{r}.json"
        results = _run_together(home, *(["preset", "create", "lead", "--examples", str(c), "-o", str(out), "-q", *m]
                                        for c in (tone, noise)))
        assert sorted(code for code, _ in results) == [0, 2], f"round {r}: {results}"
