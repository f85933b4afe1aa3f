"""Create a REST API passcode from the command line (deploy scripts, first setup).

With --json the last line of output is exactly one JSON object, so a script can read it
with `tail -n 1`."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import ApiPasscode
from apps.accounts.services import account_settings_get, api_passcode_create


class Command(BaseCommand):
    help = "Create an API passcode and print the Account ID and the passcode (shown once)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--name", required=True, help="What the passcode is for, e.g. 'backend'."
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help='End with one JSON line: {"account_id": ..., "passcode": ...}.',
        )

    def handle(self, *args, name: str, as_json: bool, **options):
        name = name.strip()
        max_length = ApiPasscode._meta.get_field("name").max_length
        if not name:
            raise CommandError("--name must not be empty.")
        if len(name) > max_length:
            raise CommandError(f"--name must be at most {max_length} characters.")

        account = account_settings_get()
        passcode, raw = api_passcode_create(name=name)
        self.stdout.write(f"Account ID: {account.account_id}")
        self.stdout.write(f"Passcode:   {raw}")
        self.stdout.write(
            f"Passcode “{passcode.name}” is shown only now: Herald stores only its digest."
        )
        if as_json:
            self.stdout.write(json.dumps({"account_id": account.account_id, "passcode": raw}))
