"""The Graph API client: the only code that builds Graph URLs (meta-platform.md §1, §4, §5).

Configuration alone points it at graph.facebook.com or at the sandbox (META_GRAPH_URL). Every failure comes out as
a typed `MetaError`; tokens travel in the Authorization header (never in URLs that proxies log) with an
appsecret_proof, as Meta recommends for server-side calls.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from webapp.meta import errors
from webapp.meta.signatures import appsecret_proof

log = logging.getLogger(__name__)

# What Direto asks of Facebook Login, and what linking cannot work without.
LOGIN_SCOPES = (
    "instagram_basic",
    "instagram_manage_messages",
    "pages_manage_metadata",
    "pages_show_list",
    "pages_messaging",
    "pages_read_engagement",
    "business_management",
)
REQUIRED_SCOPES = frozenset(LOGIN_SCOPES) - {"business_management"}  # only needed for Business-portfolio pages
WEBHOOK_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_seen",
    "message_reactions",
    "messaging_referral",
    "message_edit",
)
# Instagram's quick replies (meta-platform.md §4.1): at most 13, titles cut at 20 characters.
MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE = 20
PROFILE_FIELDS = "name,username,profile_pic,is_verified_user,follower_count,is_user_follow_business"
PAGE_FIELDS = "id,name,access_token,tasks,instagram_business_account{id,username,profile_picture_url}"
MAX_PAGING = 200  # a runaway `next` chain must end
CONNECT_TIMEOUT = 5.0
# Failures raised before any byte of the request left: Meta cannot have acted on these.
NEVER_SENT = (requests.ConnectTimeout, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
              requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)


@dataclass(frozen=True)
class InstagramAccount:
    id: str
    username: str | None
    picture_url: str | None


@dataclass(frozen=True)
class Page:
    id: str
    name: str
    access_token: str | None
    tasks: tuple[str, ...]
    instagram: InstagramAccount | None

    @classmethod
    def from_graph(cls, data: dict) -> "Page":
        ig = data.get("instagram_business_account")
        return cls(
            id=str(data["id"]),
            name=data.get("name") or str(data["id"]),
            access_token=data.get("access_token"),
            tasks=tuple(data.get("tasks") or ()),
            instagram=InstagramAccount(str(ig["id"]), ig.get("username"), ig.get("profile_picture_url")) if ig else None,
        )


@dataclass(frozen=True)
class Permissions:
    granted: frozenset[str]
    declined: frozenset[str]

    def missing(self, required=REQUIRED_SCOPES) -> list[str]:
        return sorted(set(required) - self.granted)


def login_dialog_url(config) -> str:
    """Facebook Login's dialog (a browser URL on www.facebook.com, or the sandbox's stand-in)."""
    return f"{config['META_OAUTH_DIALOG_URL'].rstrip('/')}/{config['META_GRAPH_VERSION']}/dialog/oauth"


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely did not reach Meta: it failed while connecting (refused, no route, DNS,
    connect timeout) or before it could be built."""
    if isinstance(exc, NEVER_SENT):
        return True
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        reason = getattr(cause, "reason", cause)  # requests wraps urllib3's MaxRetryError(reason=...)
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def unanswered(exc: requests.RequestException) -> errors.Transient:
    """The typed error for a request that got no answer. Only one that surely never left is plain Transient:
    a send that may have been delivered must not be sent again blindly."""
    if never_sent(exc):
        return errors.Transient(f"Could not reach Meta ({type(exc).__name__})")
    if isinstance(exc, requests.Timeout):
        return errors.Unconfirmed(f"Meta did not answer in time ({type(exc).__name__})")
    return errors.Unconfirmed(f"The connection to Meta broke before its answer ({type(exc).__name__})")


class GraphClient:
    def __init__(self, graph_url: str, version: str, app_id: str | None, app_secret: str | None,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, 20), session: requests.Session | None = None):
        self.base = graph_url.rstrip("/") + "/"
        self.version = version
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = timeout
        self.http = session or requests.Session()

    @classmethod
    def from_config(cls, config) -> "GraphClient":
        return cls(config["META_GRAPH_URL"], config["META_GRAPH_VERSION"], config["FACEBOOK_CLIENT_ID"],
                   config["FACEBOOK_CLIENT_SECRET"],
                   timeout=(CONNECT_TIMEOUT, float(config.get("META_READ_TIMEOUT", 20))))

    def url(self, path: str) -> str:
        return f"{self.base}{self.version}/{path.lstrip('/')}"

    # ---- plumbing ----------------------------------------------------------------------------

    def request(self, method: str, path_or_url: str, token: str | None = None, params: dict | None = None,
                data: dict | None = None, json: dict | None = None) -> dict:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url(path_or_url)
        params = dict(params or {})
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            if self.app_secret:
                params["appsecret_proof"] = appsecret_proof(token, self.app_secret)
        started = time.monotonic()
        try:
            response = self.http.request(method, url, params=params, data=data, json=json, headers=headers,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise unanswered(exc) from exc
        log.info("graph %s %s -> %s in %.0f ms", method, urlsplit(url).path, response.status_code,
                 (time.monotonic() - started) * 1000)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise errors.from_response(response.status_code, body if body is not None else response.text)
        if not isinstance(body, dict):
            raise errors.from_response(response.status_code, response.text)
        return body

    def _follow(self, next_url: str) -> bool:
        """Only follow paging links that stay on the Graph host we were configured with (the token goes along)."""
        ours, theirs = urlsplit(self.base), urlsplit(next_url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc) and theirs.path.startswith(ours.path)

    # ---- Facebook Login ------------------------------------------------------------------------

    def long_lived_user_token(self, short_lived_token: str) -> str:
        body = self.request("GET", "oauth/access_token", params={
            "grant_type": "fb_exchange_token",
            "client_id": self.app_id,
            "client_secret": self.app_secret,
            "fb_exchange_token": short_lived_token,
        })
        return body["access_token"]

    def me(self, user_token: str) -> dict:
        return self.request("GET", "me", token=user_token, params={"fields": "id,name"})

    def permissions(self, user_token: str) -> Permissions:
        body = self.request("GET", "me/permissions", token=user_token)
        granted = {p["permission"] for p in body.get("data", []) if p.get("status") == "granted"}
        declined = {p["permission"] for p in body.get("data", []) if p.get("status") == "declined"}
        return Permissions(frozenset(granted), frozenset(declined))

    # ---- pages -----------------------------------------------------------------------------------

    def pages(self, user_token: str) -> list[Page]:
        """Every page of the profile, following Graph's cursor paging to the end."""
        found: list[Page] = []
        body = self.request("GET", "me/accounts", token=user_token, params={"fields": PAGE_FIELDS, "limit": 25})
        for _ in range(MAX_PAGING):
            found.extend(Page.from_graph(item) for item in body.get("data", []))
            next_url = (body.get("paging") or {}).get("next")
            if not next_url or not self._follow(next_url):
                break
            body = self.request("GET", next_url, token=user_token)
        return found

    def subscribe(self, page_id: str, page_token: str, fields=WEBHOOK_FIELDS) -> None:
        body = self.request("POST", f"{page_id}/subscribed_apps", token=page_token,
                            data={"subscribed_fields": ",".join(fields)})
        if body.get("success") is not True:
            raise errors.InvalidRequest(f"Meta did not confirm the subscription: {body}")

    def subscribed_fields(self, page_id: str, page_token: str) -> set[str]:
        """The webhook fields this app is subscribed to on the page (empty when it is not installed)."""
        body = self.request("GET", f"{page_id}/subscribed_apps", token=page_token)
        for app in body.get("data", []):
            if str(app.get("id")) == str(self.app_id):
                return set(app.get("subscribed_fields") or ())
        return set()

    def unsubscribe(self, page_id: str, page_token: str) -> None:
        self.request("DELETE", f"{page_id}/subscribed_apps", token=page_token)

    # ---- messaging -------------------------------------------------------------------------------

    def send_message(self, page_id: str, page_token: str, recipient_igsid: str, message: dict,
                     messaging_type: str = "RESPONSE") -> str:
        """The Send API; returns Meta's message id (the mid its echo will carry)."""
        body = self.request("POST", f"{page_id}/messages", token=page_token, json={
            "recipient": {"id": recipient_igsid}, "messaging_type": messaging_type, "message": message})
        mid = body.get("message_id")
        if not mid:
            raise errors.InvalidRequest(f"Meta accepted the message without an id: {body}")
        return str(mid)

    def user_profile(self, igsid: str, page_token: str) -> dict:
        """A customer's name, @username and picture; 230/9010 come out as ProfileUnavailable."""
        return self.request("GET", igsid, token=page_token, params={"fields": PROFILE_FIELDS})
