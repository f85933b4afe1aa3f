from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.providers.crypto import (
    CredentialsUnreadable,
    credentials_decrypt,
    credentials_encrypt,
)
from apps.providers.models import Provider
from apps.providers.services import provider_create, provider_credentials_rotate

SECRET = "auth-token-9f8e7d6c5b4a"


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HERALD_ENCRYPTION_KEYS = [old]
    return {"old": old, "new": new}


def _raw_column(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM providers_provider WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_raw_credentials_column_holds_no_secret_and_the_model_reads_it_back(keys):
    provider = provider_create(
        channel="sms",
        kind="twilio",
        nickname="Twilio",
        credentials={"account_sid": "AC123", "auth_token": SECRET},
        settings={"from_number": "+15550001111"},
    )
    raw = _raw_column(provider.pk)
    assert SECRET not in raw and "auth_token" not in raw and "AC123" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    config = Provider.objects.get(pk=provider.pk).config()
    assert config.credentials == {"account_sid": "AC123", "auth_token": SECRET}
    assert config.settings == {"from_number": "+15550001111"}
    assert (config.kind, config.nickname) == ("twilio", "Twilio")


@pytest.mark.django_db
def test_a_rotated_key_still_decrypts_old_rows_and_rotation_moves_them_to_the_new_key(
    keys, settings
):
    provider = provider_create(
        channel="email", kind="sendgrid", nickname="SG", credentials={"api_key": SECRET}
    )
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"], keys["old"]]
    assert Provider.objects.get(pk=provider.pk).credentials == {"api_key": SECRET}

    assert provider_credentials_rotate() == 1
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"]]  # the old key is retired
    assert Provider.objects.get(pk=provider.pk).credentials == {"api_key": SECRET}


def test_a_token_from_a_key_no_longer_configured_raises_a_clear_error(keys, settings):
    token = credentials_encrypt({"api_key": SECRET})
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"]]
    with pytest.raises(CredentialsUnreadable, match="HERALD_ENCRYPTION_KEYS"):
        credentials_decrypt(token)


def test_without_configured_keys_a_key_derived_from_the_secret_key_is_used(settings):
    settings.HERALD_ENCRYPTION_KEYS = []
    token = credentials_encrypt({"password": SECRET})
    assert SECRET not in token
    assert credentials_decrypt(token) == {"password": SECRET}
    settings.SECRET_KEY = "another-secret-key-entirely-000000000000000000"
    with pytest.raises(CredentialsUnreadable):
        credentials_decrypt(token)


@pytest.mark.django_db
def test_the_rotate_command_moves_every_provider_to_the_new_key(keys, settings):
    first = provider_create(
        channel="email", kind="sendgrid", nickname="SG", credentials={"api_key": SECRET}
    )
    second = provider_create(
        channel="sms", kind="twilio", nickname="TW", credentials={"auth_token": SECRET}
    )
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"], keys["old"]]
    out = StringIO()

    call_command("rotate_provider_keys", stdout=out)

    assert "2 provider(s)" in out.getvalue()
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"]]
    assert Provider.objects.get(pk=first.pk).credentials == {"api_key": SECRET}
    assert Provider.objects.get(pk=second.pk).credentials == {"auth_token": SECRET}


@pytest.mark.django_db
def test_rotation_without_the_old_key_fails_clearly_and_changes_nothing(keys, settings):
    readable = provider_create(
        channel="email", kind="sendgrid", nickname="SG", credentials={"api_key": SECRET}
    )
    settings.HERALD_ENCRYPTION_KEYS = [keys["new"]]
    orphan = provider_create(
        channel="sms", kind="twilio", nickname="TW", credentials={"auth_token": SECRET}
    )
    before = {readable.pk: _raw_column(readable.pk), orphan.pk: _raw_column(orphan.pk)}
    settings.HERALD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), keys["old"]]

    with pytest.raises(CommandError, match="keep the old key"):
        call_command("rotate_provider_keys", stdout=StringIO())

    assert {pk: _raw_column(pk) for pk in before} == before
