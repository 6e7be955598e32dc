"""Root fixtures. Real servers are started by the plugins below, once per session."""

pytest_plugins = [
    "tests.support.redis_server",
    "tests.support.postgres_server",
]
