"""A campaign's content (the wizard's What step): validation, problems, summary (rendering is
message_templates/rendering.py).

`campaign.content` is the document the delivery engine (apps/delivery) reads:
{"mode", "variants": [{"key", "name", "match", "message"}], "ab", "multi", "template_id"}.
Every message is stored with all of its channel's keys (blank when unused), so readers never
guess defaults.

Error keys are the step form's field names ("variant-1-body", "ab-size", "goal-window",
"carousel-0-link" inside one message), so the page can put each message beside its field
and `problems()` can name the variant.

Decisions where the spec is silent:
- Lengths: push title/subtitle 200, push body and SMS body 2,000 (the template library's
  bound), email subject and preheader 500, HTML 500,000 and text 100,000 (the library's).
- A/B: 2-3 variants (the spec's "up to 3"); for a live campaign the test is always a number
  of messages ("test audience size"), never a percentage, since its reach is unknown. The
  winner metric "conversions" needs a conversion goal. window_hours (1-168) is how long after
  the test messages go out the winner is picked.
- Multi-message: up to 10 variants (keys A-J); every variant but the fallback needs a match
  value, match values are distinct ignoring case and spaces round them; the fallback gets
  everyone whose property matches no variant (it may have a match value of its own).
- URLs: media (image, iOS media, carousel images) must be http(s); links (deep link, buttons,
  carousel links) may be http(s) or an app deep link (scheme://…); the external URL must be
  http(s). A URL with Liquid is checked as rendered with no profile values; one that is only
  Liquid (the whole URL comes from the profile) is accepted once it compiles.
- SMS key-value pairs are the generic provider's custom `$$key`s (the adapter's placeholder
  syntax, so keys are letters, digits and _). Template variables are sent in order; the key
  is an optional label for the marketer.
- Push custom key-values are fixed text (not Liquid), like the template library's.
- The conversion goal is {"event", "filters", "window"}: filters are segments-format property
  conditions ({"name", "operator", "value"}), window "<n>D" (1-30 days) or "<n>H" (1-720
  hours); None when no event is chosen.
"""

from apps.message_templates.rendering import MessageRenderer, render_message

from .goal import goal_clean, goal_filter_value
from .messages import message_clean
from .overview import content_problems, content_summary, goal_summary, variant_gist
from .routes import (
    campaign_content_clean,
    campaign_route,
    generic_sms_keys,
    only_generic_sms,
    sms_route_kinds,
    sms_route_providers,
    uses_generic_sms,
)
from .shape import (
    AB_COUNT_MAX,
    AB_DEFAULTS,
    AB_MAX_VARIANTS,
    AB_METRICS,
    AB_MIN_VARIANTS,
    AB_WINDOW_MAX_HOURS,
    ANDROID_PRIORITIES,
    BADGE_ICONS,
    BADGE_MAX,
    BLANK_MESSAGES,
    BUTTONS_MAX,
    CAROUSEL_MAX,
    CUSTOM_KV_MAX,
    DELIVERY_PRIORITIES,
    FIELD_LABELS,
    GENERIC_BUILTINS,
    GOAL_FILTERS_MAX,
    GOAL_WINDOW_MAX,
    LIMITS,
    MATCH_MAX,
    MODE_LABELS,
    MODES,
    MULTI_MAX_VARIANTS,
    NAME_MAX,
    PAIRS_MAX,
    PROPERTY_MAX,
    PUSH_PLATFORMS,
    SIZE_KINDS,
    VARIANT_KEYS,
    ContentInvalid,
    blank_content,
    blank_message,
    campaign_variants,
)
from .variants import ab_metrics, content_clean

__all__ = [
    "AB_COUNT_MAX",
    "AB_DEFAULTS",
    "AB_MAX_VARIANTS",
    "AB_METRICS",
    "AB_MIN_VARIANTS",
    "AB_WINDOW_MAX_HOURS",
    "ANDROID_PRIORITIES",
    "BADGE_ICONS",
    "BADGE_MAX",
    "BLANK_MESSAGES",
    "BUTTONS_MAX",
    "CAROUSEL_MAX",
    "CUSTOM_KV_MAX",
    "DELIVERY_PRIORITIES",
    "FIELD_LABELS",
    "GENERIC_BUILTINS",
    "GOAL_FILTERS_MAX",
    "GOAL_WINDOW_MAX",
    "LIMITS",
    "MATCH_MAX",
    "MODES",
    "MODE_LABELS",
    "MULTI_MAX_VARIANTS",
    "NAME_MAX",
    "PAIRS_MAX",
    "PROPERTY_MAX",
    "PUSH_PLATFORMS",
    "SIZE_KINDS",
    "VARIANT_KEYS",
    "ContentInvalid",
    "MessageRenderer",
    "ab_metrics",
    "blank_content",
    "blank_message",
    "campaign_content_clean",
    "campaign_route",
    "campaign_variants",
    "content_clean",
    "content_problems",
    "content_summary",
    "generic_sms_keys",
    "goal_clean",
    "goal_filter_value",
    "goal_summary",
    "message_clean",
    "only_generic_sms",
    "render_message",
    "sms_route_kinds",
    "sms_route_providers",
    "uses_generic_sms",
    "variant_gist",
]
