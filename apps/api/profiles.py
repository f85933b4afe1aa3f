"""How a profile looks in GET /1/profile.json: CleverTap's style, custom properties under
`profileData`, times as epoch seconds."""

from datetime import datetime
from typing import Any

from apps.audience.models import Device, Profile


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def device_record(device: Device) -> dict[str, Any]:
    return {
        "platform": device.platform,
        "token": device.push_token,
        "appVersion": device.app_version,
        "make": device.make,
        "model": device.model,
        "osVersion": device.os_version,
        "sdkVersion": device.sdk_version,
        "lastActive": _epoch(device.last_active),
    }


def profile_record(profile: Profile, devices: list[Device]) -> dict[str, Any]:
    return {
        "identity": profile.identity,
        "objectId": profile.object_id,
        "FBID": profile.fbid,
        "email": profile.email,
        "phone": profile.phone,
        "name": profile.name,
        "gender": profile.gender,
        "DOB": profile.date_of_birth.isoformat() if profile.date_of_birth else None,
        "location": {
            "country": profile.country,
            "region": profile.region,
            "city": profile.city,
            "latitude": profile.latitude,
            "longitude": profile.longitude,
        },
        "timezone": profile.timezone,
        "language": profile.language,
        # Same sense as in uploads: true means we may send on that channel.
        "MSG-email": not profile.email_unsubscribed,
        "MSG-sms": not profile.sms_unsubscribed,
        "MSG-push": not profile.push_opt_out,
        "profileData": profile.properties,
        "firstSeen": _epoch(profile.first_seen),
        "lastSeen": _epoch(profile.last_seen),
        "devices": [device_record(device) for device in devices],
    }
