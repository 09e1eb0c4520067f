"""How long the client waits before retrying a 429 or a 5xx."""

from __future__ import annotations

from microservice_operator.kube.client import MAX_RETRY_WAIT, retry_wait


def test_without_retry_after_the_backoff_is_the_wait() -> None:
    assert retry_wait(None, 0.4, 0.0) == 0.4
    assert retry_wait("", 0.4, 0.0) == 0.4


def test_retry_after_is_a_floor_under_the_backoff() -> None:
    assert retry_wait("3", 0.2, 0.0) == 3.0
    assert retry_wait("1", 5.0, 0.0) == 5.0
    assert retry_wait("0", 0.8, 0.0) == 0.8


def test_a_date_or_garbage_in_retry_after_falls_back_to_the_backoff() -> None:
    assert retry_wait("Wed, 21 Oct 2026 07:28:00 GMT", 1.6, 0.0) == 1.6
    assert retry_wait("-5", 1.6, 0.0) == 1.6


def test_waits_are_capped() -> None:
    assert retry_wait("3600", 0.2, 0.0) == MAX_RETRY_WAIT
    assert retry_wait("3600", 0.2, 1.0) == MAX_RETRY_WAIT * 1.5


def test_jitter_stretches_the_wait_by_up_to_half() -> None:
    waits = [retry_wait("2", 0.2, j / 10) for j in range(11)]
    assert waits[0] == 2.0
    assert waits[-1] == 3.0
    assert waits == sorted(waits)
    assert len(set(waits)) == len(waits)
