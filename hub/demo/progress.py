"""How far ``hub demo`` got: the simulated days already published, recorded in
``HUB_HOME/demo/progress.json`` so that the next run goes on from there; ``--fresh`` starts
over."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hub.demo.options import DemoOptions
from hub.demo.screen import say
from hub.errors import ConfigError
from hub.settings import Settings


def load_progress(folder: Path, options: DemoOptions) -> int:
    """The simulated days a previous run published (0 for a new demo); refuses to go on
    with another district than the one the broker holds."""
    try:
        saved = json.loads((folder / "progress.json").read_text())
    except FileNotFoundError:
        return 0
    except ValueError:
        raise ConfigError(f"{folder / 'progress.json'} is damaged; run `hub demo --fresh` "
                          "to start over") from None
    ours = {"seed": options.seed, "families": options.families,
            "start": options.start.isoformat()}
    theirs = {k: saved.get(k) for k in ours}
    if theirs != ours:
        raise ConfigError(
            f"the demo in {folder} simulates another district (seed {theirs['seed']}, "
            f"{theirs['families']} families from {theirs['start']}); run it with those "
            "options to continue, or add --fresh to start over with an empty broker")
    return int(saved.get("days_done", 0))


def save_progress(folder: Path, options: DemoOptions, days_done: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "progress.json.tmp"
    tmp.write_text(json.dumps({"seed": options.seed, "families": options.families,
                               "start": options.start.isoformat(),
                               "days_done": days_done}, indent=1))
    tmp.replace(folder / "progress.json")


def start_over(settings: Settings, broker, folder: Path) -> None:
    """--fresh: an empty local broker, no worker state, no progress."""
    if settings.bootstrap_servers:
        raise ConfigError("--fresh empties the local broker, but HUB_BOOTSTRAP_SERVERS names "
                          "another one; delete its topics yourself, or unset it")
    if broker.stop():
        say("broker stopped, to start from scratch")
    for path in (broker.data_dir, settings.home / "worker", folder):
        if path.exists():
            shutil.rmtree(path)
            say(f"removed {path}")
