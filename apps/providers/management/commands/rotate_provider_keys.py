"""Re-encrypt every provider's credentials with the newest HERALD_ENCRYPTION_KEYS key.

Rotation: put the new key first in HERALD_ENCRYPTION_KEYS (keep the old one after it),
restart, run this command, then drop the old key."""

from django.core.management.base import BaseCommand, CommandError

from apps.providers.crypto import CredentialsUnreadable
from apps.providers.services import provider_credentials_rotate


class Command(BaseCommand):
    help = "Re-encrypt provider credentials with the first key of HERALD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        try:
            count = provider_credentials_rotate()
        except CredentialsUnreadable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Re-encrypted the credentials of {count} provider(s).")
