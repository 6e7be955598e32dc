"""`CutoffMemo` on its own: trusted only while its subscription shows signs of life."""

from __future__ import annotations

from jwtkeep.adapters.redis.cutoff_memo import MAX_APPS, CutoffMemo


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_trusted_before_a_subscription() -> None:
    memo = CutoffMemo(monotonic=Monotonic())
    memo.put("web", None, memo.generation)
    assert memo.get("web") == (False, None)


def test_silence_longer_than_the_bound_forgets_everything() -> None:
    clock = Monotonic()
    memo = CutoffMemo(silence=1.0, monotonic=clock)
    memo.restart()
    memo.put("web", 5.0, memo.generation)
    clock.now += 1.0
    assert memo.get("web") == (True, 5.0)
    clock.now += 0.5
    assert memo.get("web") == (False, None)
    memo.beat()  # a late sign of life does not bring back what silence dropped
    assert memo.get("web") == (False, None)


def test_a_change_or_a_loss_refuses_values_read_before_it() -> None:
    memo = CutoffMemo(monotonic=Monotonic())
    memo.restart()
    for event in (memo.changed, memo.lost, memo.restart):
        generation = memo.generation
        event()
        memo.beat()
        memo.put(None, None, generation)
        assert memo.get(None) == (False, None)


def test_the_memo_is_bounded() -> None:
    memo = CutoffMemo(monotonic=Monotonic())
    memo.restart()
    for n in range(MAX_APPS + 5):
        memo.put(f"app-{n}", float(n), memo.generation)
    assert memo.get(f"app-{MAX_APPS + 4}") == (True, float(MAX_APPS + 4))
    assert memo.get("app-0") == (False, None)
