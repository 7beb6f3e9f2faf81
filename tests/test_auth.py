"""Signing in and out: passwords, remember me, throttling, CSRF and cookies."""
import datetime as dt

from tests.conftest import TEST_PASSWORD, AuthActions, csrf_token
from webapp.auth import throttle
from webapp.extensions import db
from webapp.team.models import LoginAttempt


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_with_the_right_password_opens_chat(client, auth, make_user):
    user = make_user("agent")
    response = auth.login(user["email"].upper())  # e-mail is case-insensitive
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert user["name"] in page


def test_wrong_password_and_unknown_email_get_the_same_answer(client, auth, make_user):
    user = make_user("agent")
    wrong = auth.login(user["email"], "not the password")
    unknown = auth.login("nobody@example.test", "whatever1")
    assert wrong.status_code == unknown.status_code == 401
    assert "E-mail ou senha incorretos." in wrong.get_data(as_text=True)
    assert "E-mail ou senha incorretos." in unknown.get_data(as_text=True)
    # The e-mail typed stays in the form.
    assert f'value="{user["email"]}"' in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_deactivated_user_cannot_sign_in(auth, make_user):
    user = make_user("agent", active=False)
    assert auth.login(user["email"]).status_code == 401


def test_sign_in_follows_next_but_never_off_site(client, auth, make_user):
    user = make_user("admin", departments=())
    assert auth.login(user["email"], query_string={"next": "/admin/users"}).headers["Location"] == "/admin/users"
    auth.logout()
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert auth.login(user["email"], query_string={"next": evil}).headers["Location"] == "/"
        auth.logout()


def test_sign_out_needs_a_post_with_csrf(client, auth, make_user):
    user = make_user("agent")
    auth.login(user["email"])
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_post_without_csrf_token_is_refused_with_words(client, make_user):
    user = make_user("agent")
    response = client.post("/login", data={"email": user["email"], "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "formulário expirou" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_remember_me_sets_a_lasting_httponly_cookie(client, auth, make_user):
    user = make_user("agent")
    response = auth.login(user["email"], remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "Expires=" in remember and "SameSite=Lax" in remember


def test_session_cookie_is_httponly_and_lax(client):
    response = client.get("/login")
    session_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http on a laptop


def test_secure_cookies_behind_https(test_settings):
    from webapp import create_app

    app = create_app({**test_settings, "PUBLIC_BASE_URL": "https://direto.example"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_repeated_failures_lock_sign_in_even_with_the_right_password(client, auth, make_user, app):
    user = make_user("agent")
    limit = app.config["LOGIN_THROTTLE_ATTEMPTS"]
    for _ in range(limit):
        assert auth.login(user["email"], "wrong password").status_code == 401
    locked = auth.login(user["email"])
    assert locked.status_code == 429
    assert "Muitas tentativas" in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_lock_expires_with_its_window(app):
    with app.app_context():
        now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
        for minute in range(5):
            db.session.add(LoginAttempt(email="a@x.test", remote_addr="10.0.0.1", created_at=now + dt.timedelta(minutes=minute)))
        db.session.commit()
        later = now + dt.timedelta(minutes=5)
        wait = throttle.seconds_locked("a@x.test", "10.0.0.9", limit=5, window_seconds=900, now=later)
        assert wait == 600  # the first failure leaves the 15-minute window 10 minutes from now
        assert throttle.seconds_locked("a@x.test", "10.0.0.9", 5, 900, now=now + dt.timedelta(minutes=15, seconds=1)) == 0
        assert throttle.seconds_locked("b@x.test", "10.0.0.9", 5, 900, now=later) == 0


def test_one_address_guessing_many_accounts_is_locked(app):
    with app.app_context():
        for n in range(20):
            throttle.record_failure(f"user{n}@x.test", "10.0.0.7", 900)
        assert throttle.seconds_locked("someone.else@x.test", "10.0.0.7", 5, 900) > 0
        assert throttle.seconds_locked("someone.else@x.test", "10.0.0.8", 5, 900) == 0


def test_success_clears_the_failures(client, auth, make_user, app):
    user = make_user("agent")
    for _ in range(app.config["LOGIN_THROTTLE_ATTEMPTS"] - 1):
        auth.login(user["email"], "wrong password")
    assert auth.login(user["email"]).status_code == 302
    auth.logout()
    assert auth.login(user["email"], "wrong password").status_code == 401
    assert auth.login(user["email"]).status_code == 302


def test_signing_in_as_oneself_does_not_reset_guesses_at_someone_else(app, make_user):
    """One address guessing the admin's password, signing in as itself between rounds, is still locked out."""
    admin, agent = make_user("admin", departments=()), make_user("agent")
    limit = app.config["LOGIN_THROTTLE_ATTEMPTS"]
    guesser = AuthActions(app.test_client())
    answers = []
    for _ in range(3):
        for _ in range(limit - 1):
            answers.append(guesser.login(admin["email"], "a guess").status_code)
        assert guesser.login(agent["email"]).status_code == 302
        guesser.logout()
    assert 429 in answers


def test_language_before_sign_in_follows_the_browser(client):
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in english and 'lang="en"' in english
    portuguese = client.get("/login", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert "Entrar" in portuguese and 'lang="pt-BR"' in portuguese
    assert csrf_token(client)
