"""Two API clients uploading overlapping new identities at the same moment, each on its own
real PostgreSQL connection (hence transactional_db: the threads must see committed data)."""

import threading
from collections import Counter

from django.db import connection
from django.test import Client

from apps.audience.models import Device, Event, Profile
from tests.api.helpers import upload

TS = 1_700_000_000
SHARED = 300  # identities both clients create
OWN = 100  # identities only one client creates
ROUNDS = 3


def _batches(client_name: str, identities: list[str]) -> list[list[dict]]:
    """ROUNDS requests of (profile + event) per identity, plus email-keyed and token records
    that also overlap between the clients."""
    batches = []
    for round_no in range(ROUNDS):
        batch = []
        for identity in identities:
            batch.append(
                {
                    "type": "profile",
                    "identity": identity,
                    "profileData": {f"{client_name}_round_{round_no}": True},
                }
            )
            batch.append(
                {
                    "type": "event",
                    "identity": identity,
                    "ts": TS + round_no,
                    "evtName": "Ping",
                    "evtData": {"client": client_name, "round": round_no},
                }
            )
        for n in range(20):
            batch.append({"type": "event", "email": f"shared{n}@example.com", "evtName": "Mail"})
            batch.append(
                {
                    "type": "token",
                    "identity": identities[n],
                    "tokenData": {"id": f"shared-token-{n}", "type": "fcm"},
                }
            )
        batches.append(batch)
    return batches


def test_concurrent_uploads_store_every_profile_and_every_event_exactly_once(
    transactional_db, api_headers
):
    shared = [f"shared-{i}" for i in range(SHARED)]
    plans = {
        # Opposite orders make the two clients meet the shared identities from both ends.
        "left": shared + [f"left-{i}" for i in range(OWN)],
        "right": [f"right-{i}" for i in range(OWN)] + shared[::-1],
    }
    start = threading.Barrier(len(plans))
    answers: dict[str, list] = {name: [] for name in plans}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        client = Client()
        try:
            start.wait()
            for batch in _batches(name, plans[name]):
                assert len(batch) <= 1000
                response = upload(client, api_headers, batch)
                answers[name].append((response.status_code, response.json()))
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures
    for name, replies in answers.items():
        assert len(replies) == ROUNDS, name
        for status, body in replies:
            assert status == 200, body
            assert body["unprocessed"] == []

    identities = Counter(Profile.objects.exclude(identity=None).values_list("identity", flat=True))
    assert len(identities) == SHARED + 2 * OWN
    assert set(identities.values()) == {1}
    emails = Counter(Profile.objects.filter(identity=None).values_list("email", flat=True))
    assert emails == Counter({f"shared{n}@example.com": 1 for n in range(20)})

    # Every event exactly once: per identity, one Ping per client per round that sent it.
    pings = Counter(
        (profile, e["client"], e["round"])
        for profile, e in Event.objects.filter(name="Ping").values_list(
            "profile__identity", "properties"
        )
    )
    expected = {
        (identity, name, round_no)
        for name, identities_sent in plans.items()
        for identity in identities_sent
        for round_no in range(ROUNDS)
    }
    assert set(pings) == expected and set(pings.values()) == {1}
    assert Event.objects.filter(name="Mail").count() == 2 * ROUNDS * 20

    # Neither client's properties were lost in the concurrent merges.
    both = Profile.objects.get(identity="shared-7").properties
    assert both == {
        f"{name}_round_{round_no}": True for name in plans for round_no in range(ROUNDS)
    }
    assert Device.objects.count() == 20
