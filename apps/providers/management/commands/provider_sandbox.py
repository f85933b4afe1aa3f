"""`python manage.py provider_sandbox`: the local provider sandbox (HTTP + SMTP) on loopback.

Runs until SIGINT or SIGTERM; everything it records lives in memory and ends with it."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.providers.sandbox.server import SMTP_PORT_KEY, create_app, start_http
from apps.providers.sandbox.smtp import start_smtp
from apps.providers.sandbox.state import SandboxState


class Command(BaseCommand):
    help = "Run the local provider sandbox: every adapter's wire format over HTTP, and SMTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.PROVIDER_SANDBOX_HOST)
        parser.add_argument("--port", type=int, default=settings.PROVIDER_SANDBOX_PORT)
        parser.add_argument("--smtp-port", type=int, default=settings.PROVIDER_SANDBOX_SMTP_PORT)

    def handle(self, *args, host, port, smtp_port, **options):
        logging.basicConfig(level=logging.WARNING)
        # aiosmtpd logs every SMTP command at INFO: far too much under a benchmark.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        asyncio.run(self._serve(host=host, port=port, smtp_port=smtp_port))

    async def _serve(self, *, host: str, port: int, smtp_port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        state = SandboxState()
        app = create_app(state=state)
        app[SMTP_PORT_KEY] = smtp_port
        runner = await start_http(app, host=host, port=port)
        self._say(f"Provider sandbox HTTP on http://{host}:{port} (providers under /p/<label>)")
        smtp = await start_smtp(state, host=host, port=smtp_port)
        self._say(f"Provider sandbox SMTP on {host}:{smtp_port}")
        try:
            await stop.wait()
        finally:
            smtp.close()
            await runner.cleanup()
            self._say("Provider sandbox stopped")

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
