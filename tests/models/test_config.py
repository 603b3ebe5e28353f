"""One dict round-trip (`ConfigDictMixin`) for MambaConfig, HeadConfig and MarkovConfig."""

from __future__ import annotations

import json

import pytest

from genomamba.errors import ConfigError
from genomamba.models import HeadConfig, MambaConfig, MarkovConfig
from genomamba.models.config import ConfigDictMixin

CONFIGS = [
    MambaConfig(d_model=40, n_layer=3, bidirectional=True, dt_rank=None),
    HeadConfig(num_classes=3, class_names=["a", "b", "c"], window=64, freeze="last_k", unfreeze_last_k=1),
    MarkovConfig(k=4, alpha=0.5, both_strands=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: type(c).__name__)
def test_round_trip_through_json(config):
    assert isinstance(config, ConfigDictMixin)
    d = json.loads(json.dumps(config.to_dict()))
    assert type(config).from_dict(d) == config


def test_derived_fields_are_not_written_but_accepted():
    cfg = MambaConfig(d_model=40)
    assert "d_inner" not in cfg.to_dict() and cfg.to_dict()["dt_rank"] == 3
    assert MambaConfig.from_dict({**cfg.to_dict(), "d_inner": 80}) == cfg


@pytest.mark.parametrize("cls", [MambaConfig, HeadConfig, MarkovConfig], ids=lambda c: c.__name__)
def test_unknown_key_names_key_and_file(cls, tmp_path):
    src = tmp_path / "config.json"
    with pytest.raises(ConfigError, match=rf"^{src}: unknown {cls.__name__} keys: \['wndow'\]"):
        cls.from_dict({"wndow": 1}, source=src)
    with pytest.raises(ConfigError, match=rf"^unknown {cls.__name__} keys"):
        cls.from_dict({"wndow": 1})
    with pytest.raises(ConfigError, match=rf"^{src}: {cls.__name__} must be a JSON object"):
        cls.from_dict([1, 2], source=src)


@pytest.mark.parametrize("cls,bad", [(MambaConfig, {"dt_min": "x"}), (MambaConfig, {"n_layer": True}),
                                     (MambaConfig, {"dt_rank": 1.5}), (HeadConfig, {"hidden_dim": "x"}),
                                     (HeadConfig, {"window": None}), (MarkovConfig, {"alpha": "x"})],
                         ids=["mamba-str", "mamba-bool", "mamba-float", "head-str", "head-null", "markov-str"])
def test_wrong_type_is_a_config_error_naming_the_file(cls, bad, tmp_path):
    src = tmp_path / "config.json"
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=rf"^{src}: {cls.__name__}.{key} must be") as exc:
        cls.from_dict(bad, source=src)
    assert "\n" not in str(exc.value)
