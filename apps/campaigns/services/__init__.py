"""Campaign lifecycle. Every status change is one conditional UPDATE (filter on the statuses
the action is allowed from, then check the row count), so two people pressing Stop, or Stop
racing the engine's own status change, can never both win or resurrect a campaign."""

from .actions import ACTIONS_BY_STATUS, CampaignActionRefused, campaign_actions, statuses_allowing
from .drafts import (
    CampaignDocumentInvalid,
    campaign_audience_save,
    campaign_content_save,
    campaign_create_draft,
    campaign_setup_save,
    campaign_when_save,
    campaign_wizard_step_done,
)
from .lifecycle import (
    CLONED_FIELDS,
    campaign_archive,
    campaign_clone,
    campaign_delete_draft,
    campaign_stop,
    campaign_unarchive,
)
from .runs import (
    campaign_complete,
    campaign_finishing,
    campaign_live_started,
    campaign_refused_to_draft,
)
from .safety import SAFETY_HOLD_CLEARED, campaign_safety_hold, campaign_safety_hold_alert, log
from .scheduling import CampaignNotReady, campaign_recheck, campaign_schedule

__all__ = [
    "ACTIONS_BY_STATUS",
    "CLONED_FIELDS",
    "SAFETY_HOLD_CLEARED",
    "CampaignActionRefused",
    "CampaignDocumentInvalid",
    "CampaignNotReady",
    "campaign_actions",
    "campaign_archive",
    "campaign_audience_save",
    "campaign_clone",
    "campaign_complete",
    "campaign_content_save",
    "campaign_create_draft",
    "campaign_delete_draft",
    "campaign_finishing",
    "campaign_live_started",
    "campaign_recheck",
    "campaign_refused_to_draft",
    "campaign_safety_hold",
    "campaign_safety_hold_alert",
    "campaign_schedule",
    "campaign_setup_save",
    "campaign_stop",
    "campaign_unarchive",
    "campaign_when_save",
    "campaign_wizard_step_done",
    "log",
    "statuses_allowing",
]
