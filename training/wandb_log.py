"""Weights & Biases logging of ``qenv train`` runs (offline unless a key is given).

Mode: ``online`` when an API key is given (``--wandb-key``), else the experiment's
``wandb.mode`` (``offline`` by default; ``disabled`` turns W&B off). The environment
variable ``WANDB_MODE`` set by the user wins over the experiment's mode (W&B's own
convention), except that a key always means online. Offline runs land in
``<storage>/wandb/offline-run-*`` and can be uploaded later with
``wandb sync <storage>/wandb/offline-run-*``.

The key is handed to ``wandb.init`` through ``wandb.Settings(api_key=...)`` only: it is
never put in the process environment (where Ray workers would inherit it), in the
run's config, or in any file the run writes (W&B keeps it out of its own logs). A
resumed run (``--resume``) continues the same W&B run: its id is kept in
``<storage>/wandb_run_id``.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

#: File in the run directory holding the W&B run id (for ``--resume``).
RUN_ID_FILE = "wandb_run_id"


def wandb_mode(configured: str, key: str | None) -> str:
    """The W&B mode: online with a key, else ``$WANDB_MODE``, else ``configured``."""
    if key:
        return "online"
    env = os.environ.get("WANDB_MODE", "").strip().lower()
    if env in ("offline", "online", "disabled", "dryrun"):
        return "offline" if env == "dryrun" else env
    return configured


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numeric leaves of a nested mapping as ``{"a/b": value}``."""
    out: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "/"))
        elif isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, int | float):
            f = float(value)
            if math.isfinite(f):
                out[name] = f
        else:
            try:  # numpy scalars
                f = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(f):
                out[name] = f
    return out


class WandbLogger:
    """One W&B run per ``qenv train`` run directory; a no-op when disabled.

    Args:
        run_dir: the run's storage path (W&B files go to ``run_dir/wandb``).
        project, run_name: W&B project and display name.
        config: the resolved experiment (logged as the run's config).
        mode: ``offline``, ``online`` or ``disabled`` (see :func:`wandb_mode`).
        key: W&B API key (online), or None.
    """

    def __init__(
        self,
        run_dir: str | Path,
        project: str,
        run_name: str,
        config: Mapping[str, Any],
        mode: str,
        key: str | None = None,
    ) -> None:
        self.mode = mode
        self.run: Any = None
        if mode == "disabled":
            return
        # W&B advertises its LLM tracer when a module named "agents" is imported (ours is).
        os.environ.setdefault("WANDB_DISABLE_WEAVE", "true")
        import wandb

        root = Path(run_dir)
        id_file = root / RUN_ID_FILE
        # A fresh id for a new run (an identifier, not a random draw of the experiment).
        run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:12]
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True)
        if key:
            settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, api_key=key)
        self.run = wandb.init(
            project=project,
            name=run_name,
            id=run_id,
            resume="allow",
            dir=str(root),
            mode=cast(Literal["online", "offline", "disabled"], mode),
            config=dict(config),
            settings=settings,
        )
        id_file.write_text(run_id + "\n")

    @property
    def directory(self) -> str | None:
        """The local directory of the W&B run (None when disabled)."""
        return None if self.run is None else str(self.run.dir)

    def log(self, row: Mapping[str, Any], step: int) -> None:
        """Log the numeric leaves of ``row`` at ``step`` (the training iteration)."""
        if self.run is not None:
            self.run.log(flatten(row), step=step)

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Log a table (e.g. the evaluation table)."""
        if self.run is None:
            return
        import wandb

        self.run.log({name: wandb.Table(columns=list(columns), data=[list(r) for r in rows])})

    def summary(self, values: Mapping[str, Any]) -> None:
        """Set the run's summary values (numeric leaves of ``values``)."""
        if self.run is not None:
            for key, value in flatten(values).items():
                self.run.summary[key] = value

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


__all__ = ["RUN_ID_FILE", "WandbLogger", "flatten", "wandb_mode"]
