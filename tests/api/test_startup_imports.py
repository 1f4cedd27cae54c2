"""An idle default server does not load the heavy libraries it has not used yet.

statsforecast (with pandas and statsmodels) and scikit-learn cost about 270 MB of resident
memory together; they are imported on the first forecast fit and the first incident, not by
importing the app, building it, starting it and running its start-up warm-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LAZY = ("pandas", "statsforecast", "statsmodels", "sklearn")

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path

    from fastapi.testclient import TestClient

    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(
        Path(sys.argv[1]), clock=SystemClock(), admin_password="footprint-0123456789"
    )
    app = create_app(result.settings, config_file=result.config_file)
    with TestClient(app) as client:
        assert client.get("/health/live").status_code == 200
        for thread in threading.enumerate():
            if thread.name == "warm-up":
                thread.join(120)
        detection = app.state.context.detection
        deadline = time.monotonic() + 60
        while detection.ticks < 1 and time.monotonic() < deadline:  # its first pass done
            time.sleep(0.05)
        loaded = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:]))
        print(json.dumps({"detection_passes": detection.ticks, "loaded": loaded}))
    """
)


@pytest.mark.slow
def test_default_server_starts_without_forecasting_or_classifier_libraries(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), *LAZY],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["detection_passes"] >= 1
    assert report["loaded"] == []
