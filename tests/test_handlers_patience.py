"""Bot API calls Telegram fails for a passing reason are tried again; refusals are not."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from handlers.send import Patience, patiently

QUICK = Patience(attempts=3, first_wait=0.0, longest_wait=5.0)


class Flaky:
    """A call that raises the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


async def test_passing_failures_are_tried_again_until_the_call_goes_through() -> None:
    call = Flaky(NetworkError("Bad Gateway"), TimedOut())
    assert await patiently(call, QUICK) == "sent"
    assert call.calls == 3


async def test_a_429_is_waited_out_as_telegram_asks() -> None:
    call = Flaky(RetryAfter(0))
    assert await patiently(call, QUICK) == "sent"
    assert call.calls == 2


async def test_a_429_longer_than_a_handler_may_wait_is_given_up_at_once() -> None:
    call = Flaky(RetryAfter(60))
    with pytest.raises(RetryAfter):
        await patiently(call, QUICK)
    assert call.calls == 1


@pytest.mark.parametrize("refusal", [BadRequest("message is too long"), Forbidden("blocked")])
async def test_refusals_are_never_tried_again(refusal: Exception) -> None:
    call = Flaky(refusal)
    with pytest.raises(type(refusal)):
        await patiently(call, QUICK)
    assert call.calls == 1


async def test_the_last_failure_is_raised_after_every_attempt() -> None:
    call = Flaky(*(NetworkError("Bad Gateway") for _ in range(5)))
    with pytest.raises(NetworkError):
        await patiently(call, QUICK)
    assert call.calls == QUICK.attempts
