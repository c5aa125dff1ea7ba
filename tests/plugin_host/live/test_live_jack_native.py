"""`live --jack`: the native JACK client against a real jackd (dummy driver, 48 kHz, 256-frame periods).

Client and port names, the separator's latency published on the ports (read back with
``jack_lsp -l``), ``--no-autoconnect``, audio through the client (a player and a recorder
client around it), the server's rate and period, and the errors (rate, period, taken
name, no server, no JACK-Client). Fails if jackd or JACK-Client is missing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from live_jack_helpers import PERIOD, SAMPLE_RATE, PlayRecord, jack_lsp, start_jack_server, stop_jack_server
from plugin_helpers import gain_vector, make_gain_preset, noise


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory):
    """A JACK dummy server under a unique name, the default server for this module's clients."""
    server = start_jack_server(tmp_path_factory.mktemp("jack_native"))
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    try:
        yield server
    finally:
        stop_jack_server(server)
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def _name() -> str:
    return f"fs-{uuid.uuid4().hex[:6]}"


def _host(model, gain=0.5, channels=2, **kw):
    from fewshot_sep.plugin_host.live.host import LiveHost

    return LiveHost([gain_vector(gain, model.conditioning_dim)], model=model, channels=channels, out=io.StringIO(),
                    backend="jack", **kw)


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_client_ports_and_published_latency_unconnected(jack_server, gain_model):
    name = _name()
    host = _host(gain_model, client_name=name, autoconnect=False)
    host.start()
    try:
        ports = jack_lsp(jack_server.name)
        ours = {p: v for p, v in ports.items() if p.startswith(name + ":")}
        assert sorted(ours) == [f"{name}:in_L", f"{name}:in_R", f"{name}:out_L", f"{name}:out_R"]
        latency = host.latency_samples
        assert latency == host.separator.latency_at(SAMPLE_RATE) > 0
        for port, info in ours.items():
            assert info["connections"] == [], f"{port} is connected with --no-autoconnect"
            if ":in_" in port:  # what lies downstream of an input: our latency (nothing after it)
                assert info["playback"] == (latency, latency) and info["capture"] == (0, 0)
            else:  # what lies upstream of an output: our latency
                assert info["capture"] == (latency, latency) and info["playback"] == (0, 0)
        assert host.sample_rate == SAMPLE_RATE and host.blocksize == PERIOD
    finally:
        host.stop()
    assert not any(p.startswith(name + ":") for p in jack_lsp(jack_server.name))


def test_autoconnect_and_latency_adds_up_along_the_graph(jack_server, gain_model):
    name = _name()
    host = _host(gain_model, client_name=name)
    host.start()
    try:
        ports = jack_lsp(jack_server.name)
        assert ports[f"{name}:in_L"]["connections"] == ["system:capture_1"]
        assert ports[f"{name}:in_R"]["connections"] == ["system:capture_2"]
        assert ports[f"{name}:out_L"]["connections"] == ["system:playback_1"]
        assert ports[f"{name}:out_R"]["connections"] == ["system:playback_2"]
        latency = host.latency_samples
        capture = ports["system:capture_1"]["capture"][1]
        playback = ports["system:playback_1"]["playback"][1]
        assert ports[f"{name}:out_L"]["capture"] == (capture + latency,) * 2  # what a DAW recording it compensates
        assert ports[f"{name}:in_L"]["playback"] == (playback + latency,) * 2
        assert host.device_latency_s == pytest.approx((capture + playback) / SAMPLE_RATE)
    finally:
        host.stop()


def test_mono_ports(jack_server, gain_model):
    name = _name()
    host = _host(gain_model, channels=1, client_name=name)
    host.start()
    try:
        ports = jack_lsp(jack_server.name)
        assert sorted(p for p in ports if p.startswith(name + ":")) == [f"{name}:in", f"{name}:out"]
        assert ports[f"{name}:out"]["connections"] == ["system:playback_1", "system:playback_2"]  # both speakers
    finally:
        host.stop()


def test_audio_flows_through_the_client_with_the_published_delay(jack_server, gain_model):
    """player -> client -> recorder in one JACK cycle: the recording is the separator's stream exactly."""
    from fewshot_sep.realtime.engine import StreamingSeparator

    name = _name()
    vector = gain_vector(0.5, gain_model.conditioning_dim)
    host = _host(gain_model, client_name=name, autoconnect=False)
    signal = noise(1.0, SAMPLE_RATE, 2, seed=4)
    host.start()
    try:
        player = PlayRecord(jack_server.name, host, signal, tail=4 * PERIOD + 8192, host_client=name)
        try:
            time.sleep(0.2)
            player.play()
            player.wait(timeout=30)
        finally:
            player.close()
        assert _wait_for(lambda: host.audio.callbacks > 0)
    finally:
        summary = host.stop()
    assert summary.errors == 0, summary.last_error
    assert summary.callbacks >= SAMPLE_RATE // PERIOD and summary.backend == "jack"
    n, latency = signal.shape[1], host.latency_samples
    stream_in = np.zeros((2, player.host_offset + n + 2 * latency), np.float32)
    stream_in[:, player.host_offset : player.host_offset + n] = signal
    offline = StreamingSeparator(gain_model, SAMPLE_RATE, 2, vector).process_offline(stream_in)
    expected = offline[:, player.host_offset : player.host_offset + n + latency]
    np.testing.assert_allclose(player.recording[:, : expected.shape[1]], expected, atol=1e-5)
    # The delay is the published one (gain 0.5 of white noise: one sharp correlation peak).
    lags = np.arange(latency - 2 * PERIOD, latency + 2 * PERIOD + 1)
    head = signal[0, : SAMPLE_RATE // 4]
    scores = [float(np.dot(player.recording[0, lag : lag + head.size], head)) for lag in lags]
    assert int(lags[int(np.argmax(scores))]) == latency


def test_process_callback_survives_a_failing_engine(jack_server, gain_model):
    """An engine that raises: JACK keeps calling the callback (it never raised), errors are counted."""
    name = _name()
    host = _host(gain_model, client_name=name, autoconnect=False)
    host.start()
    try:
        class Broken:
            latency_samples = host.latency_samples
            nonfinite_outputs = 0

            def process_block(self, block, out=None):
                raise RuntimeError("model exploded")

        host.audio.engine = Broken()
        assert _wait_for(lambda: host.audio.errors >= 3)
        before = host.audio.callbacks
        assert _wait_for(lambda: host.audio.callbacks > before + 10), "JACK stopped calling the process callback"
        assert "model exploded" in host.audio.last_error
    finally:
        host.stop()


def test_live_jack_command(jack_server, tmp_path, gain_model, gain_model_dir, capsys):
    from fewshot_sep.cli import main

    name = _name()
    preset = make_gain_preset(tmp_path, gain_model, 0.5, name="half")
    rc = main(["live", "--jack", "--client-name", name, "--no-autoconnect", "--preset", str(preset),
               "--duration", "1.0", "--model", str(gain_model_dir)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"JACK client {name!r} on server {jack_server.name!r} (ports in_L, in_R, out_L, out_R)" in err
    assert f"{SAMPLE_RATE} Hz, block {PERIOD}" in err and "presets: [1 half]" in err
    assert "reported by the JACK server" in err and "errors in the audio callback: 0" in err
    assert "\x1b" not in err  # stderr is not a terminal: plain lines
    ran = int(err.split(" callbacks (")[0].rsplit(" ", 1)[1])
    assert ran >= 0.8 * SAMPLE_RATE / PERIOD


@pytest.mark.parametrize("args, message", [
    (["--samplerate", "44100"], f"runs at {SAMPLE_RATE} Hz with {PERIOD}-frame periods; leave out --samplerate"),
    (["--blocksize", "512"], f"runs at {SAMPLE_RATE} Hz with {PERIOD}-frame periods; leave out --blocksize"),
    (["--input", "1"], "--input sets up PortAudio and does not apply with --jack"),
    (["--client-name", "a:b"], "--client-name 'a:b' is invalid"),
])
def test_live_jack_usage_errors(jack_server, tmp_path, gain_model, gain_model_dir, capsys, args, message):
    from fewshot_sep.cli import main

    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    rc = main(["live", "--jack", "-p", str(preset), "--duration", "1", "--model", str(gain_model_dir), *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_jack_options_without_jack_are_usage_errors(tmp_path, gain_model, gain_model_dir, capsys):
    from fewshot_sep.cli import main

    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    rc = main(["live", "-p", str(preset), "--no-autoconnect", "--model", str(gain_model_dir)])
    assert rc == 2 and "--no-autoconnect applies only to the native JACK client: use it with --jack" in capsys.readouterr().err


def test_a_taken_client_name_is_refused(jack_server, gain_model):
    from fewshot_sep.utils.errors import UserError

    name = _name()
    first = _host(gain_model, client_name=name, autoconnect=False)
    first.start()
    try:
        with pytest.raises(UserError, match=f"a JACK client named {name!r} is already running"):
            _host(gain_model, client_name=name, autoconnect=False).start()
    finally:
        first.stop()


def test_no_server_is_a_clear_error(gain_model, monkeypatch):
    from fewshot_sep.utils.errors import UserError

    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"no-such-server-{uuid.uuid4().hex[:6]}")
    with pytest.raises(UserError, match="cannot connect to the JACK server 'no-such-server-.*start it first"):
        _host(gain_model).start()


def test_a_server_rate_the_engine_cannot_run_at_names_the_server_rate(tmp_path, gain_model, monkeypatch):
    from fewshot_sep.utils.errors import UserError

    server = start_jack_server(tmp_path, sample_rate=32000)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)
    try:
        host = _host(gain_model, client_name=_name())
        with pytest.raises(UserError, match=f"the JACK server '{server.name}' runs at 32000 Hz, which the separator "
                                            "cannot run at live .* one of \\(22050, 44100, 48000"):
            host.start()
        assert not host.running  # the client was closed again
    finally:
        stop_jack_server(server)


def test_server_shutdown_ends_the_run_with_a_note(tmp_path, gain_model, monkeypatch):
    server = start_jack_server(tmp_path)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)
    host = _host(gain_model, client_name=_name(), autoconnect=False)
    try:
        host.start()
        stop_jack_server(server)
        assert host._stop_event.wait(10), "the shutdown callback did not stop the run"
    finally:
        summary = host.stop()
        stop_jack_server(server)
    assert any("the JACK server shut down" in note for note in summary.notes)
    assert "the JACK server shut down" in summary.text()


def test_without_jack_client_installed(tmp_path, gain_model, gain_model_dir):
    """Importing and --help need no JACK-Client; --jack then says what to install (exit 2)."""
    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    code = (
        "import sys, importlib.abc\n"
        "class NoJack(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('jack', '_jack'):\n"
        "            raise ImportError('No module named jack (blocked)')\n"
        "sys.meta_path.insert(0, NoJack())\n"
        "import fewshot_sep.plugin_host, fewshot_sep.plugin_host.live.jack\n"
        "from fewshot_sep.cli import main\n"
        f"sys.exit(main(['live', '--jack', '-p', {str(preset)!r}, '--model', {str(gain_model_dir)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "live --jack needs the JACK-Client package" in proc.stderr and "pip install JACK-Client" in proc.stderr
    assert "Traceback" not in proc.stderr
