"""Root fixtures. Real servers are started by the plugins below, once per session.

Hypothesis runs without its per-example deadline or its too-slow health check: both are
timings, which belong in benchmarks (CONVENTIONS "Tests"), and on a loaded 2-CPU CI
machine they fail an example for being slow, not wrong."""

from hypothesis import HealthCheck, settings

pytest_plugins = [
    "tests.support.redis_server",
    "tests.support.postgres_server",
]

settings.register_profile("jwtkeep", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("jwtkeep")
