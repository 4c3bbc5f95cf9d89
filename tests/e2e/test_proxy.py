"""compose.yaml's proxy in front of two `spbot run --webhook` instances on one
PostgreSQL, as it is deployed (issue 16): nginx with the very configuration
compose.yaml gives it, the instances as processes on this machine.

Telegram's posts go through the proxy to both instances. One instance is killed
while patients are talking: nginx passes what it was posting, and what comes after,
to the other, and every patient is answered, each update handled once and in order.

Runs where nginx is installed (Debian: `apt-get install nginx-light`) and
SPBOT_TEST_POSTGRES_URL is set; skips saying which is missing otherwise."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from sqlalchemy import text

from tests.e2e.process import PROJECT, PollWatchingStandIn, answers_health, webhook_instances
from tests.e2e.test_crash import Watch
from tests.e2e.test_referral_e2e import REFERRAL
from tests.e2e.test_webhook import SECRET, free_port
from tests.postgres import POSTGRES_URL, template

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
PATIENTS = 6
#: Long enough for the live instance to let go of what the dead one held: it is
#: dead once silent for 10 s, and that is looked at every fifth heartbeat (10 s).
PATIENCE = 60.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="two instances need SPBOT_TEST_POSTGRES_URL"),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed here"),
]


def proxy_config(where: Path, listen: int, ports: list[int]) -> Path:
    """nginx.conf around compose.yaml's own server block, pointed at `ports` on this
    machine instead of the containers bot1 and bot2."""
    compose = yaml.safe_load((PROJECT / "compose.yaml").read_text())
    site = compose["configs"]["nginx"]["content"].replace("$$", "$")  # compose's escape
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    for n, port in enumerate(ports, start=1):
        site = site.replace(f"server bot{n}:8080", f"server 127.0.0.1:{port}")
    assert "bot1" not in site and "bot2" not in site and f":{listen};" in site
    temp = where / "temp"
    temp.mkdir(parents=True)
    temp.chmod(0o777)  # nginx's workers run as nobody when it is started as root
    conf = where / "nginx.conf"
    temps = " ".join(f"{kind}_temp_path {temp / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    conf.write_text(
        f"daemon off;\nworker_processes 1;\npid {where / 'nginx.pid'};\n"
        f"error_log {where / 'error.log'} warn;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temps}\n{site}\n}}\n"
    )
    return conf


async def talk(
    api: PollWatchingStandIn, watch: Watch, chat: int, steps: list[tuple[str, str]], seed: int
) -> list[int]:
    """The patient takes `steps`, each once the bot has answered the last."""
    rng, sent = random.Random(seed), []
    for how, what in steps:
        await asyncio.sleep(rng.uniform(0.05, 0.3))  # reading it
        if how == "type":
            sent.append(api.send_text(chat, what, first_name="Alex"))
        else:
            sent.append(api.press(chat, what, first_name="Alex"))
        await watch.until_answered(api, chat, sent[-1], within=PATIENCE, what=f"{how} {what!r}")
    return sent


async def handled_by(port: int) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        for line in (await response.text()).splitlines():
            if line.startswith("spbot_updates_handled_total "):
                return float(line.split()[1])
    return 0.0


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    async with (await template()).copy("spbot_proxy") as url:
        yield url


@pytest.mark.timeout(600)
async def test_behind_the_proxy_an_instance_killed_loses_no_patient_nothing_doubled(
    shared_database: str, tmp_path: Path
) -> None:
    ports, listen = [free_port(), free_port()], free_port()
    proxy_url = f"http://127.0.0.1:{listen}/telegram"
    conf = proxy_config(tmp_path / "nginx", listen, ports)
    async with PollWatchingStandIn() as api:
        api.webhook_targets = [proxy_url]  # Telegram knows only the proxy
        settings = {"WEBHOOK_URL": proxy_url, "WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "WARNING",
                    "MEANING_SCREEN": "false"}  # fmt: skip
        bots = webhook_instances(
            api, tmp_path, database_url=shared_database, ports=ports, settings=settings
        )
        assert NGINX is not None
        proxy = await asyncio.create_subprocess_exec(
            NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", str(conf.parent / "error.log"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        watch = Watch(shared_database)
        try:
            await bots[0].cli("directory", "import", "--sample")
            for bot in bots:
                await bot.start()
            through_the_proxy = answers_health(listen)
            for _ in range(100):
                if await through_the_proxy():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError((conf.parent / "error.log").read_text())
            watch.start()
            chats = [9101 + n for n in range(PATIENTS)]
            first = await asyncio.gather(
                *(talk(api, watch, chat, REFERRAL[:3], chat) for chat in chats)
            )
            # Both took some of it: nginx shares the posts out.
            assert all([await handled_by(port) > 0 for port in ports])
            rest = asyncio.gather(
                *(talk(api, watch, chat, REFERRAL[3:8], chat + 1) for chat in chats)
            )
            await asyncio.sleep(1.0)  # patients mid-conversation, posts in flight
            await bots[0].killed()
            then = await rest
            for bot in bots[1:]:
                assert await bot.terminate(timeout=15) == 0, bot.log_tail()
            await watch.stop()

            handled = await watch.handled_in_order()
            everything = [u for sent in first + then for u in sent]
            assert sorted(handled) == sorted(everything), "an update lost or handled twice"
            for chat, before, after in zip(chats, first, then, strict=True):
                mine = before + after
                assert [u for u in handled if u in set(mine)] == mine, f"chat {chat}: out of order"
            # Every post was answered 200: what the dead instance was posted, or was
            # being posted, nginx passed to the other (proxy_next_upstream error
            # ... non_idempotent), and Telegram never had to post it again.
            refused = [(u, status) for u, _, status in api.webhook_posts if status != 200]
            assert refused == [], f"posts not taken through the proxy: {refused}"
            async with watch.engine.connect() as conn:
                written = dict((await conn.execute(text(
                    "SELECT chat_id, count(DISTINCT message_id) FROM outbox "
                    "WHERE action = 'send' AND sent_at IS NOT NULL GROUP BY chat_id"
                ))).all())  # fmt: skip
            delivered = {chat: sum(1 for call in api.calls_to("sendMessage") if call.ok
                                   and int(call.params["chat_id"]) == chat) for chat in chats}  # fmt: skip
            repeats = sum(delivered[chat] - written.get(chat, 0) for chat in chats)
            # The one window no bot can close: sent, and killed before it was written
            # down. At most one such message for the one kill.
            assert 0 <= repeats <= 1 and all(delivered[c] >= written.get(c, 0) for c in chats), (
                f"messages delivered {delivered} for {written} written"
            )
            errors = (conf.parent / "error.log").read_text().count("[error]")
            print(f"\n{len(api.webhook_posts)} posts through the proxy, all answered 200; "
                  f"{errors} passed on by nginx when an instance failed them; {repeats} "
                  "message(s) sent again")  # fmt: skip
            api.assert_clean()
        finally:
            for bot in bots:
                await bot.close()
            if proxy.returncode is None:
                proxy.terminate()
                await proxy.wait()
            await watch.close()
