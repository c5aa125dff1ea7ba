"""`fewshot-sep data render|summary|validate` from the command line."""

from fewshot_sep.cli import main


def test_render_summary_validate_and_bad_input(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "render", "--out", str(out), "--hours", "0.004", "--no-corpus", "--quiet",
                 "--soundfonts", "timgm6mb"]) == 0
    assert (out / "manifest.csv").is_file()
    assert main(["data", "summary", str(out)]) == 0
    assert "hours per split" in capsys.readouterr().out
    assert main(["data", "validate", str(out), "--no-audio"]) == 0
    assert main(["data", "render", "--out", str(out), "--hours", "-1"]) == 2
    assert "--hours -1" in capsys.readouterr().err
    assert main(["data", "render", "--out", str(tmp_path / "e"), "--soundfonts", "musescore"]) == 2
    assert "reserved" in capsys.readouterr().err
    assert main(["data", "summary", str(tmp_path / "nothing")]) == 2

