"""Error codes of the REST API (/1/...) and the one error shape every endpoint answers with:
`{"status": "fail", "error": "<message>", "code": <code>}`.

Request-level codes (the whole request fails, nothing is written):

| code | name               | HTTP | when                                                       |
| ---- | ------------------ | ---- | ---------------------------------------------------------- |
| 78   | INVALID_PAYLOAD    | 400  | body not JSON or not an object, `d` missing or not a list, |
|      |                    |      | a top-level field of the wrong type (spec: Invalid payload)|
| 89   | UNEXPECTED_ERROR   | 500  | anything we did not foresee; try again (spec)              |
| 90   | TOO_MANY_RECORDS   | 400  | more than settings.UPLOAD_API_MAX_RECORDS (1,000) records  |
| 91   | MISSING_LOOKUP_KEY | 400  | GET /1/profile.json without identity, objectId or email    |
| 401  | UNAUTHORIZED       | 401  | X-CleverTap-Account-Id / X-CleverTap-Passcode missing or   |
|      |                    |      | wrong, or the passcode was revoked                         |
| 404  | PROFILE_NOT_FOUND  | 404  | GET /1/profile.json names no known profile                 |
| 404  | ENDPOINT_NOT_FOUND | 404  | no endpoint at this /1/ path, whatever the method (the     |
|      |                    |      | spec has no code for it; ours follow the HTTP status)      |
| 405  | METHOD_NOT_ALLOWED | 405  | wrong HTTP method for the endpoint                         |

Per-record codes of POST /1/upload, in `unprocessed[].code` (HTTP 200; the other records are
stored). They are defined by the ingest service (apps.audience.ingest.RecordError, since the
audience app must not import the API) and re-exported here:

| code | name                 | when                                                          |
| ---- | -------------------- | ------------------------------------------------------------- |
| 510  | NOT_AN_OBJECT        | the record is not a JSON object                               |
| 511  | INVALID_TYPE         | `type` is not "profile", "event" or "token"                   |
| 512  | MISSING_IDENTITY     | none of identity, objectId, FBID, email (or an empty one)     |
| 513  | INVALID_IDENTITY     | a key of the wrong type or too long, or more than one of      |
|      |                      | identity / objectId / FBID                                    |
| 514  | INVALID_TS           | `ts` not a number, before 2000 or more than a day ahead       |
| 515  | INVALID_PROFILE_DATA | `profileData` missing or not an object, or a bad property key |
| 516  | INVALID_PHONE        | profileData.Phone not a valid E.164 number                    |
| 517  | INVALID_EMAIL        | email / profileData.Email not an email address                |
| 518  | INVALID_FIELD        | a known field's value is wrong (Gender, DOB, Timezone,        |
|      |                      | Latitude, MSG-email, a too long Name…) or cannot be stored    |
| 519  | INVALID_EVENT_NAME   | `evtName` missing, empty, not a string or over 128 characters |
| 520  | INVALID_EVENT_DATA   | `evtData` not an object                                       |
| 521  | INVALID_TOKEN_DATA   | `tokenData` missing, or its id / type / fields are wrong      |
| 522  | IDENTITY_CONFLICT    | profileData.Identity differs from the record's identity or    |
|      |                      | belongs to another profile                                    |
"""

from django.http import JsonResponse

from apps.audience.ingest import RecordError

INVALID_PAYLOAD = 78
UNEXPECTED_ERROR = 89
TOO_MANY_RECORDS = 90
MISSING_LOOKUP_KEY = 91
UNAUTHORIZED = 401
PROFILE_NOT_FOUND = 404
ENDPOINT_NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405

RECORD_MISSING_IDENTITY = RecordError.MISSING_IDENTITY.value
RECORD_INVALID_PHONE = RecordError.INVALID_PHONE.value
RECORD_INVALID_FIELD = RecordError.INVALID_FIELD.value


def api_success(body: dict, *, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {"status": "success", **body}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def api_error(message: str, *, code: int, status: int) -> JsonResponse:
    return JsonResponse(
        {"status": "fail", "error": message, "code": code},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
