import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiPasscode
from apps.accounts.services import (
    account_settings_get,
    api_passcode_authenticate,
    passcode_digest,
)

pytestmark = pytest.mark.django_db


def test_json_output_ends_with_credentials_that_authenticate():
    out = StringIO()
    call_command("create_api_credentials", "--name", "deploy script", "--json", stdout=out)

    credentials = json.loads(out.getvalue().strip().splitlines()[-1])
    assert set(credentials) == {"account_id", "passcode"}
    assert credentials["account_id"] == account_settings_get().account_id
    passcode = api_passcode_authenticate(**credentials)
    assert passcode is not None
    assert passcode.name == "deploy script" and passcode.created_by is None
    assert passcode.digest == passcode_digest(credentials["passcode"])


def test_plain_output_names_the_account_id_and_the_passcode():
    out = StringIO()
    call_command("create_api_credentials", "--name", "backend", stdout=out)
    lines = out.getvalue().splitlines()
    account_id = account_settings_get().account_id
    assert lines[0] == f"Account ID: {account_id}"
    raw = lines[1].removeprefix("Passcode:").strip()
    assert api_passcode_authenticate(account_id=account_id, passcode=raw) is not None
    assert "{" not in out.getvalue()  # no JSON unless asked


def test_an_empty_name_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match="--name must not be empty"):
        call_command("create_api_credentials", "--name", "  ", stdout=StringIO())
    assert not ApiPasscode.objects.exists()
