from apps.providers.models import Provider
from apps.providers.services import provider_create


def sandbox_twilio(sandbox, label: str) -> Provider:
    """A Twilio provider whose base URL is the test sandbox under `label` (its own faults and
    inbox), nicknamed after the label."""
    return provider_create(
        channel="sms",
        kind="twilio",
        nickname=label.title(),
        base_url=sandbox.url_for(label),
        credentials={"account_sid": f"AC{label}", "auth_token": "token"},
        settings={"from_number": "+15550000000"},
    )
