"""The live console without an audio device: meters, the preset list, key feedback, plain lines
when the output is not a terminal, and the rate messages."""

from __future__ import annotations

import io

import numpy as np
import pytest

from plugin_helpers import gain_vector


class FakeStream:
    """Stands in for the PortAudio / JACK stream: runs nothing, reports a fixed set-up."""

    kind = "fake"

    def __init__(self, rate=44100, blocksize=256):
        self.rate, self.blocksize, self.running = rate, blocksize, False

    def prepare(self):
        return self.rate, self.blocksize

    def rate_refused(self, rate, err):
        return f"fake device at {rate} Hz: {err}"

    def start(self, audio, sample_rate, on_failure):
        self.running = True

    def stop(self):
        self.running = False

    device_latency_s = 0.005

    def describe(self):
        return "a fake device"


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def host(gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost

    vectors = [gain_vector(0.5, gain_model.conditioning_dim), gain_vector(0.2, gain_model.conditioning_dim)]
    host = LiveHost(vectors, model=gain_model, out=io.StringIO())
    host.stream = FakeStream()
    host.start()
    yield host
    host.stop()


def _block(host, x):
    indata = np.ascontiguousarray(x.T)
    host.audio.portaudio_callback(indata, np.empty_like(indata), indata.shape[0], None, None)


def test_meter_text():
    from fewshot_sep.plugin_host.live.console import meter

    assert meter(0.0) == "[........] -inf dB"
    assert meter(1.0) == "[########] CLIP"
    assert meter(0.5) == "[#######.] -6 dB"
    assert meter(0.001) == "[........] -60 dB" and meter(1e-5) == "[........] -100 dB"


def test_status_line_meters_show_the_peaks_since_the_last_line(host):
    x = np.zeros((2, 256), np.float32)
    x[0, 10] = 0.5
    _block(host, x)
    status = host.status_text()
    assert "in [#######.] -6 dB" in status  # the input's peak; the output is still the start-up silence
    assert "out [........] -inf dB" in status
    assert "in [........] -inf dB" in host.status_text()  # peaks are per line
    for _ in range(40):  # past the latency: the gain double's output is half the input
        _block(host, 0.5 * np.ones((2, 256), np.float32))
    assert "out [######..] -12 dB" in host.status_text()


def test_preset_list_marks_the_current_preset(host):
    console = host.console
    assert console.preset_list_text() == "presets: [1 vector 1]  2 vector 2"
    host.handle_key("2")
    assert console.preset_list_text() == "presets: 1 vector 1  [2 vector 2]"
    assert "presets: 1 vector 1  [2 vector 2]" in host.out.getvalue()  # shown when it changes


@pytest.mark.parametrize("key, feedback", [
    ("9", "key 9: there is no preset 9 (2 preset(s): keys 1-2)"),
    ("0", "key 0: there is no preset 0"),
    ("x", "key 'x' does nothing; keys: 1-9 preset"),
    ("\n", "key '\\n' does nothing"),
    ("+", "key +: mix is already 1.0 (1 = fully separated)"),
    ("h", "keys: 1-9 preset, n/p next/prev preset"),
])
def test_keys_that_do_nothing_say_so(host, key, feedback):
    before = (host.preset_index, host.separator.mode, host.mix, host.bypass)
    assert host.handle_key(key) is True
    assert feedback in host.out.getvalue()
    assert (host.preset_index, host.separator.mode, host.mix, host.bypass) == before


def test_mix_feedback_at_zero_and_while_bypassed(host):
    host.set_mix(0.0)
    host.handle_key("-")
    assert "key -: mix is already 0.0 (0 = dry)" in host.out.getvalue()
    host.handle_key("b")
    host.handle_key("+")
    assert "mix 0.1 is kept for when bypass is off (b)" in host.out.getvalue() and host.separator.mix == 0.0


def test_next_with_one_preset_says_so(gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost

    host = LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, out=io.StringIO())
    host.handle_key("n")
    assert "only one preset; give more with --preset" in host.out.getvalue()


def test_plain_lines_without_a_terminal_and_redraws_on_one(host):
    host.console.write_line("status", newline=False)
    assert host.out.getvalue().endswith("status\n") and "\x1b" not in host.out.getvalue()

    from fewshot_sep.plugin_host.live.console import LiveConsole

    terminal = Terminal()
    console = LiveConsole(host, terminal)
    console.write_line("status", newline=False)
    assert terminal.getvalue() == "\r\x1b[Kstatus"


def test_run_without_a_terminal_prints_plain_status_lines_and_a_summary(gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost

    out = io.StringIO()
    host = LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, out=out)
    host.stream = FakeStream()
    summary = host.run(duration=0.35, interactive=False, status_interval=0.1)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert text.startswith("live: a fake device, 44100 Hz, block 256, 2 ch")
    assert "presets: [1 vector 1]" in text
    assert text.count("preset 1/1 'vector 1' | isolate | mix 1.0 | in [") >= 2
    assert "errors in the audio callback: 0" in text and summary.errors == 0 and not host.running


def test_a_rate_the_engine_cannot_run_at_is_refused_before_any_device_opens(gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost
    from fewshot_sep.utils.errors import UserError

    host = LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, samplerate=32000,
                    out=io.StringIO())
    with pytest.raises(UserError, match=r"--samplerate is 32000 Hz, which the separator cannot run at live "
                                        r"\(sample rate 32000 Hz is not supported: use one of \(22050, 44100"):
        host.start()
    assert host.stream.stream is None



@pytest.mark.parametrize("width", [79, 100, 130])
def test_a_narrow_terminal_keeps_preset_meters_xruns_and_errors(host, width):
    full = host.status_text()
    assert len(full) > 130  # everything: meters with bars, the latency's split, the load's maximum
    line = host.status_text(width=width)
    assert len(line) <= width
    assert "'vector 1'" in line and "isolate" in line and "mix 1.0" in line
    assert "in " in line and " out " in line and "dB" in line
    assert line.endswith("xruns 0 | errors 0")


def test_columns_of_the_terminal_written_to(host):
    from fewshot_sep.plugin_host.live.console import LiveConsole

    assert LiveConsole(host, Terminal()).columns() > 0  # no file descriptor: the fallback width
