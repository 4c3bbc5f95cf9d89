"""The stand-in as a fixture. End-to-end tests elsewhere can import it the same way:
`from tests.standin.conftest import api` in their own conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.standin import BotApiStandIn


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in
