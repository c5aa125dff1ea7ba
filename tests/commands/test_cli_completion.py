"""`fewshot-sep completion bash|zsh`: the printed script really completes in bash (and parses in zsh)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fewshot_sep.commands.completion import script

HARNESS = r"""
source "$1"
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _fewshot_sep; echo "${COMPREPLY[*]}"; }
"""


def complete(tmp_path, *words: str, env: dict | None = None) -> list[str]:
    """What the bash completion function offers for the command line `words` (last = being typed)."""
    path = tmp_path / "fewshot-sep.bash"
    path.write_text(script("bash"))
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    proc = subprocess.run(["bash", "-c", HARNESS + f"t fewshot-sep {quoted}", "bash", str(path)],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize(
    "words, expected",
    [
        (["se"], ["separate"]),
        (["pre"], ["preset"]),
        (["preset", "cr"], ["create"]),
        (["separate", "song.wav", "--ov"], ["--overwrite"]),
        (["separate", "song.wav", "--fil"], ["--filename"]),
        (["separate", "song.wav", "--mode", ""], ["both", "isolate", "remove"]),
        (["separate", "song.wav", "-p", "builtin:vio"], ["builtin:violin"]),
        (["preset", "create", "x", "--st"], ["--strict"]),
        (["completion", ""], ["bash", "zsh"]),
    ],
)
def test_bash_completes_commands_options_and_values(tmp_path, words, expected):
    assert complete(tmp_path, *words) == expected


def test_every_command_is_offered(tmp_path):
    offered = complete(tmp_path, "")
    for command in ("separate", "preset", "live", "devices", "demo", "completion"):
        assert command in offered


def test_library_names_with_spaces_are_quoted(tmp_path):
    library = tmp_path / "home" / "presets"
    library.mkdir(parents=True)
    (library / "upright bass.json").write_text("{}")
    env = {"FEWSHOT_SEP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    assert complete(tmp_path, "separate", "x.wav", "--preset", "upr", env=env) == ["upright\\", "bass"]


def test_cli_prints_the_scripts(capsys):
    from fewshot_sep.cli import main

    assert main(["completion", "bash"]) == 0
    bash = capsys.readouterr().out
    assert "complete -o default -F _fewshot_sep fewshot-sep" in bash
    assert main(["completion", "zsh"]) == 0
    zsh = capsys.readouterr().out
    assert "bashcompinit" in zsh and "_fewshot_sep()" in zsh


def test_scripts_parse(tmp_path):
    for shell in ("bash", "zsh"):
        if shutil.which(shell) is None:
            continue
        path = tmp_path / f"completion.{shell}"
        path.write_text(script(shell))
        proc = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, (shell, proc.stderr)


def test_other_shells_are_a_usage_error(capsys):
    from fewshot_sep.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["completion", "fish"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err
