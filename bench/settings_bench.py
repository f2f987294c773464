"""Settings for bench/edits.py: production settings plus one bench-only URL (bench/urls_bench.py).

The unconditional-update endpoint exists only here, to measure what the optimistic version check
costs; production code never routes to it.
"""

from residency.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
