"""The bad-input matrix: every user-facing entry point x every class of hostile value.

Used by tests/hostile/test_hostile_matrix.py (one test per case) and by
scripts/hostile_matrix.py (runs them all and writes docs/hostile-input.md).

The rule each case is held to (`check`):
- **usage**: the CLI exits 2 and prints one clear message, no traceback; the Python
  API raises `UserError` (a subclass of it); the message names the offending value
  (``names``) and says what is valid or how to fix it;
- **file**: ``separate`` reports a bad *input file* per file (the batch goes on with
  the others) and exits 1 at the end, as documented in docs/usage.md; the message
  names the file and the reason;
- **ok**: the value is legal and the result is sane (finite audio of the right shape);
- in every case nothing is lost: a library preset and an existing output file made
  before the case are byte-for-byte unchanged afterwards, and no temp file is left.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from plugin_helpers import gain_vector, make_gain_preset, noise

#: A word a message must contain to count as saying what is valid / how to fix it.
FIX_WORDS = ("use ", "keep ", "give ", "choose", "check", "rebuild", "must", "expected", "valid", "pass ", "try ",
             "convert", "save it", "fix", "flatten", "re-export", "export it", "list", "see ", "set ")


@dataclass
class Case:
    entry: str  # entry point, e.g. "CLI separate", "process()"
    value_class: str  # wrong type, out of range, non-finite, empty, huge, hostile file
    label: str
    run: Callable[["Context"], Any]
    expect: str = "usage"  # "ok", or "file" (separate: one input fails, the batch goes on, exit 1)
    names: str | None = None  # text the message must contain (the offending value)

    @property
    def id(self) -> str:
        return f"{self.entry}|{self.value_class}|{self.label}"


@dataclass
class Context:
    tmp: Path
    model: Any
    model_dir: str
    song: Path
    preset: Path
    keep_output: Path
    home: Path

    def m(self) -> list[str]:
        return ["--model", self.model_dir]


def make_context(tmp: Path, model, model_dir) -> Context:
    os.environ["FEWSHOT_SEP_HOME"] = str(tmp / "home")
    sf.write(tmp / "song.wav", noise(0.5, 44100, 2).T, 44100)
    preset = make_gain_preset(tmp, model, 0.5, name="good")
    from fewshot_sep.presets import import_preset

    import_preset(preset, name="keep")
    keep = tmp / "existing_out.wav"
    sf.write(keep, noise(0.1, 44100, 2).T, 44100)
    return Context(tmp, model, str(model_dir), tmp / "song.wav", preset, keep, tmp / "home")


def snapshot(ctx: Context) -> dict[str, bytes]:
    files = {p: p.read_bytes() for p in (ctx.home / "presets").glob("*.json")}
    files[ctx.keep_output] = ctx.keep_output.read_bytes()
    return {str(k): v for k, v in files.items()}


# ---------------------------------------------------------------- hostile files
def hostile_file(ctx: Context, kind: str, suffix: str = ".json") -> str:
    path = ctx.tmp / f"hostile_{kind}{suffix}"
    if path.exists() or path.is_symlink():
        return str(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "deep":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "sparse_huge":
        with open(path, "wb") as fh:
            fh.truncate(64 * 1024 * 1024)
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + ctx.preset.read_bytes())
    elif kind == "text":
        path.write_text("this is not audio\n")
    elif kind == "missing":
        pass
    elif kind == "huge_embedding":
        doc = json.loads(ctx.preset.read_text())
        doc["positive"]["sum"] = doc["positive"]["mean"] = [1e30] * len(doc["positive"]["sum"])
        path.write_text(json.dumps(doc))
    elif kind == "nan_json":
        path.write_text(ctx.preset.read_text().replace('"mix": 1.0', '"mix": NaN'))
    elif kind == "wrong_types":
        doc = json.loads(ctx.preset.read_text())
        doc["embedding_dim"] = "many"
        path.write_text(json.dumps(doc))
    else:
        raise ValueError(kind)
    return str(path)


# ---------------------------------------------------------------- runners
def cli(*argv: str) -> Callable[[Context], Any]:
    def run(ctx: Context):
        from fewshot_sep.cli import main

        args = [a.format(tmp=ctx.tmp, song=ctx.song, preset=ctx.preset) for a in argv]
        if args and args[0] in ("separate", "live") or args[:2] in (["preset", "create"], ["preset", "add"],
                                                                   ["preset", "show"]):
            args += ctx.m()
        return ("cli", main(args))

    return run


def cli_file(argv_before: list[str], kind: str, argv_after: list[str] = (), suffix: str = ".json"):
    def run(ctx: Context):
        path = hostile_file(ctx, kind, suffix)
        return cli(*argv_before, path, *argv_after)(ctx)

    return run


def _existing_output(ctx: Context):
    """`separate` onto a file that exists (not the input): refused before any work without --overwrite."""
    import shutil

    shutil.copy(ctx.song, ctx.tmp / "existing.wav")
    return cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/existing.wav")(ctx)


def api(func: Callable[[Context], Any]) -> Callable[[Context], Any]:
    def run(ctx: Context):
        return ("api", func(ctx))

    return run


def _sep(ctx: Context, **kw):
    from fewshot_sep.plugin_host import FewShotSeparator

    kw.setdefault("conditioning", gain_vector(0.5, ctx.model.conditioning_dim))
    return FewShotSeparator(model=ctx.model, **kw)


def _process(audio=None, sample_rate=44100, **kw):
    def func(ctx: Context):
        x = noise(0.1, 44100, 2) if audio is None else (audio(ctx) if callable(audio) else audio)
        return _sep(ctx).process(x, sample_rate, **kw)

    return api(func)


def _live(**kw):
    def func(ctx: Context):
        from fewshot_sep.plugin_host.live.host import LiveHost

        LiveHost([kw.pop("preset", str(ctx.preset))], model=ctx.model, out=io.StringIO(), **kw)  # checks the rate
        return None

    return api(func)


def _chain_json(doc):
    def func(ctx: Context):
        from fewshot_sep.plugin_host.plugin.chain_file import chain_from_json

        return chain_from_json(doc, model=ctx.model)

    return api(func)


def _deep_board(depth: int) -> dict:
    board: dict = {"type": "Gain"}
    for _ in range(depth):
        board = {"type": "Pedalboard", "plugins": [board]}
    return {"format": "fewshot-sep-chain", "format_version": 1, "plugins": [board]}


def _chain(plugins):
    def func(ctx: Context):
        from fewshot_sep.plugin_host import Chain

        return Chain(plugins(ctx) if callable(plugins) else plugins)(noise(0.1, 44100, 2), 44100)

    return api(func)


def _deep_list(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


SEP = "CLI separate"
PRESET = "CLI preset"
LIVE = "CLI live"
PROC = "process()"
PARAMS = "FewShotSeparator params"
CHAIN = "Chain / chain files"
PAPI = "presets API"

CASES: list[Case] = [
    # ----------------------------------------------------------- CLI separate
    Case(SEP, "hostile file", "input missing", cli("separate", "{tmp}/nope.wav", "-p", "{preset}", "-o", "{tmp}/o.wav"), expect="file", names="nope.wav"),
    Case(SEP, "hostile file", "input is a FIFO", cli_file(["separate"], "fifo", ["-p", "{preset}", "-o", "{tmp}/o.wav"], ".wav"), expect="file", names="hostile_fifo.wav"),
    Case(SEP, "hostile file", "input links to /dev/zero", cli_file(["separate"], "dev_zero", ["-p", "{preset}", "-o", "{tmp}/o.wav"], ".wav"), expect="file", names="hostile_dev_zero.wav"),
    Case(SEP, "empty", "input is an empty file", cli_file(["separate"], "empty", ["-p", "{preset}", "-o", "{tmp}/o.wav"], ".wav"), expect="file", names="hostile_empty.wav"),
    Case(SEP, "wrong type", "input is text named .wav", cli_file(["separate"], "text", ["-p", "{preset}", "-o", "{tmp}/o.wav"], ".wav"), expect="file", names="hostile_text.wav"),
    Case(SEP, "hostile file", "--preset is a FIFO", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p"], "fifo"), names="hostile_fifo.json"),
    Case(SEP, "hostile file", "--preset links to /dev/zero", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p"], "dev_zero"), names="hostile_dev_zero.json"),
    Case(SEP, "huge", "--preset with 1e30 embeddings", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p"], "huge_embedding"), names="L2 norm"),
    Case(SEP, "hostile file", "--preset deeply nested JSON", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p"], "deep"), names="hostile_deep.json"),
    Case(SEP, "hostile file", "--preset with a BOM", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p"], "bom"), names="hostile_bom.json"),
    Case(SEP, "hostile file", "--chain is a FIFO", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p", "{preset}", "--chain"], "fifo"), names="hostile_fifo.json"),
    Case(SEP, "huge", "--chain is 64 MB", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p", "{preset}", "--chain"], "sparse_huge"), names="too large"),
    Case(SEP, "hostile file", "--chain deeply nested JSON", cli_file(["separate", "{song}", "-o", "{tmp}/o.wav", "-p", "{preset}", "--chain"], "deep"), names="nested too deeply"),
    Case(SEP, "non-finite", "--mix nan", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mix", "nan"), names="nan"),
    Case(SEP, "non-finite", "--mix inf", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mix", "inf"), names="inf"),
    Case(SEP, "out of range", "--mix 2", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mix", "2"), names="2"),
    Case(SEP, "out of range", "--mix -0.5", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mix", "-0.5"), names="-0.5"),
    Case(SEP, "wrong type", "--mix abc", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mix", "abc"), names="abc"),
    Case(SEP, "wrong type", "--mode sideways", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mode", "sideways"), names="sideways"),
    Case(SEP, "out of range", "--bit-depth 7", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--bit-depth", "7"), names="7"),
    Case(SEP, "wrong type", "--output .xyz", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.xyz"), names="o.xyz"),
    Case(SEP, "non-finite", "--chunk-seconds nan", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--chunk-seconds", "nan"), names="nan"),
    Case(SEP, "out of range", "--chunk-seconds -1", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--chunk-seconds", "-1"), names="-1"),
    Case(SEP, "hostile file", "--output over the existing output's folder", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}"), names="refusing to overwrite"),
    Case(SEP, "empty", "--preset ''", cli("separate", "{song}", "-p", "", "-o", "{tmp}/o.wav"), names="''"),
    Case(SEP, "hostile file", "--output over an existing file", _existing_output, names="--overwrite"),
    Case(SEP, "wrong type", "--filename with an unknown field", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o", "--filename", "{{track}}-{{stem}}.{{ext}}"), names="{stem}"),
    Case(SEP, "hostile file", "--filename leaving the output folder", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o", "--filename", "../{{track}}.{{ext}}"), names="'../{track}.{ext}'"),
    Case(SEP, "wrong type", "--filename with a format spec", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o", "--filename", "{{track!r}}.{{ext}}"), names="{track}"),
    Case(SEP, "out of range", "--jobs 0", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--jobs", "0"), names="--jobs 0"),
    Case(SEP, "out of range", "--threads 0", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--threads", "0"), names="--threads 0"),
    Case(SEP, "wrong type", "--mode both to one file", cli("separate", "{song}", "-p", "{preset}", "-o", "{tmp}/o.wav", "--mode", "both"), names="--mode both"),
    # ------------------------------------------------------------ CLI preset
    Case(PRESET, "empty", "create with an empty name", cli("preset", "create", "", "--examples", "{song}"), names="''"),
    Case(PRESET, "huge", "create with a 1000-character name", cli("preset", "create", "x" * 1000, "--examples", "{song}"), names="1000 characters"),
    Case(PRESET, "wrong type", "create with a name ending in a newline", cli("preset", "create", "bass\n", "--examples", "{song}"), names="'bass\\n'"),
    Case(PRESET, "wrong type", "create with a name holding '/'", cli("preset", "create", "a/b", "--examples", "{song}"), names="'a/b'"),
    Case(PRESET, "wrong type", "create with an escape sequence in the name", cli("preset", "create", "x\x1b[2J", "--examples", "{song}"), names="\\x1b"),
    Case(PRESET, "hostile file", "create from a FIFO example", cli_file(["preset", "create", "new", "--examples"], "fifo", [], ".wav"), names="hostile_fifo.wav"),
    Case(PRESET, "hostile file", "create from a missing example", cli("preset", "create", "new", "--examples", "{tmp}/missing.wav"), names="missing.wav"),
    Case(PRESET, "empty", "create from an empty example file", cli_file(["preset", "create", "new", "--examples"], "empty", [], ".wav"), names="hostile_empty.wav"),
    Case(PRESET, "non-finite", "create --mix nan", cli("preset", "create", "new", "--examples", "{song}", "--mix", "nan"), names="nan"),
    Case(PRESET, "out of range", "create --mix 5", cli("preset", "create", "new", "--examples", "{song}", "--mix", "5"), names="5"),
    Case(PRESET, "hostile file", "create --output over an existing file", cli("preset", "create", "new", "--examples", "{song}", "-o", "{preset}"), names="already exists"),
    Case(PRESET, "hostile file", "create over a library name", cli("preset", "create", "KEEP", "--examples", "{song}"), names="already in your library"),
    Case(PRESET, "hostile file", "show a FIFO", cli_file(["preset", "show"], "fifo"), names="named pipe"),
    Case(PRESET, "hostile file", "show a link to /dev/zero", cli_file(["preset", "show"], "dev_zero"), names="character device"),
    Case(PRESET, "huge", "show a 64 MB file", cli_file(["preset", "show"], "sparse_huge"), names="too large"),
    Case(PRESET, "hostile file", "show a folder", cli_file(["preset", "show"], "folder"), names="folder"),
    Case(PRESET, "empty", "show an empty file", cli_file(["preset", "show"], "empty"), names="hostile_empty.json"),
    Case(PRESET, "wrong type", "show a binary file", cli_file(["preset", "show"], "binary"), names="not UTF-8"),
    Case(PRESET, "non-finite", "show a preset with NaN", cli_file(["preset", "show"], "nan_json"), names="NaN"),
    Case(PRESET, "wrong type", "show a preset with a wrong type", cli_file(["preset", "show"], "wrong_types"), names="embedding_dim"),
    Case(PRESET, "hostile file", "import deeply nested JSON", cli_file(["preset", "import"], "deep"), names="nested too deeply"),
    Case(PRESET, "hostile file", "import a FIFO", cli_file(["preset", "import"], "fifo"), names="named pipe"),
    Case(PRESET, "hostile file", "import a link to /dev/zero", cli_file(["preset", "import"], "dev_zero"), names="character device"),
    Case(PRESET, "huge", "import a preset with 1e30 embeddings", cli_file(["preset", "import"], "huge_embedding"), names="L2 norm"),
    Case(PRESET, "hostile file", "import with a BOM", cli_file(["preset", "import"], "bom"), names="byte-order mark"),
    Case(PRESET, "hostile file", "import over a library preset", cli("preset", "import", "{preset}", "--name", "keep"), names="already in your library"),
    Case(PRESET, "hostile file", "export to a folder", cli("preset", "export", "keep", "{tmp}"), names="must be a .json"),
    Case(PRESET, "hostile file", "export over an existing file", cli("preset", "export", "keep", "{preset}"), names="already exists"),
    Case(PRESET, "out of range", "set --mix 5", cli("preset", "set", "keep", "--mix", "5"), names="5"),
    Case(PRESET, "non-finite", "set --mix nan", cli("preset", "set", "keep", "--mix", "nan"), names="nan"),
    Case(PRESET, "wrong type", "set --mode loud", cli("preset", "set", "keep", "--mode", "loud"), names="loud"),
    Case(PRESET, "huge", "set a 5000-character description", cli("preset", "set", "keep", "--description", "d" * 5000), names="5000"),
    Case(PRESET, "wrong type", "rename to an invalid name", cli("preset", "rename", "keep", "../evil"), names="'../evil'"),
    Case(PRESET, "hostile file", "delete a missing preset", cli("preset", "delete", "ghost"), names="'ghost'"),
    Case(PRESET, "hostile file", "add to a built-in preset", cli("preset", "add", "builtin:piano", "--examples", "{song}"), names="read-only"),
    # -------------------------------------------------------------- CLI live
    Case(LIVE, "out of range", "--blocksize -1", cli("live", "-p", "{preset}", "--blocksize", "-1"), names="-1"),
    Case(LIVE, "out of range", "--blocksize 99999", cli("live", "-p", "{preset}", "--blocksize", "99999"), names="99999"),
    Case(LIVE, "out of range", "--channels 0", cli("live", "-p", "{preset}", "--channels", "0"), names="0"),
    Case(LIVE, "huge", "--channels 1000", cli("live", "-p", "{preset}", "--channels", "1000"), names="1000"),
    Case(LIVE, "non-finite", "--samplerate nan", cli("live", "-p", "{preset}", "--samplerate", "nan"), names="nan"),
    Case(LIVE, "non-finite", "--samplerate inf", cli("live", "-p", "{preset}", "--samplerate", "inf"), names="inf"),
    Case(LIVE, "out of range", "--samplerate -48000", cli("live", "-p", "{preset}", "--samplerate", "-48000"), names="-48000"),
    Case(LIVE, "non-finite", "--latency nan", cli("live", "-p", "{preset}", "--latency", "nan"), names="nan"),
    Case(LIVE, "out of range", "--latency -1", cli("live", "-p", "{preset}", "--latency", "-1"), names="-1"),
    Case(LIVE, "non-finite", "--duration nan", cli("live", "-p", "{preset}", "--duration", "nan"), names="nan"),
    Case(LIVE, "out of range", "--duration -5", cli("live", "-p", "{preset}", "--duration", "-5"), names="-5"),
    Case(LIVE, "non-finite", "--mix inf", cli("live", "-p", "{preset}", "--mix", "inf"), names="inf"),
    Case(LIVE, "hostile file", "--preset is a FIFO", cli_file(["live", "-p"], "fifo"), names="named pipe"),
    Case(LIVE, "huge", "--preset with 1e30 embeddings", cli_file(["live", "-p"], "huge_embedding"), names="L2 norm"),
    Case(LIVE, "empty", "no --preset", cli("live"), names="preset"),
    Case(LIVE, "non-finite", "samplerate=nan (API)", _live(samplerate=float("nan")), names="nan"),
    Case(LIVE, "wrong type", "--client-name with ':'", cli("live", "--jack", "-p", "{preset}", "--client-name", "a:b"),
         names="'a:b'"),
    Case(LIVE, "empty", "--client-name ''", cli("live", "--jack", "-p", "{preset}", "--client-name", ""), names="''"),
    Case(LIVE, "wrong type", "--jack with --input", cli("live", "--jack", "-p", "{preset}", "--input", "1"),
         names="--input"),
    Case(LIVE, "wrong type", "--no-autoconnect without --jack", cli("live", "-p", "{preset}", "--no-autoconnect"),
         names="use it with --jack"),
    # ------------------------------------------------------------- process()
    Case(PROC, "wrong type", "a list of strings", _process(["a", "b"]), names="<U1"),
    Case(PROC, "wrong type", "None", _process(lambda ctx: None), names="shape ()"),
    Case(PROC, "wrong type", "a 3-D array", _process(np.zeros((2, 2, 100), np.float32)), names="(2, 2, 100)"),
    Case(PROC, "wrong type", "uint8 samples", _process(np.zeros((2, 100), np.uint8)), names="uint8"),
    Case(PROC, "wrong type", "complex samples", _process(np.zeros((2, 100), np.complex64)), names="complex64"),
    Case(PROC, "wrong type", "object array", _process(np.array([[None] * 10] * 2)), names="object"),
    Case(PROC, "wrong type", "int16 samples (scaled like PCM)", _process(lambda ctx: (noise(0.1, 44100, 2) * 32767).astype(np.int16)), expect="ok"),
    Case(PROC, "empty", "zero samples", _process(np.zeros((2, 0), np.float32)), expect="ok"),
    Case(PROC, "empty", "zero channels", _process(np.zeros((0, 100), np.float32)), names="channels"),
    Case(PROC, "huge", "100 channels", _process(np.zeros((100, 1000), np.float32)), names="100 channels"),
    Case(PROC, "non-finite", "NaN/Inf samples (processed as silence)", _process(lambda ctx: _with_nan(noise(0.1, 44100, 2))), expect="ok"),
    Case(PROC, "huge", "samples of 1e30", _process(np.full((2, 4410), 1e30, np.float32)), expect="ok"),
    Case(PROC, "non-finite", "sample_rate nan", _process(sample_rate=float("nan")), names="nan"),
    Case(PROC, "non-finite", "sample_rate inf", _process(sample_rate=float("inf")), names="inf"),
    Case(PROC, "out of range", "sample_rate 0", _process(sample_rate=0), names="0"),
    Case(PROC, "out of range", "sample_rate -44100", _process(sample_rate=-44100), names="-44100"),
    Case(PROC, "out of range", "sample_rate 44100.5", _process(sample_rate=44100.5), names="44100.5"),
    Case(PROC, "huge", "sample_rate 1e12", _process(sample_rate=1e12), names="1000000000000"),
    Case(PROC, "wrong type", "sample_rate 'fast'", _process(sample_rate="fast"), names="'fast'"),
    Case(PROC, "out of range", "buffer_size 0", _process(buffer_size=0), names="0"),
    Case(PROC, "non-finite", "buffer_size nan", _process(buffer_size=float("nan")), names="nan"),
    Case(PROC, "wrong type", "buffer_size 'big'", _process(buffer_size="big"), names="'big'"),
    # ---------------------------------------------------- FewShotSeparator params
    Case(PARAMS, "non-finite", "mix=nan", api(lambda ctx: _sep(ctx, mix=float("nan"))), names="nan"),
    Case(PARAMS, "out of range", "mix=1.5", api(lambda ctx: _sep(ctx, mix=1.5)), names="1.5"),
    Case(PARAMS, "wrong type", "mix='loud'", api(lambda ctx: _sep(ctx, mix="loud")), names="'loud'"),
    Case(PARAMS, "wrong type", "mode='sideways'", api(lambda ctx: _sep(ctx, mode="sideways")), names="sideways"),
    Case(PARAMS, "wrong type", "mode=None assigned", api(lambda ctx: setattr(_sep(ctx), "mode", None)), names="None"),
    Case(PARAMS, "wrong type", "conditioning of the wrong length", api(lambda ctx: _sep(ctx, conditioning=np.zeros(5, np.float32))), names="5 values"),
    Case(PARAMS, "non-finite", "conditioning with NaN", api(lambda ctx: _sep(ctx, conditioning=gain_vector(float("nan"), ctx.model.conditioning_dim))), names="NaN"),
    Case(PARAMS, "huge", "conditioning of 1e30", api(lambda ctx: _sep(ctx, conditioning=gain_vector(1e30, ctx.model.conditioning_dim))), names="L2 norm"),
    Case(PARAMS, "wrong type", "conditioning='loud'", api(lambda ctx: _sep(ctx, conditioning="loud")), names="conditioning"),
    Case(PARAMS, "hostile file", "preset is a FIFO", api(lambda ctx: _sep(ctx, conditioning=None, preset=hostile_file(ctx, "fifo"))), names="named pipe"),
    Case(PARAMS, "huge", "preset with 1e30 embeddings", api(lambda ctx: _sep(ctx, conditioning=None, preset=hostile_file(ctx, "huge_embedding"))), names="L2 norm"),
    Case(PARAMS, "wrong type", "preset=42", api(lambda ctx: _sep(ctx, conditioning=None, preset=42)), names="42"),
    Case(PARAMS, "hostile file", "preset='builtin:nope'", api(lambda ctx: _sep(ctx, conditioning=None, preset="builtin:nope")), names="nope"),
    # ------------------------------------------------------- Chain / chain files
    Case(CHAIN, "wrong type", "Chain(['not a plugin'])", _chain(["not a plugin"]), names="str"),
    Case(CHAIN, "wrong type", "Chain(None)", _chain(None), names="None"),
    Case(CHAIN, "wrong type", "chain document is a list", _chain_json([1, 2]), names="list"),
    Case(CHAIN, "wrong type", "plugins is not a list", _chain_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": 3}), names="int"),
    Case(CHAIN, "wrong type", "unknown plugin type", _chain_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": [{"type": "Nuke"}]}), names="'Nuke'"),
    Case(CHAIN, "wrong type", "Gain gain_db='loud'", _chain_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": [{"type": "Gain", "gain_db": "loud"}]}), names="gain_db"),
    Case(CHAIN, "non-finite", "Gain gain_db=NaN", _chain_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": [{"type": "Gain", "gain_db": float("nan")}]}), names="gain_db"),
    Case(CHAIN, "huge", "Pedalboards nested 5000 deep", _chain_json(_deep_board(5000)), names="nested more than"),
    Case(CHAIN, "huge", "separator conditioning of 1e30", _chain_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": [{"type": "FewShotSeparator", "conditioning": [1e30] + [0.0] * 32}]}), names="L2 norm"),
    Case(CHAIN, "hostile file", "load_chain on a FIFO", api(lambda ctx: __import__("fewshot_sep.plugin_host.plugin.chain_file", fromlist=["x"]).load_chain(hostile_file(ctx, "fifo"))), names="named pipe"),
    Case(CHAIN, "hostile file", "load_chain on /dev/zero", api(lambda ctx: __import__("fewshot_sep.plugin_host.plugin.chain_file", fromlist=["x"]).load_chain(hostile_file(ctx, "dev_zero"))), names="character device"),
    # ------------------------------------------------------------- presets API
    Case(PAPI, "hostile file", "load_preset on a folder", api(lambda ctx: _load(hostile_file(ctx, "folder"))), names="folder"),
    Case(PAPI, "hostile file", "load_preset on a FIFO", api(lambda ctx: _load(hostile_file(ctx, "fifo"))), names="named pipe"),
    Case(PAPI, "hostile file", "load_preset on /dev/zero", api(lambda ctx: _load(hostile_file(ctx, "dev_zero"))), names="character device"),
    Case(PAPI, "huge", "load_preset on a 64 MB file", api(lambda ctx: _load(hostile_file(ctx, "sparse_huge"))), names="too large"),
    Case(PAPI, "hostile file", "load_preset on deep JSON", api(lambda ctx: _load(hostile_file(ctx, "deep"))), names="nested too deeply"),
    Case(PAPI, "empty", "load_preset on an empty file", api(lambda ctx: _load(hostile_file(ctx, "empty"))), names="hostile_empty.json"),
    Case(PAPI, "huge", "load_preset with 1e30 embeddings", api(lambda ctx: _load(hostile_file(ctx, "huge_embedding"))), names="L2 norm"),
    Case(PAPI, "wrong type", "Preset.from_json(deeply nested name)", api(lambda ctx: _from_json({"format": "fewshot-sep-preset", "format_version": 1, "name": _deep_list(50_000)})), names="'name'"),
    Case(PAPI, "wrong type", "Preset.from_json('text')", api(lambda ctx: _from_json("text")), names="JSON object"),
    Case(PAPI, "wrong type", "check_name(None)", api(lambda ctx: _check_name(None)), names="NoneType"),
    Case(PAPI, "wrong type", "check_name('bass\\n')", api(lambda ctx: _check_name("bass\n")), names="'bass\\n'"),
]


def _with_nan(x):
    x = x.copy()
    x[:, ::7] = np.nan
    x[1, 5] = np.inf
    return x


def _load(path):
    from fewshot_sep.presets import load_preset

    return load_preset(path)


def _from_json(doc):
    from fewshot_sep.presets import Preset

    return Preset.from_json(doc)


def _check_name(name):
    from fewshot_sep.presets import check_name

    return check_name(name)


def run_case(case: Case, ctx: Context) -> tuple[bool, str]:
    """Run one case; return ``(passed, what happened)`` against the rule in the module docstring."""
    from fewshot_sep.utils.errors import UserError

    before = snapshot(ctx)
    out, err = io.StringIO(), io.StringIO()
    kind, result, message, crashed = None, None, "", None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            kind, result = case.run(ctx)
    except UserError as error:
        kind, message = "api", str(error)
    except SystemExit as exit_:  # argparse rejects a value: exit 2 with a usage message
        kind, result = "cli", exit_.code
    except BaseException as error:  # noqa: BLE001 - the matrix reports it
        crashed = f"{type(error).__name__}: {error}"[:300]
    text = message or err.getvalue()
    problems = []
    if crashed:
        problems.append(f"raised {crashed}")
    elif "Traceback" in err.getvalue():
        problems.append("printed a traceback")
    elif case.expect == "usage":
        if kind == "cli" and result != 2:
            problems.append(f"exit status {result}, expected 2")
        if kind == "api" and not message:
            problems.append("returned normally, expected a UserError")
        if case.names is not None and case.names not in text:
            problems.append(f"message does not name {case.names!r}")
        if not any(w in text.lower() for w in FIX_WORDS) and kind is not None and not problems:
            problems.append("message does not say what is valid or how to fix it")
    elif case.expect == "file":
        if kind != "cli" or result != 1:
            problems.append(f"exit status {result}, expected 1 (a failed file in a batch)")
        if case.names and case.names not in text:
            problems.append(f"message does not name {case.names!r}")
    else:
        if message or (kind == "cli" and result != 0):
            problems.append(f"refused a legal value: {text.strip()[:200]}")
        elif isinstance(result, np.ndarray) and not np.all(np.isfinite(result)):
            problems.append("returned non-finite audio")
    after = snapshot(ctx)
    if after != before:
        problems.append("changed or lost a file that existed before")
    temps = [p.name for p in ctx.tmp.rglob(".*.~*~*")]
    if temps:
        problems.append(f"left temp files {temps}")
    lines = text.strip().splitlines()
    failed = [line for line in lines if "FAILED" in line]
    shown = (failed or lines or ["accepted" if not crashed else crashed])[-1]
    shown = shown.replace(str(ctx.tmp), "<tmp>")[:240]
    return (not problems, "; ".join(problems) if problems else shown)
