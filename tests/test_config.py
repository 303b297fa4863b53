"""Config files: TOML values reach the dataclasses with their types; unknown keys are one clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from voicecx.config import Config, config_with, load_config


def test_a_toml_file_changes_only_the_keys_it_names(tmp_path: Path):
    path = tmp_path / "voicecx.toml"
    path.write_text('[transcribe]\nbeam_size = 2\ngap_s = 1\nbatched_languages = ["en", "da"]\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.transcribe.beam_size == 2
    assert cfg.transcribe.gap_s == 1.0 and isinstance(cfg.transcribe.gap_s, float)
    assert cfg.transcribe.batched_languages == ("en", "da")
    assert cfg.transcribe.pad_s == Config().transcribe.pad_s and cfg.vad == Config().vad


def test_unknown_keys_and_bad_values_are_errors_naming_them(tmp_path: Path):
    with pytest.raises(ValueError, match=r"unknown config key transcribe\.'beam'"):
        config_with(Config(), {"transcribe": {"beam": 2}})
    with pytest.raises(ValueError, match="config section transcribe must be a table"):
        config_with(Config(), {"transcribe": 3})
    bad = tmp_path / "bad.toml"
    bad.write_text("[transcribe\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read config"):
        load_config(bad)
