"""`steelthread-features apply|materialize` in-process against the session's local store."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from steelthread_features import store
from steelthread_features.definitions import FEATURE_SERVICE, JOIN_KEY, USE_CASE
from steelthread_features.features_cli import app


def _env(world) -> dict[str, str]:
    return {
        "STEELTHREAD_PROFILE": "local",
        "STEELTHREAD_TABLES_DIR": str(world.settings.tables_dir),
        "STEELTHREAD_FEAST_DIR": str(world.settings.feast_dir),
        "STEELTHREAD_PROJECT": world.settings.project,
    }


def test_apply_and_materialize_commands(world, make_requests) -> None:
    runner = CliRunner()
    applied = runner.invoke(app, ["apply"], env=_env(world))
    assert applied.exit_code == 0, applied.output
    assert FEATURE_SERVICE in applied.output
    assert "profile 'local'" in applied.output

    at = world.data.end - timedelta(days=3)
    result = runner.invoke(app, ["materialize", "--end", at.isoformat()], env=_env(world))
    assert result.exit_code == 0, result.output
    for view in USE_CASE.views:
        assert f"materialized {view.name}" in result.output
    assert f"loaded up to {at.isoformat()}" in result.output

    entity = int(world.data.table(USE_CASE.tables.events)[JOIN_KEY].iloc[-1])
    [vector] = store.online_vector(make_requests([entity]), settings=world.settings, as_of=at)
    assert vector.entity_id == entity
    assert vector.values[USE_CASE.views[0].served[0]] is not None


def test_materialize_rejects_start_after_end(world) -> None:
    result = CliRunner().invoke(
        app,
        ["materialize", "--end", "2026-01-01T00:00:00+00:00", "--start", "2026-02-01"],
        env=_env(world),
    )
    assert result.exit_code != 0
    assert "--start" in result.output
