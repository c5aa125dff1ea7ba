"""scripts/vorbis_quality.py: size and coding noise of the carried Vorbis copies per quality."""

from data_helpers import synthetic_dataset
from script_helpers import load_script


def test_smaller_files_at_the_higher_compression_level(tmp_path, capsys):
    data = synthetic_dataset(tmp_path / "data", n_works=3, seconds=4.0)
    assert load_script("vorbis_quality").main(["--data", str(data), "--stems", "6", "--quality", "0", "1"]) == 0
    rows = [line.strip("|").split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    sizes = {float(r[0]): float(r[1]) for r in rows if r[0].strip()[0].isdigit()}
    scores = {float(r[0]): float(r[2]) for r in rows if r[0].strip()[0].isdigit()}
    assert set(sizes) == {0.0, 1.0}
    assert 0 < sizes[1.0] < sizes[0.0]
    assert scores[0.0] > 15.0  # tones survive the codec well
