"""`predict_probes`: one-step scenarios written to a temporary directory and predicted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from predict_builders import Predict, write_scenario

from harness.model.scenario import load_scenario
from harness.predict import Prediction, predict_scenario


@pytest.fixture
def predict_probes(tmp_path: Path) -> Predict:
    """Write a one-step scenario and return the prediction of each of its probes."""

    def run(**kwargs: Any) -> list[Prediction]:
        scenario = load_scenario(write_scenario(tmp_path, **kwargs))
        return [item.prediction for item in predict_scenario(scenario)]

    return run
