"""Real APNs answers HTTP/2 only. A tiny TLS server that speaks nothing but HTTP/2 (ALPN
"h2", the h2 state machine) stands in for api.push.apple.com: the APNs adapter must reach it
and read its answer, which an HTTP/1.1 client cannot do."""

import datetime as dt
import json
import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.providers import http as provider_http
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.apns import adapter as apns_module

TOKEN = "ab" * 32


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Http2OnlyServer:
    """Accepts TLS connections that negotiate h2 and answers every request with 200 and an
    apns-id header, recording (ALPN protocol, headers, body) of each request.

    With `hold_until = n` it keeps its answers back until n requests are waiting for one at
    the same time (over any connections), or a request has waited HOLD_S: a client that sends
    one request after another never gets there. `most_waiting` is the most requests ever
    waiting at once."""

    HOLD_S = 2.0

    def __init__(self, cert_file, key_file):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.context.set_alpn_protocols(["h2"])  # and nothing else, like APNs
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[tuple[str | None, dict, bytes]] = []
        self.hold_until = 1
        self.waiting = 0
        self.most_waiting = 0
        self.released = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(raw,), daemon=True).start()

    def _connection(self, raw):
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        protocol = sock.selected_alpn_protocol()
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        headers: dict[int, dict] = {}
        bodies: dict[int, bytes] = {}
        held: list[int] = []  # streams whose answer is kept back
        held_since = 0.0
        sock.settimeout(0.02)
        with sock:
            while True:
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    data = None
                except (ssl.SSLError, OSError):
                    return
                if data == b"":
                    return
                try:
                    events = conn.receive_data(data) if data else []
                except h2.exceptions.ProtocolError:
                    return  # not HTTP/2 (an HTTP/1.1 client): hang up, as APNs does
                for event in events:
                    if isinstance(event, h2.events.RequestReceived):
                        headers[event.stream_id] = {
                            (k.decode() if isinstance(k, bytes) else k): (
                                v.decode() if isinstance(v, bytes) else v
                            )
                            for k, v in event.headers
                        }
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        stream = event.stream_id
                        self.requests.append((protocol, headers[stream], bodies.get(stream, b"")))
                        if not held:
                            held_since = time.monotonic()
                        held.append(stream)
                        with self.lock:
                            self.waiting += 1
                            self.most_waiting = max(self.most_waiting, self.waiting)
                            if self.waiting >= self.hold_until:
                                self.released.set()
                if held and (self.released.is_set() or time.monotonic() - held_since > self.HOLD_S):
                    for stream in held:
                        conn.send_headers(
                            stream,
                            [
                                (":status", "200"),
                                ("apns-id", "5E5E5E5E-0000-4000-8000-000000000001"),
                            ],
                            end_stream=True,
                        )
                    with self.lock:
                        self.waiting -= len(held)
                    held = []
                sock.sendall(conn.data_to_send())

    def close(self):
        self.listener.close()


@pytest.fixture
def http2_only_server(tmp_path, monkeypatch):
    cert_file, key_file = _self_signed(tmp_path)
    # httpx reads SSL_CERT_FILE when its client is built: trust the test certificate only.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    monkeypatch.setattr(provider_http, "_http2_client", None)
    apns_module._jwt_cache.clear()
    server = Http2OnlyServer(cert_file, key_file)
    yield server
    server.close()
    client = provider_http._http2_client
    if client is not None:
        client.close()
    apns_module._jwt_cache.clear()


def _apns(base_url: str):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return adapter_for(
        ProviderConfig(
            kind="apns",
            nickname="APNs (HTTP/2)",
            base_url=base_url,
            credentials={"key_id": "KEY1234567", "team_id": "TEAM123456", "private_key": pem},
            settings={"topic": "com.herald.demo"},
        )
    )


def test_apns_reaches_a_server_that_speaks_only_http2(http2_only_server):
    adapter = _apns(f"https://localhost:{http2_only_server.port}")

    [result] = adapter.send([PushMessage(token=TOKEN, platform="ios", title="Hi", body="there")])

    assert result.status is SendStatus.ACCEPTED, result.error
    assert result.provider_message_id == "5E5E5E5E-0000-4000-8000-000000000001"
    [(protocol, headers, body)] = http2_only_server.requests
    assert protocol == "h2"
    assert headers[":method"] == "POST"
    assert headers[":path"] == f"/3/device/{TOKEN}"
    assert headers["apns-topic"] == "com.herald.demo"
    assert headers["authorization"].startswith("bearer ")
    assert json.loads(body)["aps"]["alert"] == {"title": "Hi", "body": "there"}


def test_apns_sends_a_batch_over_http2_as_concurrent_requests(http2_only_server):
    tokens = [f"{n:02x}" * 32 for n in range(6)]
    http2_only_server.hold_until = len(tokens)  # no answer until all six are waiting
    adapter = _apns(f"https://localhost:{http2_only_server.port}")

    started = time.monotonic()
    results = adapter.send(
        [PushMessage(token=token, platform="ios", body=f"n{i}") for i, token in enumerate(tokens)]
    )

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 6, [r.error for r in results]
    assert [r.recipient for r in results] == tokens
    assert http2_only_server.most_waiting == 6
    assert time.monotonic() - started < Http2OnlyServer.HOLD_S
    assert {headers[":path"] for _, headers, _ in http2_only_server.requests} == {
        f"/3/device/{token}" for token in tokens
    }
    assert {protocol for protocol, _, _ in http2_only_server.requests} == {"h2"}


def test_an_http1_client_cannot_talk_to_it(http2_only_server):
    """The control: the plain pooled client (HTTP/1.1) gets nowhere, so the test above
    really depends on HTTP/2."""
    import httpx

    with httpx.Client() as client, pytest.raises(httpx.HTTPError):
        client.get(f"https://localhost:{http2_only_server.port}/3/device/{TOKEN}")
