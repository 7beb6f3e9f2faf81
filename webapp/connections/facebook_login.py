"""Facebook Login through Authlib: the dialog redirect, the state check and the code exchange.

The OAuth registry is made per app (tests build several apps in one process; a shared registry would mix them).
"""
from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, url_for

from webapp.meta.client import LOGIN_SCOPES, GraphClient, login_dialog_url


def init_app(app: Flask) -> None:
    oauth = OAuth(app)
    oauth.register(
        "facebook",
        client_id=app.config["FACEBOOK_CLIENT_ID"],
        client_secret=app.config["FACEBOOK_CLIENT_SECRET"],
        authorize_url=login_dialog_url(app.config),
        access_token_url=GraphClient.from_config(app.config).url("oauth/access_token"),
        client_kwargs={"scope": ",".join(LOGIN_SCOPES), "token_endpoint_auth_method": "client_secret_post"},
    )
    app.extensions["facebook_login"] = oauth.create_client("facebook")


def client():
    return current_app.extensions["facebook_login"]


def redirect_uri() -> str:
    """One fixed callback for every connection (the one registered in the Meta app); the connection rides in the session."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for("connections.oauth_callback")
