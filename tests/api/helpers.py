import json


def upload(client, headers, records=None, *, body=None):
    """POST /1/upload as a server would; `body` sends raw bytes instead of {"d": records}."""
    if body is None:
        body = json.dumps({"d": records}, ensure_ascii=False)
    return client.post("/1/upload", data=body, content_type="application/json", **headers)
