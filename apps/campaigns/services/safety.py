"""The safety check's hold: a run whose audience is above the campaign's cap sends nothing,
the campaign goes back to draft held, and its creator is told."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse

from apps.core.roles import Role

from ..models import Campaign, CampaignStatus

log = logging.getLogger("apps.campaigns.services")


# --- The safety check's hold ---------------------------------------------------------------

SAFETY_HOLD_CLEARED = {
    "safety_held_at": None,
    "safety_hold_reason": "",
    "safety_hold_audience": None,
    "safety_hold_cap": None,
}


def campaign_safety_hold(
    *, campaign_id: int, audience: int, reason: str, held_at: datetime
) -> bool:
    """The safety check refused a run of this campaign: `audience` people qualified, above
    its safety cap. The campaign goes back to draft, marked with what the check saw, and
    sends nothing more — its later occurrences too — until the marketer has raised the cap
    or narrowed the audience and scheduled it again (campaign_schedule clears the mark).
    A draft is what the wizard edits; "completed" would say it was sent.

    One conditional UPDATE, True when it won. It holds only a campaign that is still meant
    to send (scheduled or running), whose cap is still below that audience, and that was
    not scheduled again after the refusal — so a redelivered run task marks nothing twice,
    and a stale refusal never holds a campaign the marketer has already dealt with."""
    held = (
        Campaign.objects.filter(
            pk=campaign_id,
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
            safety_cap__lt=audience,
        )
        .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=held_at))
        .update(
            status=CampaignStatus.DRAFT,
            scheduled_at=None,
            next_run_at=None,
            safety_held_at=held_at,
            safety_hold_reason=reason.strip() or "Refused by the safety check.",
            safety_hold_audience=audience,
            safety_hold_cap=F("safety_cap"),
            updated_at=held_at,
        )
    )
    # No live_index_bump(): only past-behaviour campaigns have a safety cap.
    if held:
        transaction.on_commit(lambda: campaign_safety_hold_alert(campaign_id))
    return bool(held)


def campaign_safety_hold_alert(campaign_id: int) -> int:
    """E-mail the campaign's creator that the safety check held it (the spec: "the campaign
    creator receives an email alert for further action"); a campaign without a creator with
    an address (one created through the API) alerts the Admins. Sent through Django's mail
    settings (HERALD_EMAIL_URL); a mail server that fails is logged, never raised into the
    run that was refused. Returns how many messages went."""

    campaign = Campaign.objects.select_related("created_by").filter(pk=campaign_id).first()
    if campaign is None or campaign.safety_held_at is None:
        return 0
    creator = campaign.created_by
    if creator is not None and creator.email and creator.is_active:
        recipients = [creator.email]
    else:
        recipients = list(
            get_user_model()
            .objects.filter(role=Role.ADMIN, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    if not recipients:
        return 0
    link = settings.HERALD_BASE_URL.rstrip("/") + reverse("campaigns:detail", args=[campaign.pk])
    body = (
        f'The safety check held the campaign "{campaign.name}": nothing was sent.\n\n'
        f"{campaign.safety_hold_reason}\n\n"
        "Raise the safety cap or narrow the audience, then schedule the campaign again:\n"
        f"{link}\n"
    )
    try:
        return send_mail(
            f'Herald: "{campaign.name}" was held by the safety check',
            body,
            None,  # DEFAULT_FROM_EMAIL
            recipients,
        )
    except Exception:  # a mail server's failure must not fail the run task
        log.exception("safety-check alert for campaign %s could not be sent", campaign_id)
        return 0
