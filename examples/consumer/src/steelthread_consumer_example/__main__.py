"""`python -m steelthread_consumer_example --url URL`: send the example requests and print the answers.

The requests (requests.json), the models that check them and the names printed (the entity key, the score)
are those of the API the client calls (`client.API_USE_CASE`, the credit example), whatever
`STEELTHREAD_USECASE` says here. The API key is read from STEELTHREAD_API_KEY (never from the command line,
where `ps` would show it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib.resources import files

import httpx

from steelthread_consumer_example.client import ApiClient, ApiError, credit_api
from steelthread_contracts.api import PredictionRequestBase
from steelthread_contracts.settings import exit_on_unknown_variables


def example_requests() -> list[PredictionRequestBase]:
    raw = files("steelthread_consumer_example").joinpath("requests.json").read_text()
    model = credit_api().request
    return [model.model_validate(item) for item in json.loads(raw)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steelthread-consumer-example")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    exit_on_unknown_variables()
    key = os.environ.get("STEELTHREAD_API_KEY")
    if not key:
        print("error: set STEELTHREAD_API_KEY to one of the server's keys", file=sys.stderr)
        return 2
    models = credit_api()
    try:
        with ApiClient(args.url, key) as client:
            for request in example_requests():
                answer = client.predict(request)
                print(
                    f"{answer.request_id}: {models.join_key} {getattr(request, models.join_key)} "
                    f"{models.score_field}={getattr(answer, models.score_field):.3f} "
                    f"decision={answer.decision.value} "
                    f"model={answer.model_name}:{answer.model_version} mode={answer.mode.value}"
                    + (f" degraded ({answer.degraded_reason})" if answer.degraded else "")
                )
    except ApiError as exc:
        print(f"error: server refused the request: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
