"""The services a qaloop installation runs: what `qaloop run all` and `qaloop migrate` start
and migrate, and what `qaloop demo` waits for. A service is installed when its package has
an `app.py` (an installation may leave one out).

Both `services.cli` and `services.demo` read this; neither imports the other for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = ["SERVICES", "installed_services", "is_installed", "service_port", "service_ports"]

SERVICES = ("audit", "feedback", "complaints", "reporting", "notifier", "workforce")


def is_installed(name: str) -> bool:
    return (Path(__file__).parent / name / "app.py").exists()


def installed_services() -> list[str]:
    return [name for name in SERVICES if is_installed(name)]


def service_port(settings: Settings, name: str) -> int:
    """The port a service listens on (`QALOOP_<NAME>_PORT`)."""
    return int(getattr(settings, f"{name}_port"))


def service_ports(settings: Settings) -> dict[str, int]:
    """Each installed service's port."""
    return {name: service_port(settings, name) for name in installed_services()}
