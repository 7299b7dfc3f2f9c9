"""Deliveries against hostile or broken targets: deadlines, fairness, DNS rebinding, TLS, and
the subscription limits. Every target is a real server on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import socket
import ssl
import threading
import time
import typing as t

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, request
from werkzeug.serving import make_server

from connector.callers import tenant_for
from connector.hooks.poller import run_cycle
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY
from .slow_targets import SlowTargets
from .test_hooks import HOOK_SETTINGS, SECRET_KEY

TIMEOUT = 1.0  # CONNECTOR_DELIVERY_TIMEOUT in these tests
MARGIN = 0.75  # what an attempt may take beyond it (the store, the cycle's own poll)
PUBLIC = "93.184.215.14"  # a public address; the tests never let a packet leave for it


@pytest.fixture
def targets() -> t.Iterator[SlowTargets]:
    with SlowTargets(step=0.2, limit=4.0) as served:
        yield served


def subscribe(app: t.Any, target_url: str, key: str = KEY) -> t.Any:
    response = app.test_client().post(
        "/v1/hooks",
        json={"target_url": target_url, "handle": "creator"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.json
    return response.json


def pending(app: t.Any) -> int:
    return len(app.extensions["connector"].store.next_deliveries(time.time() + 10**9))


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("drip-headers", "retried"),  # no status by the deadline: timed out
        ("drip-body", "delivered"),  # 200 at once, then a body that never ends in time
        ("endless", "delivered"),  # 200, then megabytes: read no further than a few KB
        ("stall", "retried"),
    ],
)
def test_a_delivery_ends_at_its_deadline_whatever_the_target_does(
    make_app: t.Any, world: World, targets: SlowTargets, mode: str, outcome: str
) -> None:
    app = make_app(**{**HOOK_SETTINGS, "DELIVERY_TIMEOUT": TIMEOUT})
    subscribe(app, f"{targets.url}/{mode}/1")
    world.post_video("creator")
    started = time.monotonic()
    report = run_cycle(app.extensions["connector"].poll_context)
    elapsed = time.monotonic() - started
    assert getattr(report.delivery, outcome) == 1, report
    # The whole cycle: reading the handle too. The target would have held on for 4 s.
    assert elapsed < TIMEOUT + 2, f"the cycle took {elapsed:.1f} s"
    (hit,) = targets.hits_for(f"/{mode}/")
    deadline = time.monotonic() + 2
    while hit.ended is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hit.ended is not None and hit.ended - hit.arrived < TIMEOUT + MARGIN, (
        "the connector hung up at its deadline (the target would have gone on for 4 s)"
    )


def _polled_before(key: str) -> str:
    """An API key whose tenant sorts before ``key``'s: its handle is polled, and its
    deliveries queued, first."""
    for index in range(1000):
        candidate = f"slow-tenant-key-{index}"
        if tenant_for(candidate) < tenant_for(key):
            return candidate
    raise AssertionError("no such key")


def test_slow_targets_of_one_tenant_do_not_delay_another_tenants_delivery(
    make_app: t.Any, world: World, targets: SlowTargets
) -> None:
    app = make_app(**{**HOOK_SETTINGS, "DELIVERY_TIMEOUT": TIMEOUT})  # 8 workers
    slow_key = _polled_before(KEY)
    modes = ["drip-headers", "drip-body", "stall"]
    for index in range(16):
        subscribe(app, f"{targets.url}/{modes[index % 3]}/{index}", key=slow_key)
    subscribe(app, f"{targets.url}/fast/other-tenant", key=KEY)
    world.post_video("creator")
    report = run_cycle(app.extensions["connector"].poll_context)
    (fast,) = targets.hits_for("/fast/")
    first = min(hit.arrived for hit in targets.hits_for("/"))  # deliveries began
    waited = fast.arrived - first
    assert waited < TIMEOUT, f"the fast target waited {waited:.1f} s behind the slow ones"
    assert report.delivery.delivered + report.delivery.retried == 17
    assert len(targets.hits_for("/")) == 17, "each target tried once"


def test_a_cycle_ending_while_a_delivery_is_in_flight_neither_loses_nor_repeats_it(
    make_app: t.Any, world: World, targets: SlowTargets
) -> None:
    app = make_app(**{**HOOK_SETTINGS, "DELIVERY_TIMEOUT": TIMEOUT})
    rt = app.extensions["connector"]
    subscribe(app, f"{targets.url}/drip-body/1")  # 200 at once, then held to the deadline
    world.post_video("creator")
    poll = rt.poll_context
    background = rt.deliverer(wait=0.1)  # as the scheduler in `connector serve` keeps one
    try:
        reports = [run_cycle(poll, deliverer=background)]
        deadline = time.monotonic() + TIMEOUT
        while not targets.hits_for("/drip-body/") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pending(app) == 1, "the cycle ended with the delivery in flight"
        reports.append(run_cycle(poll, deliverer=background))  # the same deliverer skips it
        reports.append(run_cycle(poll))  # another one (cron, say): the claim keeps it off
        deadline = time.monotonic() + TIMEOUT + 3
        while pending(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pending(app) == 0, "delivered once the slow answer ended"
        reports.append(run_cycle(poll, deliverer=background))
    finally:
        background.close()
    assert len(targets.hits_for("/drip-body/")) == 1, "sent once"
    assert sum(r.delivery.delivered for r in reports) == 1, "and counted once"


def _rebinding_resolver(
    monkeypatch: pytest.MonkeyPatch, host: str, answers: t.Callable[[], str]
) -> None:
    real = socket.getaddrinfo

    def fake(name: t.Any, port: t.Any, *args: t.Any, **kwargs: t.Any) -> list[t.Any]:
        if name != host:
            return real(name, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answers(), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_host_rebinding_to_loopback_after_the_check_is_never_connected_to(
    make_app: t.Any, world: World, targets: SlowTargets, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "hooks.rebind.test"
    app = make_app(  # private targets NOT allowed: the SSRF guard is on
        SECRET_KEY=SECRET_KEY, DELIVERY_TIMEOUT=TIMEOUT, DELIVERY_FIRST_RETRY=0.01, POLL_MIN_GAP=0
    )
    _rebinding_resolver(monkeypatch, host, lambda: PUBLIC)
    subscribe(app, f"https://{host}:{targets.port}/hook")
    world.post_video("creator")
    # From now on the resolver answers the public address once, then 127.0.0.1.
    answers = iter([PUBLIC])
    _rebinding_resolver(monkeypatch, host, lambda: next(answers, "127.0.0.1"))
    # No packet leaves for the public address: connecting to it is refused here, and
    # recorded; loopback connections go through (to the sandbox, or to `targets`).
    attempted: list[t.Any] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: t.Any) -> None:
        if isinstance(address, tuple) and not str(address[0]).startswith("127."):
            attempted.append(address)
            raise ConnectionRefusedError(111, "refused by the test")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    report = run_cycle(app.extensions["connector"].poll_context)
    assert targets.connections == 0, "nothing reached the loopback server"
    assert attempted == [(PUBLIC, targets.port)], "the connection went to the checked address"
    assert report.delivery.retried == 1 and report.delivery.delivered == 0


def _certificates(folder: t.Any, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA and a certificate for ``host``: (server context, client context trusting
    only that CA)."""
    now = dt.datetime.now(dt.UTC)

    def build(
        subject: str, issuer: x509.Name | None, key: t.Any, signer: t.Any, ca: bool
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("connector test CA", None, ca_key, ca_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(host, ca.subject, leaf_key, ca_key, False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")
    client = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    return server, client


def test_tls_checks_the_urls_host_while_connecting_to_the_checked_address(
    make_app: t.Any, world: World, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "hooks.tls.test"
    server_context, client_context = _certificates(tmp_path, host)
    seen: dict[str, list[str]] = {"sni": [], "host": []}

    def sni(_sock: t.Any, name: str | None, _context: t.Any) -> None:
        seen["sni"].append(str(name))

    server_context.sni_callback = sni
    receiver = Flask("tls-receiver")

    @receiver.post("/<path:path>")
    def receive(path: str) -> str:
        seen["host"].append(request.headers["Host"])
        return "ok"

    real = socket.getaddrinfo

    def local(name: t.Any, port: t.Any, *args: t.Any, **kwargs: t.Any) -> list[t.Any]:
        # Both names resolve to the server, whose certificate is only for the first.
        if name in (host, "other.tls.test"):
            name = "127.0.0.1"
        return real(name, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)
    server = make_server("127.0.0.1", 0, receiver, threaded=True, ssl_context=server_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        app = make_app(**{**HOOK_SETTINGS, "DELIVERY_TIMEOUT": TIMEOUT})
        rt = app.extensions["connector"]
        subscribe(app, f"https://{host}:{server.port}/good")
        subscribe(app, f"https://other.tls.test:{server.port}/wrong-name")
        world.post_video("creator")
        deliverer = rt.deliverer(ssl_context=client_context)
        try:
            report = run_cycle(rt.poll_context, deliverer=deliverer)
        finally:
            deliverer.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert report.delivery.delivered == 1 and report.delivery.retried == 1
    assert seen["host"] == [f"{host}:{server.port}"], "Host names the URL's host"
    assert host in seen["sni"], "so does TLS SNI"
    errors = [d.last_error for d in rt.store.next_deliveries(time.time() + 10**9)]
    assert len(errors) == 1 and "TLS certificate refused" in str(errors[0]), errors


def test_subscriptions_are_limited_per_tenant_and_per_target(make_app: t.Any, world: World) -> None:
    app = make_app(
        **{**HOOK_SETTINGS, "MAX_SUBSCRIPTIONS_PER_TENANT": 4, "MAX_SUBSCRIPTIONS_PER_TARGET": 2}
    )
    client = app.test_client()

    def post(url: str, key: str = KEY) -> t.Any:
        return client.post(
            "/v1/hooks",
            json={"target_url": url, "handle": "creator"},
            headers={"Authorization": f"Bearer {key}"},
        )

    assert post("http://127.0.0.1:9/zap").status_code == 201
    assert post("HTTP://127.0.0.1:9/zap?attempt=2").status_code == 201
    calls = len(world.requests())
    refused = post("http://127.0.0.1:9/zap?attempt=3")
    assert refused.status_code == 409
    assert refused.json["code"] == "subscription_limit_reached"
    assert refused.json["details"] == {"scope": "target", "limit": 2}
    assert "CONNECTOR_MAX_SUBSCRIPTIONS_PER_TARGET" in refused.json["error"]
    assert KEY not in refused.get_data(as_text=True)
    assert len(world.requests()) == calls, "refused before any upstream call"
    assert post("http://127.0.0.1:9/other").status_code == 201
    created = post("http://127.0.0.1:9/another")
    assert created.status_code == 201
    refused = post("http://127.0.0.1:9/yet-another")
    assert refused.status_code == 409 and refused.json["details"] == {"scope": "tenant", "limit": 4}
    assert post("http://127.0.0.1:9/zap", key="another-tenant-key").status_code == 201
    headers = {"Authorization": f"Bearer {KEY}"}
    assert client.delete(f"/v1/hooks/{created.json['id']}", headers=headers).status_code == 200
    assert post("http://127.0.0.1:9/yet-another").status_code == 201


def test_concurrent_subscribes_cannot_pass_the_limit(
    make_app: t.Any, any_db_url: str, world: World
) -> None:
    app = make_app(
        **{**HOOK_SETTINGS, "DATABASE_URL": any_db_url, "MAX_SUBSCRIPTIONS_PER_TENANT": 5}
    )
    with (
        BackgroundServer(app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
        concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool,
    ):
        answers = list(
            pool.map(
                lambda index: (
                    http.post(
                        "/v1/hooks",
                        json={"target_url": f"http://127.0.0.1:9/t{index}", "handle": "creator"},
                    ).status_code
                ),
                range(12),
            )
        )
        listed = http.get("/v1/hooks").json()
    app.extensions["connector"].close()
    assert sorted(answers) == [201] * 5 + [409] * 7
    assert len(listed) == 5
