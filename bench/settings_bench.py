"""Settings for bench/edits.py: production settings plus bench-only URLs (bench/urls_bench.py).

The unconditional-update endpoint exists only here, to measure what the optimistic version check
costs; production code never routes to it. So does ``/bench/nohistory/...``: the real edit
endpoint without the history context (the bench also disables the history triggers while it
measures that path), to measure what recording history costs.
"""

from residency.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"

MIDDLEWARE = [
    "bench.urls_bench.BenchHistoryContextMiddleware"
    if name == "residency.history.HistoryContextMiddleware"
    else name
    for name in MIDDLEWARE  # noqa: F405
]
