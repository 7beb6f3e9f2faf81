"""The shell: navigation per role, languages, health, security headers, escaping."""
import re

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo

from tests.conftest import ROOT, csrf_token
from webapp.core.security import CONTENT_SECURITY_POLICY, content_security_policy


def test_admin_navigation_has_every_page(admin_client):
    page = admin_client.get("/").get_data(as_text=True)
    for label, href in (("Chat", "/"), ("Conexões", "/connections/"), ("Histórico", "/history"), ("Administração", "/admin/")):
        assert f'href="{href}"' in page and label in page


def test_agent_navigation_hides_admin_pages(agent_client):
    page = agent_client.get("/").get_data(as_text=True)
    assert "Histórico" in page
    assert 'href="/connections/"' not in page and 'href="/admin/"' not in page


def test_every_page_a_user_may_see_renders(admin_client):
    for path in ("/", "/history", "/connections/", "/admin/users", "/admin/departments"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert 'aria-current="page"' in response.get_data(as_text=True), path


def test_switching_to_english_is_remembered_for_the_user(app, admin_client):
    token = csrf_token(admin_client, "/")
    response = admin_client.post("/language", data={"csrf_token": token, "language": "en", "next": "/history"})
    assert response.status_code == 302 and response.headers["Location"] == "/history"
    assert "History" in admin_client.get("/history").get_data(as_text=True)
    # Another browser of the same user gets English too: it is stored on the user.
    from webapp.extensions import db
    from webapp.team.models import User

    with app.app_context():
        assert db.session.get(User, admin_client.user["id"]).language == "en"


def test_language_switch_ignores_unknown_languages_and_foreign_next(admin_client):
    token = csrf_token(admin_client, "/")
    response = admin_client.post("/language", data={"csrf_token": token, "language": "xx", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert "Histórico" in admin_client.get("/").get_data(as_text=True)


def test_language_switch_before_sign_in_uses_a_cookie(client):
    token = csrf_token(client)
    client.post("/language", data={"csrf_token": token, "language": "en", "next": "/login"})
    assert "Remember me" in client.get("/login").get_data(as_text=True)


def test_healthz_reports_the_database(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    if app.config["REDIS_URL"]:
        assert body["redis"] == "ok"


def test_healthz_says_when_the_database_is_down(test_settings, tmp_path):
    from webapp import create_app

    broken = create_app({**test_settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"].startswith("error")


def test_healthz_with_redis_down_is_degraded_not_down(test_settings):
    """Without Redis live events go by polling: a load balancer must keep sending users to this process."""
    from webapp import create_app

    app = create_app({**test_settings, "REDIS_URL": "redis://127.0.0.1:9/0"})  # nothing listens on port 9
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and body["database"] == "ok" and body["redis"].startswith("error")


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # Facebook Login's dialog is the one other place a form may lead to (the redirect after "Continue").
    assert "form-action 'self' https://www.facebook.com" in policy.split("; ")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_with_the_sandbox_the_policy_stays_same_origin():
    config = {"META_OAUTH_DIALOG_URL": "http://127.0.0.1:5000/sandbox/www/", "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}
    assert content_security_policy(config) == CONTENT_SECURITY_POLICY


def test_templates_have_no_inline_script_or_style():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=|<style", text), template
        assert not re.search(r"\son[a-z]+=", text), template


def test_unknown_page_is_a_404_in_the_product_language(client):
    response = client.get("/nope")
    assert response.status_code == 404 and "Página não encontrada." in response.get_data(as_text=True)


def test_every_ui_text_has_a_portuguese_translation():
    """An English msgid without a pt-BR string would show English to a Brazilian team."""
    with open(ROOT / "webapp/translations/pt_BR/LC_MESSAGES/messages.mo", "rb") as fh:
        catalog = read_mo(fh)
    # read_mo gives contexts as bytes, and a plural's ids and strings as lists (singular first)
    translated = {(m.id[0] if isinstance(m.id, (list, tuple)) else m.id,
                   m.context.decode() if isinstance(m.context, bytes) else m.context)
                  for m in catalog if m.id and (all(m.string) if isinstance(m.string, (list, tuple)) else m.string)}
    method_map = [("webapp/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
    missing = set()
    for _, _, message, _, context in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        if (msgid, context) not in translated:
            missing.add((context, msgid) if context else msgid)
    assert not missing, f"missing pt-BR translations (run `make extract-messages`): {sorted(missing)}"
