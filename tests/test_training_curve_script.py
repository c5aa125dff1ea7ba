"""scripts/training_curve.py: stages continue each other; EMA runs get a raw-weights column."""

from script_helpers import load_script

HEADER = ("step,elapsed_s,episodes,lr,train_loss,train_sisdr,episodes_per_s,"
          "val_sisdri_median,val_sisdri_mean,val_episodes")


def _load_script():
    return load_script("training_curve")


def test_stages_continue_and_raw_column_appears_for_ema_runs(tmp_path, capsys):
    first, second = tmp_path / "stage1", tmp_path / "stage2"
    first.mkdir()
    second.mkdir()
    (first / "log.csv").write_text(HEADER + "\n0,10,0,,,,,0.5,1.0,64\n100,3600,1600,,,,,1.5,2.0,64\n")
    (second / "log.csv").write_text(HEADER + ",val_raw_sisdri_median\n"
                                    "0,5,0,,,,,1.4,2.1,64,1.4\n50,1800,800,,,,,2.25,2.6,64,1.9\n")
    assert _load_script().main([str(first), str(second)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("| raw weights' median (dB) |")
    # stage 1 has no raw score; stage 2's steps, episodes and hours continue from stage 1's last row
    assert lines[3] == "| stage1 | 100 | 1,600 | 1.00 | +1.50 (best) | +2.00 | 64 | – |"
    assert lines[5] == "| stage2 | 150 | 2,400 | 1.50 | +2.25 (best) | +2.60 | 64 | +1.90 |"


def test_runs_without_ema_keep_the_plain_table(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text(HEADER + "\n0,10,0,,,,,0.5,1.0,64\n")
    assert _load_script().main([str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("| episodes in val |") and lines[2] == "| run | 0 | 0 | 0.00 | +0.50 (best) | +1.00 | 64 |"
