"""What the parts of live matching share: the statuses a live campaign listens in, the
index's age, the seeds and the date patterns."""

from __future__ import annotations

import logging
import re

from apps.campaigns.models import CampaignStatus
from apps.segments.compiler import NUMERIC_RE

logger = logging.getLogger("apps.delivery.live")

ACTIVE_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
# Even if a bump were lost (a cache flush between two saves), no process keeps an index
# older than this.
INDEX_MAX_AGE_S = 300
VARIANT_SEED = 5  # independent of snapshot's control / test-share / order seeds
# Rows that count towards a per-user limit: sent, or on their way.
COUNTED_STATUSES = ("queued", "waiting", "sending", "sent")

TRIGGER = "trigger"
FOLLOW_UP = "follow_up"

_NUMERIC = re.compile(NUMERIC_RE)
_DATE_PREFIX = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Up to 12 digits: any real date, and always a valid bigint and timestamp.
CLEVERTAP_DATE_SQL = r"^\$D_-?[0-9]{1,12}$"
_CLEVERTAP_DATE = re.compile(r"^\$D_(-?[0-9]{1,12})$")
