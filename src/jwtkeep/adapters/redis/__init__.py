"""The Redis token store: the production backend of the second layer (Redis 6.2+).

`RedisTokenStore.from_url(url, pool_size=50, timeout=0.25)` accepts

    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db]           (TLS; redis-py URL options)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]
    redis+cluster://[[user]:password@]host:port[,host:port...]

Behaviour: `store.py`; key layout and memory: `layout.py`; atomic steps: the `.lua`
scripts; URLs and connections: `connect.py`; the hot path: `multiplex.py`. Install with
`pip install 'jwtkeep[redis]'` (redis-py with hiredis).
"""

from jwtkeep.adapters.redis.store import RedisTokenStore

__all__ = ["RedisTokenStore"]
