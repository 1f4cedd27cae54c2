"""The default host rule pack: it loads, runs on the host collector's real series, and fires."""

from __future__ import annotations

import numpy as np
import psutil

from tests.alert.conftest import Rig
from watchkeeper.alert.packs import HOST_PACK, pack_files
from watchkeeper.alert.rule_files import FileGroup, load_rule_files
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest.host import HostCollector

FS = {"job": "watchkeeper", "instance": "h1", "device": "/dev/sda1", "fstype": "ext4"}


def pack() -> FileGroup:
    (group,) = load_rule_files(
        pack_files(default_rule_pack=True, host_collector=True), default_interval=60
    )
    return group


def test_the_pack_is_a_rule_file_of_the_default_tenant() -> None:
    group = pack()
    assert (group.tenant, group.file, group.group.name) == (
        "default",
        str(HOST_PACK),
        "watchkeeper-host",
    )
    names = {rule.name for rule in group.group.rules}
    assert {
        "HostFilesystemPredictedFull",
        "HostMemoryPressure",
        "HostLoadHigh",
        "HostCollectorDown",
    } <= names
    assert pack_files(default_rule_pack=False, host_collector=True) == []
    assert pack_files(default_rule_pack=True, host_collector=False) == []


def test_every_rule_evaluates_on_the_host_collectors_series_without_firing_on_a_healthy_host(
    rig: Rig,
) -> None:
    collector = HostCollector(
        lambda *_: None, rig.clock, 30, instance="h1", process=psutil.Process()
    )
    for _ in range(12):  # six minutes of readings, as the collector writes them
        rig.clock.advance(30)
        rig.store.append(rig.tenant, collector.collect(round(rig.clock.time() * 1000)))
    result = rig.evaluate(pack().group)
    assert result.errors == {}
    assert result.budget_error == ""
    firing = {a.rule_name for a in rig.alerts() if a.state in ("pending", "firing")}
    # This machine may be busy (CI shares two cores), but its collector is up.
    assert "HostCollectorDown" not in firing


def filesystem(rig: Rig, mountpoint: str, start: float, per_minute: float, minutes: int) -> None:
    end = rig.clock.time()
    stamps = np.array(
        [round((end - (minutes - 1 - i) * 60) * 1000) for i in range(minutes)], np.int64
    )
    avail = start - per_minute * np.arange(minutes, dtype=np.float64)
    labels = {**FS, "mountpoint": mountpoint}
    rig.store.append(
        rig.tenant,
        [
            SeriesSamples(
                labels_from_dict({"__name__": "node_filesystem_avail_bytes", **labels}),
                stamps,
                avail,
            ),
            SeriesSamples(
                labels_from_dict({"__name__": "node_filesystem_size_bytes", **labels}),
                stamps,
                np.full(minutes, 100e9),
            ),
        ],
    )


def test_a_filling_filesystem_fires_and_a_steady_one_does_not(rig: Rig) -> None:
    group = pack().group
    # /data loses 100 MB a minute with 18 GB left: full in three hours. /var stays put.
    filesystem(rig, "/data", 18e9 + 360 * 100e6, 100e6, 360)
    filesystem(rig, "/var", 40e9, 0.0, 360)
    rig.evaluate(group)
    assert rig.alert("HostFilesystemPredictedFull").state == "pending"
    rig.clock.advance(31 * 60)
    filesystem(rig, "/data", 18e9 + 31 * 100e6, 100e6, 32)
    filesystem(rig, "/var", 40e9, 0.0, 32)
    rig.evaluate(group)
    alert = rig.alert("HostFilesystemPredictedFull")
    assert alert.state == "firing"
    assert alert.labels["mountpoint"] == "/data"
    assert "predicted_crossing_at" in alert.annotations
