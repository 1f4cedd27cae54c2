"""Rule packs shipped with Watchkeeper: ordinary rule files, loaded like `rule_files`."""

from __future__ import annotations

from pathlib import Path

HOST_PACK = Path(__file__).with_name("host.yaml")
"""Alerts on the built-in host collector's series (see the file's header)."""


def pack_files(*, default_rule_pack: bool, host_collector: bool) -> list[str]:
    """The packs to load with the operator's rule files: the host pack only where the host
    collector writes the series it reads (else its collector-down alert would always fire)."""
    return [str(HOST_PACK)] if default_rule_pack and host_collector else []
