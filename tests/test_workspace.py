"""Assuntos, Respostas rápidas and Configurações: htmx fragments with inline errors, 404 for everyone but admins.

The admin reads English here: the assertions hold before and after the pt-BR catalog gains these texts.
"""
import datetime as dt
import html

import pytest

from tests.conftest import csrf_token, htmx, value_of
from webapp.extensions import db
from webapp.team import directory
from webapp.workspace import protocol, store
from webapp.workspace.models import CompanySettings, QuickReply, Subject

EMOJI = "😀"  # four bytes of UTF-8


@pytest.fixture
def records(app):
    with app.app_context():
        subject = store.save_subject(None, "Troca")
        reply = store.save_quick_reply(None, shortcut="oi", text="Olá!", department_id=None)
        return {"subject": subject.id, "reply": reply.id}


@pytest.fixture
def admin(english_admin):
    return english_admin


def _routes(ids):
    subject, reply = ids["subject"], ids["reply"]
    return [
        ("get", "/admin/subjects"), ("get", "/admin/subjects/new"), ("post", "/admin/subjects"),
        ("get", f"/admin/subjects/{subject}/edit"), ("post", f"/admin/subjects/{subject}"),
        ("post", f"/admin/subjects/{subject}/active"),
        ("get", "/admin/quick-replies"), ("get", "/admin/quick-replies/new"), ("post", "/admin/quick-replies"),
        ("get", f"/admin/quick-replies/{reply}/edit"), ("post", f"/admin/quick-replies/{reply}"),
        ("post", f"/admin/quick-replies/{reply}/delete"),
        ("get", "/admin/settings"), ("post", "/admin/settings"), ("get", "/admin/settings/protocol-sample?protocol_format=x"),
    ]


def test_agents_and_supervisors_get_404_on_every_workspace_route(app, agent_client, supervisor_client, records):
    for client in (agent_client, supervisor_client):
        token = csrf_token(client, "/")
        for method, path in _routes(records):
            response = getattr(client, method)(path, data={"csrf_token": token, "name": "x"} if method == "post" else None, headers=htmx())
            assert response.status_code == 404, (client.user["role"], method, path)
    with app.app_context():
        assert db.session.get(Subject, records["subject"]).active
        assert db.session.get(QuickReply, records["reply"]) is not None
        assert db.session.get(CompanySettings, store.SETTINGS_ID) is None  # not even read


# ---- subjects --------------------------------------------------------------------------------------------


def _subject_names(app):
    with app.app_context():
        return [(s.name, s.active) for s in store.all_subjects()]


def test_admin_creates_renames_and_deactivates_subjects(app, admin):
    form = admin.get("/admin/subjects/new", headers=htmx())
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    created = admin.post("/admin/subjects", data={"csrf_token": admin.token, "name": "  Troca   de produto "}, headers=htmx())
    assert created.status_code == 200 and "Subject Troca de produto saved." in created.get_data(as_text=True)
    with app.app_context():
        subject_id = store.all_subjects()[0].id
        assert [s.name for s in store.active_subjects()] == ["Troca de produto"]

    renamed = admin.post(f"/admin/subjects/{subject_id}", data={"csrf_token": admin.token, "name": "Troca"}, headers=htmx())
    assert renamed.status_code == 200
    toggled = admin.post(f"/admin/subjects/{subject_id}/active", data={"csrf_token": admin.token}, headers=htmx())
    assert "Subject Troca deactivated." in toggled.get_data(as_text=True)
    assert _subject_names(app) == [("Troca", False)]
    with app.app_context():
        assert store.active_subjects() == []


def test_subject_names_are_required_and_unique(admin):
    empty = admin.post("/admin/subjects", data={"csrf_token": admin.token, "name": "  "}, headers=htmx())
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.get_data(as_text=True)
    admin.post("/admin/subjects", data={"csrf_token": admin.token, "name": "Dúvida"}, headers=htmx())
    again = admin.post("/admin/subjects", data={"csrf_token": admin.token, "name": "DÚVIDA"}, headers=htmx())
    body = again.get_data(as_text=True)
    assert again.status_code == 422 and "A subject with this name already exists." in body
    assert value_of(body, "name") == "DÚVIDA"


def test_subject_plain_post_redirects(admin):
    response = admin.post("/admin/subjects", data={"csrf_token": admin.token, "name": "Elogio"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/subjects"


# ---- quick replies ---------------------------------------------------------------------------------------


def _reply(token, **fields):
    return {"csrf_token": token, "shortcut": "/boasvindas", "text": "Olá! Em que posso ajudar?", "department": "", **fields}


def _replies(app):
    with app.app_context():
        return [(r.shortcut, r.text, r.department.name if r.department else None) for r in store.all_quick_replies()]


def test_admin_creates_edits_and_deletes_a_quick_reply(app, admin):
    created = admin.post("/admin/quick-replies", data=_reply(admin.token), headers=htmx())
    body = created.get_data(as_text=True)
    assert created.status_code == 200 and "Quick reply /boasvindas saved." in body and "Everyone" in body
    assert _replies(app) == [("boasvindas", "Olá! Em que posso ajudar?", None)]
    with app.app_context():
        reply_id = store.all_quick_replies()[0].id
        vendas = directory.ensure_department("Vendas").id

    edit = admin.get(f"/admin/quick-replies/{reply_id}/edit", headers=htmx()).get_data(as_text=True)
    assert value_of(edit, "shortcut") == "/boasvindas"
    saved = admin.post(f"/admin/quick-replies/{reply_id}",
                       data=_reply(admin.token, shortcut="BoasVindas", text="Oi!\r\nTudo bem?", department=str(vendas)), headers=htmx())
    assert saved.status_code == 200
    assert _replies(app) == [("boasvindas", "Oi!\nTudo bem?", "Vendas")]  # CRLF from the browser stored as LF

    deleted = admin.post(f"/admin/quick-replies/{reply_id}/delete", data={"csrf_token": admin.token}, headers=htmx())
    assert deleted.status_code == 200 and "Quick reply /boasvindas deleted." in deleted.get_data(as_text=True)
    assert _replies(app) == []


def test_a_1000_byte_emoji_text_fits_and_1001_bytes_do_not(app, admin):
    exactly = EMOJI * 250
    assert len(exactly.encode()) == 1000 and len(exactly) == 250
    assert admin.post("/admin/quick-replies", data=_reply(admin.token, text=exactly), headers=htmx()).status_code == 200

    too_long = EMOJI * 250 + "!"
    response = admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="longo", text=too_long), headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Instagram accepts at most 1000 bytes per message; this text has 1001" in body
    assert too_long + "</textarea>" in body  # the text is kept
    assert [r[0] for r in _replies(app)] == ["boasvindas"]


def test_line_breaks_count_once(admin):
    text = "a\r\n" * 333 + "b"  # 1000 bytes once CRLF becomes LF, 1333 if it did not
    assert admin.post("/admin/quick-replies", data=_reply(admin.token, text=text), headers=htmx()).status_code == 200


@pytest.mark.parametrize("shortcut", ["boas vindas", "promoção", "/", "-x", "a" * 41, "olá!"])
def test_shortcuts_are_slugs(admin, shortcut):
    response = admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut=shortcut), headers=htmx())
    assert response.status_code == 422
    assert "Use lower-case letters without accents, digits, - and _ (up to 40)." in response.get_data(as_text=True)


def test_shortcuts_are_unique_whatever_the_case_or_slash(admin):
    admin.post("/admin/quick-replies", data=_reply(admin.token), headers=htmx())
    again = admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="BOASVINDAS"), headers=htmx())
    assert again.status_code == 422 and "This shortcut is already taken." in again.get_data(as_text=True)


def test_quick_replies_scoped_to_a_department(app, admin):
    with app.app_context():
        vendas, suporte = directory.ensure_department("Vendas").id, directory.ensure_department("Suporte").id
    admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="todos"), headers=htmx())
    admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="vendas", department=str(vendas)), headers=htmx())
    admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="suporte", department=str(suporte)), headers=htmx())
    with app.app_context():
        assert [r.shortcut for r in store.quick_replies_for([vendas])] == ["todos", "vendas"]
        assert [r.shortcut for r in store.quick_replies_for([])] == ["todos"]
        directory.set_department_active(db.session.get(directory.Department, suporte), False)
    refused = admin.post("/admin/quick-replies", data=_reply(admin.token, shortcut="x", department=str(suporte)), headers=htmx())
    assert refused.status_code == 422 and "Choose an active department." in refused.get_data(as_text=True)


def test_quick_reply_text_is_shown_as_text(admin):
    admin.post("/admin/quick-replies", data=_reply(admin.token, text="<script>alert(1)</script>"), headers=htmx())
    page = admin.get("/admin/quick-replies").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


# ---- company settings and protocol numbers ---------------------------------------------------------------


def test_settings_are_created_with_defaults_on_first_read(app, admin):
    page = admin.get("/admin/settings")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and value_of(body, "protocol_format") == "{date:%Y%m%d}{seq:04d}"
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-3))).date()
    assert f"<strong>{today:%Y%m%d}0001</strong>" in body  # the sample, in São Paulo's date
    with app.app_context():
        settings = store.company_settings()
        assert (settings.protocol_format, settings.subject_required_on_close, settings.agent_name_in_messages,
                settings.time_zone) == ("{date:%Y%m%d}{seq:04d}", False, True, "America/Sao_Paulo")
        assert store.company_settings().id == settings.id == 1


def test_admin_saves_the_settings(app, admin):
    data = {"csrf_token": admin.token, "protocol_format": "AT-{date:%y%m%d}-{seq:05d}", "subject_required_on_close": "y",
            "time_zone": "America/Manaus"}
    response = admin.post("/admin/settings", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Settings saved." in body and "-00001</strong>" in body
    with app.app_context():
        settings = store.company_settings()
        assert (settings.protocol_format, settings.subject_required_on_close, settings.agent_name_in_messages,
                settings.time_zone) == ("AT-{date:%y%m%d}-{seq:05d}", True, False, "America/Manaus")
    plain = admin.post("/admin/settings", data=data)
    assert plain.status_code == 302 and plain.headers["Location"] == "/admin/settings"


@pytest.mark.parametrize("fmt,message", [
    ("{date:%Y%m%d}", "Include the day's sequence, e.g. {seq:04d}."),
    ("{seq:04d}", "Include the year, month and day"),
    ("{date:%m%d}{seq:04d}", "Include the year, month and day"),
    ("{date:%Y%m}{seq:04d}", "Include the year, month and day"),
    ("{date.year}{seq}", "Only {date:...} and {seq:...} can be used."),
    ("{date:%Y%m%d}{seq.__class__}", "Only {date:...} and {seq:...} can be used."),
    ("{user}{seq}", "Only {date:...} and {seq:...} can be used."),
    ("{date:%Y%m%d}{seq:s}", "This format cannot be used."),
    ("{date:%Y%m%d}{seq:999999999d}", "This format cannot be used."),
    ("{date:%Y%m%d}{seq!r}", "This format cannot be used."),
    ("{date:%Y%m%d}{seq", "This format cannot be used."),
    ("{date:%Y%m%d} <{seq}>", "A protocol may have letters, digits, spaces and . _ / # -"),
])
def test_protocol_formats_are_checked_by_formatting_a_sample(app, admin, fmt, message):
    response = admin.post("/admin/settings", data={"csrf_token": admin.token, "protocol_format": fmt, "time_zone": "UTC"}, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html.unescape(body)
    assert value_of(body, "protocol_format") == fmt
    with app.app_context():
        assert store.company_settings().protocol_format == protocol.DEFAULT_PROTOCOL_FORMAT


def test_an_unknown_company_time_zone_is_refused(admin):
    data = {"csrf_token": admin.token, "protocol_format": protocol.DEFAULT_PROTOCOL_FORMAT, "time_zone": "Sao Paulo"}
    response = admin.post("/admin/settings", data=data, headers=htmx())
    assert response.status_code == 422 and "Unknown time zone." in response.get_data(as_text=True)


def test_the_live_sample_follows_what_the_admin_types(admin):
    good = admin.get("/admin/settings/protocol-sample", query_string={"protocol_format": "P{date:%Y%m%d}/{seq:03d}"}, headers=htmx())
    body = good.get_data(as_text=True)
    assert good.status_code == 200 and 'id="protocol-sample"' in body and "/001</strong>" in body and "<html" not in body
    bad = admin.get("/admin/settings/protocol-sample", query_string={"protocol_format": "{seq}"}, headers=htmx())
    assert "Include the year, month and day" in bad.get_data(as_text=True)


def test_format_protocol_builds_the_daily_numbers():
    day = dt.date(2026, 11, 25)
    assert protocol.format_protocol(protocol.DEFAULT_PROTOCOL_FORMAT, day, 1) == "202611250001"
    assert protocol.format_protocol(protocol.DEFAULT_PROTOCOL_FORMAT, day, 12345) == "2026112512345"
    assert protocol.check_format("{date:%Y-%m-%d} {seq:04d}") == "2026-11-25 0001"
    assert protocol.check_format("{date:%j%Y}{seq}") == "32920261"  # day of the year also tells days apart
