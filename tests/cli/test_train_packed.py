"""genomamba-train with data.pack=true and data.whole_records=true: the batches (with seq_idx) go
through a fast_dev_run end to end on the bundled phage."""

from __future__ import annotations

import pytest

from genomamba.cli.train import train
from tests.helpers import compose_train

SMALL = ["data=tiny", "model=char_mamba_tiny", "model.config.d_model=16", "model.config.n_layer=1",
         "data.window=48", "data.batch_size=2", "logger=csv", "module.scheduler=null", "debug=fast_dev_run"]


@pytest.mark.parametrize("layout", ["data.pack=true", "data.whole_records=true"])
def test_fast_dev_run_packed_and_whole_records(tmp_path, layout):
    metrics = train(compose_train(SMALL + [layout], tmp_path))
    assert 1.0 < metrics["train/bpc"] < 4.0
