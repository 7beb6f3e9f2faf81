"""POST /webhooks/instagram: only what Meta signed is kept, byte for byte and once, before the 200; no input
ever gets a 5xx. GET answers Meta's verification handshake."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import create_app
from webapp.extensions import db
from webapp.meta.signatures import sign
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery

SECRET = "test-app-secret"
VERIFY = "test-verify-token"
MESSAGE = {"object": "instagram", "entry": [{"id": "17841463172128465", "time": 1795627021098, "messaging": [
    {"sender": {"id": "8532027536890212"}, "recipient": {"id": "17841463172128465"}, "timestamp": 1795627021076,
     "message": {"mid": "aWdfZAG1faXRlbTox", "text": "Ol\u00e1! <script>alert(1)</script>"}}]}]}


@pytest.fixture(scope="module")
def hook_app(test_settings):
    return create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "META_VERIFY_TOKEN": VERIFY,
                       "WEBHOOK_MAX_BYTES": 64 * 1024, "WEBHOOK_PROCESSING": "off"})


@pytest.fixture
def meta(hook_app):
    return hook_app.test_client()


def meta_bytes(payload) -> bytes:
    """As Meta sends it: compact JSON with non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":")).encode()


def post(client, body: bytes, signature: str | None = "sign"):
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(body, SECRET)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/instagram", data=body, headers=headers)


def stored(app) -> list[WebhookDelivery]:
    with app.app_context():
        return list(db.session.scalars(db.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_meta_verification_echoes_the_challenge(meta):
    ok = meta.get("/webhooks/instagram", query_string={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                       "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    wrong = meta.get("/webhooks/instagram", query_string={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                          "hub.challenge": "1"})
    assert wrong.status_code == 403


def test_non_ascii_signatures_and_tokens_are_refused_not_crashed(meta, hook_app):
    assert post(meta, meta_bytes(MESSAGE), signature="sha256=é").status_code == 401
    answer = meta.get("/webhooks/instagram", query_string={"hub.mode": "subscribe", "hub.verify_token": "é",
                                                           "hub.challenge": "1"})
    assert answer.status_code == 403
    assert stored(hook_app) == []


def test_a_signed_delivery_is_kept_byte_for_byte_before_the_200(meta, hook_app):
    body = meta_bytes(MESSAGE)
    response = post(meta, body)
    assert response.status_code == 200 and response.get_json()["duplicate"] is False
    [delivery] = stored(hook_app)
    assert delivery.body == body and delivery.object_type == "instagram"
    assert delivery.status == DeliveryStatus.PENDING  # processed after the answer, never lost


def test_a_redelivery_of_the_same_bytes_is_stored_once(meta, hook_app):
    body = meta_bytes(MESSAGE)
    assert post(meta, body).status_code == 200
    again = post(meta, body)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert len(stored(hook_app)) == 1


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc",
                                       sign(b"other bytes", SECRET), sign(b"x", "another-secret")])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(meta, hook_app, signature):
    response = post(meta, meta_bytes(MESSAGE), signature=signature)
    assert response.status_code == 401
    assert stored(hook_app) == []


def test_the_signature_covers_the_exact_bytes(meta, hook_app):
    body = meta_bytes(MESSAGE)
    reformatted = json.dumps(MESSAGE, indent=2).encode()  # same JSON, other bytes
    assert post(meta, reformatted, signature=sign(body, SECRET)).status_code == 401


def test_malformed_json_is_a_400(meta, hook_app):
    for body in (b"{not json", b"\xff\xfe", b"[" * 50_000):
        assert post(meta, body).status_code == 400
    assert stored(hook_app) == []


def test_an_oversized_body_is_a_413(meta, hook_app):
    body = meta_bytes({"object": "instagram", "entry": [], "padding": "x" * 70_000})
    assert post(meta, body).status_code == 413
    assert stored(hook_app) == []


def test_shapes_meta_may_also_send_are_kept(meta, hook_app):
    """The dashboard's test shape, standby events, ISO timestamps: stored, to be handled or ignored later."""
    for payload in ({"object": "instagram", "entry": [{"id": "0", "time": 1, "changes": [{"field": "messages"}]}]},
                    {"object": "instagram", "entry": [{"id": "1", "time": "2026-11-25T12:00:00+0000", "standby": []}]},
                    ["not", "an", "object"]):
        assert post(meta, meta_bytes(payload)).status_code == 200
    assert [d.object_type for d in stored(hook_app)] == ["instagram", "instagram", None]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=2048), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30).map(lambda value: json.dumps(value).encode())), signed=st.booleans())
def test_no_input_ever_gets_a_5xx_and_nothing_unsigned_is_kept(meta, hook_app, body, signed):
    before = len(stored(hook_app))
    response = post(meta, body, signature="sign" if signed else sign(body, "not-the-secret"))
    assert response.status_code < 500
    if not signed:
        assert response.status_code == 401 and len(stored(hook_app)) == before


def test_the_sandbox_delivers_a_customer_message_that_direto_keeps(app, sandbox):
    """Real HTTP: the live server's sandbox signs with the app secret and posts to the live server's endpoint."""
    sent = sandbox.post("messages", customer="ana", account="loja.demo", kind="text", text="Oi! Tem o tênis 42?")
    sandbox.post("deliveries/await", timeout=20)
    log = sandbox.get("deliveries")
    attempts = [a for d in log["deliveries"] for a in d["attempts"]]
    assert attempts and all(a["status_code"] == 200 for a in attempts)
    assert [d["status"] for d in log["deliveries"]] == ["delivered"]
    with app.app_context():
        [delivery] = db.session.scalars(db.select(WebhookDelivery)).all()
        assert sent["mid"] in delivery.body.decode() and "t\\u00eanis" in delivery.body.decode()


# ---- the database away ------------------------------------------------------------------------------------------


def test_while_the_database_is_away_deliveries_wait_on_disk_and_are_stored_once_it_answers(hook_app, test_settings,
                                                                                           tmp_path):
    """A PostgreSQL restart must not turn Meta's deliveries into 5xx answers, nor lose them."""
    spool_dir = tmp_path / "spool"
    away = create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "off",
                       "WEBHOOK_SPOOL_DIR": str(spool_dir),
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/such/folder/direto.sqlite3"})
    body = meta_bytes(MESSAGE)
    answer = post(away.test_client(), body)
    assert answer.status_code == 200 and answer.get_json() == {"received": True, "spooled": True}
    assert [path.read_bytes() for path in spool_dir.iterdir()] == [body]  # whole, under its final name only
    assert post(away.test_client(), body).status_code == 200  # Meta's redelivery of it: the same one file
    assert len(list(spool_dir.iterdir())) == 1

    from webapp.webhooks import spool

    back = create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "off",
                       "WEBHOOK_SPOOL_DIR": str(spool_dir)})
    with back.app_context():
        assert spool.drain(back) == 1
    assert list(spool_dir.iterdir()) == []
    [delivery] = stored(hook_app)
    assert delivery.body == body and delivery.status == DeliveryStatus.PENDING and delivery.object_type == "instagram"
    assert post(back.test_client(), body).get_json()["duplicate"] is True  # and Meta's later copy is not new


def test_with_neither_database_nor_disk_the_answer_asks_meta_to_deliver_again(test_settings, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    away = create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "off",
                       "WEBHOOK_SPOOL_DIR": str(tmp_path / "a-file" / "spool"),
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/such/folder/direto.sqlite3"})
    answer = post(away.test_client(), meta_bytes(MESSAGE))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
