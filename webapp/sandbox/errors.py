"""Meta's error envelope, and the catalogue of errors the sandbox can answer with.

Every Graph error is `{"error":{"message","type":"OAuthException","code","error_subcode","fbtrace_id"}}`,
HTTP 400 unless told otherwise. Clients must branch on code/subcode, never on the status.
"""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from flask import Response

from . import ids

UNSUPPORTED = (
    "Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api"
)

# (code, subcode) -> message, as Meta words them (meta-platform.md §4.4).
CATALOGUE: dict[tuple[int, int | None], str] = {
    (2, None): "An unexpected error has occurred. Please retry your request later.",
    (2, 1545133): "An unexpected error has occurred. Please retry your request later.",
    (4, None): "(#4) Application request limit reached",
    (10, None): "(#10) Application does not have permission for this action",
    (10, 2534022): "(#10) This message is sent outside of allowed window.",
    (17, None): "(#17) User request limit reached",
    (32, None): "(#32) Page request limit reached",
    (100, 2534014): "(#100) No matching user found",
    (100, 2018047): "(#100) Upload attachment failure.",
    (100, 36009): "This authorization code has been used.",
    (100, 36008): (
        "Error validating verification code. Please make sure your redirect_uri is identical to the one "
        "you used in the OAuth dialog request"
    ),
    (100, 36007): "This authorization code has expired.",
    (190, None): "Invalid OAuth access token.",
    (190, 458): "Error validating access token: The user has not authorized application {app_id}.",
    (190, 460): (
        "Error validating access token: The session has been invalidated because the user changed their "
        "password or Facebook has changed the session for security reasons."
    ),
    (190, 463): "Error validating access token: Session has expired on {expired}. The current time is {now}.",
    (230, None): "User consent is required to access user profile",
    (551, None): "(#551) This person isn't available right now.",
    (551, 1545041): "(#551) This person isn't available right now.",
    (613, None): "(#613) Calls to this api have exceeded the rate limit.",
    (9010, None): "No matching Instagram user",
    (80002, None): "There have been too many calls to this Instagram account.",
}

# Meta's usual subcode when a fault names only the code.
DEFAULT_SUBCODE = {551: 1545041}

_PACIFIC = ZoneInfo("America/Los_Angeles")


def meta_time(ms: int) -> str:
    """'Friday, 18-Aug-23 10:00:00 PDT', the way 190/463 messages print times."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).astimezone(_PACIFIC)
    return moment.strftime("%A, %d-%b-%y %H:%M:%S %Z")


class GraphError(Exception):
    """Raised anywhere under /graph; turned into Meta's envelope by the app's error handler."""

    def __init__(
        self,
        code: int,
        subcode: int | None = None,
        message: str | None = None,
        status: int = 400,
        user_title: str | None = None,
        user_msg: str | None = None,
        www_authenticate: str | None = None,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.message = message or catalogue_message(code, subcode)
        self.status = status
        self.user_title = user_title
        self.user_msg = user_msg
        self.www_authenticate = www_authenticate
        super().__init__(self.message)

    def envelope(self) -> dict:
        error: dict = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = ids.fbtrace_id()
        return {"error": error}

    def response(self) -> Response:
        body = self.envelope()
        response = Response(json.dumps(body, separators=(",", ":")), status=self.status, mimetype="application/json")
        response.headers["x-fb-trace-id"] = body["error"]["fbtrace_id"]
        challenge = self.www_authenticate or _default_challenge(self.code)
        if challenge:
            response.headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" {challenge} "{self.message}"'
        return response


def _default_challenge(code: int) -> str | None:
    return '"invalid_token"' if code == 190 else None


def catalogue_message(code: int, subcode: int | None, **values) -> str:
    template = CATALOGUE.get((code, subcode)) or CATALOGUE.get((code, None)) or f"(#{code}) An error occurred."
    return template.format(**{"app_id": "", "expired": "", "now": "", **values})


def unsupported(object_id: str, method: str = "get") -> GraphError:
    return GraphError(100, 33, UNSUPPORTED.format(method=method, object_id=object_id))


def expired_token(expired_ms: int, now_ms: int) -> GraphError:
    return GraphError(190, 463, catalogue_message(190, 463, expired=meta_time(expired_ms), now=meta_time(now_ms)))


def missing_param(name: str) -> GraphError:
    return GraphError(100, None, f"(#100) The parameter {name} is required")
