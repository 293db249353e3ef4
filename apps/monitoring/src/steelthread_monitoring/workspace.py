"""Every monitoring run is also saved to an Evidently workspace, so `evidently ui --workspace DIR` shows the
history of runs (one project per use case and model, one run per report) next to the per-run HTML files.

The workspace is Evidently's own local one (`evidently.ui.workspace.Workspace`): this module only picks the
project and adds the run's snapshots; the UI, the storage layout and the history views are Evidently's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from steelthread_monitoring.analysis import ReportContext

WORKSPACE_DIR = "evidently-workspace"
"""Default folder under the monitoring output folder (beside the per-run folders and `latest`)."""


def project_name(context: ReportContext) -> str:
    return f"steelthread {context.use_case}: {context.model_name or 'model'}"


def save_runs(workspace: Path, context: ReportContext, snapshots: list[Any]) -> list[str]:
    """Add the snapshots to the project of this use case and model (created on first use); their ids."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently.ui.workspace import Workspace

    workspace.mkdir(parents=True, exist_ok=True)
    ws = Workspace(str(workspace))
    name = project_name(context)
    found = [p for p in ws.search_project(name) if p.name == name]
    project = (
        found[0]
        if found
        else ws.create_project(
            name, description=f"Monitoring runs of {context.model_name} ({context.use_case})"
        )
    )
    return [str(ws.add_run(project.id, snapshot, include_data=False).id) for snapshot in snapshots]
