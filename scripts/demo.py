"""`make demo`: the whole path to production on embedded defaults, one timed step after another.

generate data -> Feast apply + materialise -> train, gate, register -> promote (staging, champion) ->
serve in skeleton mode -> replay requests while the flag moves skeleton -> shadow -> canary -> live ->
post labels as they arrive -> inject a drift scenario -> run the monitoring job -> evaluate the alert rules
-> batch-score every event -> summary. Nothing needs a server: DuckDB, SQLite, MLflow on SQLite and local
folders under var/demo.

The use case is the active one (STEELTHREAD_USECASE, `make demo USECASE=...`): requests, labels and the
drift scenario come from its declaration, so the demo names no field of any use case.

Size and place: STEELTHREAD_DEMO_ROWS (default 12000), STEELTHREAD_DEMO_REPLAY (requests per mode, 150),
STEELTHREAD_DEMO_DIR (default var/demo). Every run starts from an empty folder, so a second run works too.

`--stack` (`make demo STACK=1`) runs the same loop against the compose stack (`make stack-up`) instead of
embedded stores: the production profile, the Feast registry in its PostgreSQL and the online store in its
Redis, training and registration on its MLflow server, its serving container (`--serving-url`, moved through
the modes by rewriting the flag file it mounts), the prediction log in its PostgreSQL. Endpoints are the
ordinary settings, defaulting to the stack's published ports (`STACK_DEFAULTS`): export any of them to point
the demo elsewhere. The stack keeps its state between runs, so each run tags its request ids.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from steelthread_contracts import ServingMode
from steelthread_contracts.cli import one_line
from steelthread_contracts.settings import exit_on_unknown_variables
from steelthread_contracts.usecase import active

ROOT = Path(__file__).resolve().parents[1]
console = Console()
USE_CASE = active()
DRIFT_SCENARIO = USE_CASE.demo_scenario or next(iter(USE_CASE.scenarios))

STACK_DEFAULTS: dict[str, str] = {
    "STEELTHREAD_PROFILE": "production",
    "STEELTHREAD_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
    "STEELTHREAD_REDIS_URL": "redis://127.0.0.1:16379/0",
    "STEELTHREAD_POSTGRES_DSN": "postgresql://steelthread:steelthread@127.0.0.1:15432/feast",
    "STEELTHREAD_PREDICTION_LOG_DSN": "postgresql://steelthread:steelthread@127.0.0.1:15432/steelthread",
    "STEELTHREAD_MODELS_DIR": str(ROOT / "var" / "models"),
    "STEELTHREAD_AUDIT_DIR": str(ROOT / "var" / "audit"),
    "STEELTHREAD_FLAGS_PATH": str(ROOT / "var" / "stack" / "flags" / "flags.json"),
    "STEELTHREAD_PSEUDONYM_KEY": "laptop-stack-only-not-a-secret",
}
"""The compose stack (infra/compose.yaml) as seen from the host: its published ports, the model packages and
the flag file it mounts from var/. `--stack` uses each unless the environment already sets it;
tests/infra/test_infra_compose.py keeps these in step with compose.yaml."""
STACK_SERVING_URL = "http://127.0.0.1:8000"


@dataclass
class Demo:
    root: Path
    rows: int
    per_mode: int
    api_key: str = field(default_factory=lambda: f"demo-{secrets.token_hex(16)}")
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    url: str = ""
    flags: Path = Path()
    data: Any = None
    drifted: Any = None
    version: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    gate_passed: bool = False
    answers: list[dict[str, Any]] = field(default_factory=list)
    mode_history: list[tuple[str, int, int]] = field(default_factory=list)
    labels_posted: int = 0
    monitor: Any = None
    fired: dict[str, str] = field(default_factory=dict)
    """Each alert that fired and its runbook URL, as promtool rendered it."""
    batch: dict[str, Any] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)
    log_dsn: str | None = None
    """The stack's prediction log (PostgreSQL); None: the JSON-lines files the demo's own server writes."""
    run_tag: str = ""
    """Appended to every request id against the stack, whose log keeps earlier runs' (same-seed) ids."""

    @property
    def env(self) -> dict[str, str]:
        return {"STEELTHREAD_DATA_DIR": str(self.root)}

    @property
    def on_stack(self) -> bool:
        return self.log_dsn is not None

    def request_ids(self) -> list[str]:
        return [a["request_id"] for a in self.answers]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def d_keys(metrics: Any) -> set[str]:
    """The headline metrics the demo prints for the baseline too (the first two the task reports)."""
    return set([k for k, v in asdict(metrics).items() if isinstance(v, float)][:2])


def requests_from(frame: pd.DataFrame, suffix: str = "") -> list[dict[str, Any]]:
    """API requests (JSON bodies) from rows of the use case's events table."""
    tables, key = USE_CASE.tables, USE_CASE.entity.join_key
    out = []
    for row in frame.to_dict(orient="records"):
        body: dict[str, Any] = {"request_id": f"{row[tables.request_id]}{suffix}", key: int(row[key])}
        for spec in USE_CASE.request_fields:
            value = row[spec.name]
            body[spec.name] = float(value) if spec.kind == "number" else value
            if spec.storage == "int64":
                body[spec.name] = int(value)
        out.append(body)
    return out


class Client:
    """The demo's consumer: plain JSON over httpx, so it works for any use case's API."""

    def __init__(self, url: str, api_key: str, timeout: float = 5.0) -> None:
        self.http = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if not response.is_success:
            raise RuntimeError(
                f"{response.request.url.path} answered {response.status_code}: {response.text}"
            )
        body: dict[str, Any] = response.json()
        return body

    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.http.post("/v1/predictions", json=body))

    def feedback(self, request_id: str, label: float | int | str) -> None:
        observed_at = datetime.now(UTC).isoformat()
        body = {"request_id": request_id, "observed_label": label, "observed_at": observed_at}
        self._json(self.http.post("/v1/feedback", json=body))

    def mode(self) -> ServingMode:
        return ServingMode(self._json(self.http.get("/v1/model"))["mode"])


# --- steps -----------------------------------------------------------------------------------------


def generate_data(d: Demo) -> str:
    from steelthread_features.generator import generate, write

    d.data = generate(d.rows, seed=7, end=d.now)
    write(d.data, d.root / "data")
    d.drifted = generate(d.rows, seed=7, scenario=DRIFT_SCENARIO, end=d.now)
    return f"{d.rows} {USE_CASE.tables.events} of use case {USE_CASE.name!r}; labels arrive later"


def feature_store(d: Demo) -> str:
    from steelthread_features import store
    from steelthread_features.settings import FeatureSettings

    settings = FeatureSettings()
    store.apply(settings)
    store.materialize(d.now, settings=settings)
    where = "registry in PostgreSQL, Redis online" if d.on_stack else "DuckDB offline, SQLite online"
    return f"{USE_CASE.feature_service} applied ({where}) and materialised up to now"


def train(d: Demo) -> str:
    from steelthread_training.pipeline import run_training
    from steelthread_training.settings import TrainingSettings

    # The generator writes every outcome up front; the demo trains on all of them (a larger, steadier test
    # set for the gate) and later replays outcomes to /v1/feedback as if they were arriving.
    outcome = run_training(TrainingSettings())
    d.version = outcome.registered.version
    d.gate_passed = outcome.registered.gate_passed
    lgbm, baseline = outcome.candidate.evaluation.metrics, outcome.candidate.baseline_eval.metrics
    d.metrics = {f"lightgbm {k}": float(v) for k, v in asdict(lgbm).items() if isinstance(v, int | float)}
    d.metrics |= {
        f"baseline {k}": float(v)
        for k, v in asdict(baseline).items()
        if isinstance(v, float) and k in d_keys(lgbm)
    }
    verdict = "passed" if d.gate_passed else "FAILED"
    return f"model version {d.version} registered; gate {verdict}"


def promote(d: Demo) -> str:
    from steelthread_training.promotion import Registry, promote
    from steelthread_training.settings import TrainingSettings

    if not d.gate_passed or d.version is None:
        return "gate failed: nothing promoted, the skeleton keeps answering"
    settings = TrainingSettings()
    registry = Registry(settings)
    promote(registry, settings, d.version, "staging", "demo: gate passed")
    promote(registry, settings, d.version, "champion", "demo: staging smoke test passed")
    published = settings.models_dir
    return f"version {d.version}: challenger -> staging -> champion, published to {published}"


def start_serving(d: Demo) -> str:
    d.flags = d.root / "flags.json"
    shutil.copy(ROOT / "apps" / "serving" / "flags.json", d.flags)
    port = free_port()
    env = os.environ | d.env | {"STEELTHREAD_API_KEYS": d.api_key, "STEELTHREAD_FLAGS_PATH": str(d.flags)}
    log = d.stack.enter_context((d.root / "serving.log").open("wb"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "steelthread_serving.cli", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    d.stack.callback(lambda: (proc.terminate(), proc.wait(timeout=30)))
    d.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"error: the serving app exited; see {d.root / 'serving.log'}")
        try:
            if httpx.get(f"{d.url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("error: the serving app was not ready after 90 s")
        time.sleep(0.1)
    return f"ready at {d.url} in skeleton mode"


def use_stack_serving(d: Demo, url: str) -> str:
    """Drive the stack's serving container: its flag file (mounted from the host) and its API key."""
    from steelthread_serving.settings import ServingSettings

    settings = ServingSettings()
    d.flags, d.url = settings.flags_path, url.rstrip("/")
    d.api_key = settings.api_keys[0].get_secret_value()
    from steelthread_serving.flags import set_flags

    set_flags(d.flags, ServingMode.SKELETON)
    deadline = time.monotonic() + 120  # the container swaps to the new champion within its poll interval
    with Client(d.url, d.api_key) as client:
        while True:
            try:
                model = client.http.get("/v1/model").json()
                if str(model.get("champion", {}).get("version")) == str(d.version) or not d.gate_passed:
                    break
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the stack's serving at {d.url} did not load version {d.version} in 120 s"
                )
            time.sleep(0.5)
    return f"the stack's serving at {d.url} loaded version {d.version}; skeleton mode"


def _switch(d: Demo, client: Client, mode: ServingMode, fraction: float | None = None) -> None:
    from steelthread_serving.flags import set_flags

    set_flags(d.flags, mode, fraction)
    deadline = time.monotonic() + 10
    while client.mode() is not mode:
        if time.monotonic() > deadline:
            raise SystemExit(f"error: the server did not switch to {mode.value}")
        time.sleep(0.05)


def replay(d: Demo) -> str:
    events = getattr(d.data, USE_CASE.tables.events)
    recent = events.sort_values(USE_CASE.tables.event_time).tail(4 * d.per_mode)
    requests = requests_from(recent, suffix=d.run_tag)
    plan = [
        (ServingMode.SKELETON, None),
        (ServingMode.SHADOW, None),
        (ServingMode.CANARY, 0.3),
        (ServingMode.LIVE, None),
    ]
    with Client(d.url, d.api_key, timeout=10) as client:
        for i, (mode, fraction) in enumerate(plan):
            _switch(d, client, mode, fraction)
            chunk = requests[i * d.per_mode : (i + 1) * d.per_mode]
            answers = [client.predict(r) for r in chunk]
            d.answers += answers
            by_model = sum(a["model_name"] != "skeleton" for a in answers)
            d.mode_history.append((mode.value, len(answers), by_model))
    return " -> ".join(f"{m} ({n}, model answered {k})" for m, n, k in d.mode_history)


def post_labels(d: Demo) -> str:
    tables = USE_CASE.tables
    labels = getattr(d.data, tables.labels).set_index(tables.request_id)[tables.label]
    with Client(d.url, d.api_key) as client:
        for answer in d.answers:
            source = answer["request_id"].removesuffix(d.run_tag)
            if source in labels.index:
                value = labels[source]
                client.feedback(answer["request_id"], value.item() if hasattr(value, "item") else value)
                d.labels_posted += 1
    return f"{d.labels_posted} outcomes posted to /v1/feedback"


def inject_drift(d: Demo) -> str:
    events = getattr(d.drifted, USE_CASE.tables.events)
    drifted = events.sort_values(USE_CASE.tables.event_time).tail(2 * d.per_mode)
    with Client(d.url, d.api_key, timeout=10) as client:
        d.answers += [client.predict(r) for r in requests_from(drifted, suffix=f"-drift{d.run_tag}")]
    return f"{len(drifted)} requests from the {DRIFT_SCENARIO!r} scenario sent in live mode"


def monitor(d: Demo) -> str:
    from steelthread_features.monitoring import recompute
    from steelthread_monitoring.job import RunOptions, run_monitoring

    d.stack.close()  # stop the server: SIGTERM flushes the prediction log
    if d.on_stack:
        wait_until_stored(d)  # the stack's server writes its log in batches, off the request path
    if not d.gate_passed:
        return "skipped: no champion to monitor (the gate refused the model)"
    from steelthread_training.settings import TrainingSettings

    outcome = run_monitoring(
        RunOptions(
            window=timedelta(hours=2),
            log_dir=d.root / "prediction-log",
            feedback_dir=d.root / "feedback",
            log_dsn=d.log_dsn,
            out_dir=d.root / "monitoring",
            models_dir=TrainingSettings().models_dir,
            textfile=d.root / "monitoring" / "steelthread.prom",
            min_labels=50,
            offline_features=recompute,  # training/serving skew: recompute a sample offline
        )
    )
    d.monitor = outcome
    return f"exit code {int(outcome.exit_code)}; report {outcome.run_dir / 'report.html'}"


def alerts(d: Demo) -> str:
    from steelthread_monitoring.alerts import evaluate

    if d.monitor is None:
        return "skipped: the monitoring job did not run"
    if shutil.which("promtool") is None:
        # `make demo` tried to install it (scripts/ensure-tools.sh --best-effort); where it could not, the
        # rest of the demo still counts: the job's own findings are in its summary.json.
        return (
            "skipped: promtool is not on PATH (needs Debian's prometheus package: `make tools` as root); "
            f"the monitoring job's findings are in {d.monitor.run_dir / 'summary.json'}"
        )
    d.fired = {a.name: a.runbook for a in evaluate(d.root / "monitoring" / "steelthread.prom")}
    return ", ".join(sorted(d.fired)) or "none fired"


def batch(d: Demo) -> str:
    """Score every generated event with the champion through the batch app's local engine (its CLI, as a
    scheduled job runs it): features joined point in time, the same package and decision rule."""
    if not d.gate_passed:
        return "skipped: no champion to score with"
    events, out = d.root / "data" / USE_CASE.tables.events, d.root / "batch"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "steelthread_batch",
            "score",
            "--input",
            str(events),
            "--output",
            str(out),
            "--json",
        ],
        env=os.environ | d.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"batch scoring failed: {(result.stderr or result.stdout).strip()[-300:]}")
    run = json.loads(result.stdout)
    d.batch = run
    return (
        f"{run['rows_in']} {USE_CASE.tables.events}: {run['scored']} scored, "
        f"{run['quarantined']} quarantined by version {run['model_version']} "
        f"({run['engine']} engine, {run['seconds']:.1f} s)"
    )


def stored(d: Demo) -> int:
    """How many of this run's answers the prediction log holds (PostgreSQL on the stack, else the files)."""
    if d.log_dsn is None:
        return sum(
            1
            for f in (d.root / "prediction-log").glob("predictions-*.jsonl")
            for line in f.read_text().splitlines()
            if line
        )
    import psycopg

    from steelthread_contracts.logstore import PREDICTION_TABLE

    with psycopg.connect(d.log_dsn, connect_timeout=5) as conn:
        query = f"SELECT count(*) FROM {PREDICTION_TABLE} WHERE request_id = ANY(%s)"  # noqa: S608
        row = conn.execute(query, (d.request_ids(),)).fetchone()
    return int(row[0]) if row else 0


def wait_until_stored(d: Demo, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while stored(d) < len(d.answers) and time.monotonic() < deadline:
        time.sleep(0.5)


STEPS: list[tuple[str, Callable[[Demo], str]]] = [
    ("generate data", generate_data),
    ("apply the Feast repo and materialise", feature_store),
    ("train, evaluate, gate, register", train),
    ("promote through staging to champion", promote),
    ("start serving (skeleton)", start_serving),
    ("replay requests through the modes", replay),
    ("post labels as they arrive", post_labels),
    ("inject a drift scenario", inject_drift),
    ("run the monitoring job", monitor),
    ("evaluate the alert rules", alerts),
    ("batch-score every event (local engine)", batch),
]


@contextmanager
def timed(name: str, timings: list[tuple[str, float, str]]) -> Iterator[list[str]]:
    console.print(f"[bold cyan]→[/] {name} …")
    note: list[str] = []
    started = time.perf_counter()
    yield note
    elapsed = time.perf_counter() - started
    timings.append((name, elapsed, note[0] if note else ""))
    console.print(f"  [green]✓[/] {note[0] if note else ''} [dim]({elapsed:.1f} s)[/]")


def summary(d: Demo, timings: list[tuple[str, float, str]], total: float) -> int:
    table = Table(title="steelthread demo: per step")
    table.add_column("step")
    table.add_column("s", justify="right")
    table.add_column("result")
    for name, seconds, note in timings:
        table.add_row(name, f"{seconds:.1f}", note)
    table.add_row("[bold]total[/]", f"[bold]{total:.1f}[/]", "")
    console.print(table)
    logged = stored(d)
    console.print(f"model: version {d.version}, gate {'passed' if d.gate_passed else 'failed'}")
    for name, value in sorted(d.metrics.items()):
        console.print(f"  {name}: {value:.4f}")
    console.print(f"requests answered: {len(d.answers)}; prediction-log records: {logged}")
    for name, _, note in timings:
        if note.startswith("skipped:"):
            console.print(f"skipped step: {name}: {note.removeprefix('skipped:').strip()}", soft_wrap=True)
    if d.fired:
        console.print("alerts that fired:")
        for alert, runbook in sorted(d.fired.items()):
            console.print(f"  {alert} -> {runbook}")
    report = d.monitor.run_dir / "report.html" if d.monitor else "-"
    if d.on_stack:
        from steelthread_training.settings import TrainingSettings

        console.print(
            f"where to look: MLflow UI {TrainingSettings().resolved_tracking_uri()}; serving {d.url}; "
            f"monitoring report {report}; Prometheus http://127.0.0.1:9090 and Grafana http://127.0.0.1:3000 "
            "(the stack's monitoring job exports its gauges on its next run)"
        )
    else:
        console.print(
            "where to look: MLflow UI `uv run mlflow ui --backend-store-uri "
            f"sqlite:///{(d.root / 'mlflow' / 'mlflow.db').resolve()}`; monitoring report {report}; "
            "Grafana at http://127.0.0.1:3000 after `make stack-up`"
        )
    return 0 if logged == len(d.answers) else 1


def check_stack(d: Demo, serving_url: str) -> str:
    """Every endpoint answers before anything is written: a stack that is not up is one line naming what
    did not answer (host and port only, no credentials), not a failure halfway through the loop.

    The endpoints are read through the settings that own them, as the apps read them (the prediction log's
    DSN validated as serving validates it); the log's DSN is kept for the steps that read the log."""
    from urllib.parse import urlsplit

    import psycopg
    import redis

    from steelthread_training.settings import TrainingSettings

    if not os.environ.get("STEELTHREAD_API_KEYS"):
        raise RuntimeError("set STEELTHREAD_API_KEYS to the key(s) the stack was started with")
    settings = TrainingSettings()
    tracking = settings.resolved_tracking_uri()
    if settings.prediction_log_dsn is None:
        raise RuntimeError("set STEELTHREAD_PREDICTION_LOG_DSN: the stack's prediction log (postgresql://)")
    log_dsn = settings.prediction_log_dsn.get_secret_value()
    checks: dict[str, tuple[str, Callable[[], object]]] = {
        "Redis": (
            settings.redis_url,
            lambda: redis.Redis.from_url(settings.redis_url, socket_timeout=5).ping(),
        ),
        "PostgreSQL (Feast registry)": (
            settings.postgres_dsn,
            lambda: psycopg.connect(settings.postgres_dsn, connect_timeout=5).close(),
        ),
        "PostgreSQL (prediction log)": (log_dsn, lambda: psycopg.connect(log_dsn, connect_timeout=5).close()),
        "serving": (serving_url, lambda: httpx.get(f"{serving_url}/readyz", timeout=5).raise_for_status()),
    }
    if tracking.startswith("http"):
        checks["MLflow"] = (tracking, lambda: httpx.get(f"{tracking}/health", timeout=5).raise_for_status())
    down = []
    for name, (url, check) in checks.items():
        try:
            check()
        except Exception:  # any failure to answer is the same finding: that part of the stack is not up
            parts = urlsplit(url)
            down.append(f"{name} at {parts.hostname}:{parts.port}")
    if down:
        raise RuntimeError(f"not answering: {', '.join(down)}; start the stack with `make stack-up`")
    d.log_dsn = log_dsn
    return f"{', '.join(sorted(checks))} answer"


def stack_steps(serving_url: str) -> list[tuple[str, Callable[[Demo], str]]]:
    """The same loop on the compose stack: its serving container answers instead of a server of the demo's."""
    serve = ("use the stack's serving (skeleton)", lambda d: use_stack_serving(d, serving_url))
    steps = [serve if step is start_serving else (name, step) for name, step in STEPS]
    return [("check the stack's endpoints", lambda d: check_stack(d, serving_url)), *steps]


def main(stack: bool = False, serving_url: str = STACK_SERVING_URL) -> int:
    exit_on_unknown_variables()
    root = Path(os.environ.get("STEELTHREAD_DEMO_DIR", ROOT / "var" / "demo")).resolve()
    if root.exists():
        shutil.rmtree(root)  # idempotent: every run starts from the same empty state
    root.mkdir(parents=True)
    os.environ["STEELTHREAD_DATA_DIR"] = str(root)
    d = Demo(
        root=root,
        rows=int(os.environ.get("STEELTHREAD_DEMO_ROWS", "12000")),
        per_mode=int(os.environ.get("STEELTHREAD_DEMO_REPLAY", "150")),
    )
    steps = STEPS
    if stack:
        for name, value in STACK_DEFAULTS.items():
            os.environ.setdefault(name, value)
        # The demo's generated tables are the offline store: Feast (and the batch job) read them from here.
        os.environ["STEELTHREAD_OFFLINE_STORE_URI"] = str(root / "data")
        d.run_tag = f"-{d.now:%Y%m%dT%H%M%S}"
        steps = stack_steps(serving_url)
    timings: list[tuple[str, float, str]] = []
    started = time.perf_counter()
    try:
        for name, step in steps:
            with timed(name, timings) as note:
                note.append(step(d))
    except Exception as exc:  # one readable line, not a traceback: the log files hold the details
        if isinstance(exc, ValidationError):  # a bad setting: the contracts' line names the setting
            message = one_line(exc)
        else:
            message = str(exc).splitlines()[0] if str(exc) else repr(exc)  # (`!r` would quote the line too)
        console.print(f"[bold red]error:[/] {escape(name)} failed: {escape(message)}", highlight=False)
        return 1
    finally:
        d.stack.close()
    status = summary(d, timings, time.perf_counter() - started)
    if not d.gate_passed:
        console.print("[bold red]the gate refused the model[/]: see the gate verdict in MLflow")
        return 1
    return status


def cli(
    stack: bool = typer.Option(
        False, "--stack", help="Run against the compose stack (make stack-up) instead of embedded stores."
    ),
    serving_url: str = typer.Option(STACK_SERVING_URL, help="The stack's serving API (with --stack)."),
) -> None:
    raise typer.Exit(main(stack, serving_url))


if __name__ == "__main__":
    typer.run(cli)
