"""The Meta boundary without the network: error mapping (meta-platform.md §4.4), signatures, token crypto."""
import socket
import threading

import pytest
from cryptography.fernet import Fernet

from webapp.core import crypto
from webapp.meta import client, errors, signatures


@pytest.mark.parametrize(
    "code, subcode, expected, retryable",
    [
        (190, 463, errors.TokenInvalid, False),
        (190, 460, errors.TokenInvalid, False),
        (190, None, errors.TokenInvalid, False),
        (10, 2534022, errors.OutsideWindow, False),
        (551, 1545041, errors.RecipientUnavailable, False),
        (230, None, errors.ProfileUnavailable, False),
        (9010, None, errors.ProfileUnavailable, False),
        (100, 36009, errors.CodeAlreadyUsed, False),
        (100, None, errors.InvalidRequest, False),
        (10, None, errors.PermissionMissing, False),
        (200, None, errors.PermissionMissing, False),
        (4, None, errors.RateLimited, True),
        (17, None, errors.RateLimited, True),
        (32, None, errors.RateLimited, True),
        (613, None, errors.RateLimited, True),
        (2, 1545133, errors.Transient, True),
    ],
)
def test_meta_codes_become_typed_errors(code, subcode, expected, retryable):
    body = {"error": {"message": "(#x) text", "type": "OAuthException", "code": code, "error_subcode": subcode,
                      "fbtrace_id": "AbC"}}
    error = errors.from_response(400, body)
    assert type(error) is expected
    assert error.retryable is retryable
    assert (error.code, error.subcode, error.fbtrace_id) == (code, subcode, "AbC")


def test_the_http_status_does_not_decide_when_there_is_a_code():
    # graph.instagram.com answers 403 for the window error; the code is what counts.
    assert type(errors.from_response(403, {"error": {"code": 10, "error_subcode": 2534022}})) is errors.OutsideWindow


@pytest.mark.parametrize("status, body, expected", [
    (500, "<html>oops</html>", errors.Transient),
    (502, None, errors.Transient),
    (400, {"unexpected": True}, errors.InvalidRequest),
    (400, {"error": "a string, not an object"}, errors.InvalidRequest),
    (400, {"error": {"code": "190"}}, errors.TokenInvalid),  # codes as strings still map
])
def test_anything_else_meta_may_send_still_maps(status, body, expected):
    error = errors.from_response(status, body)
    assert type(error) is expected and str(error)


def test_webhook_signature_is_checked_over_the_exact_bytes():
    body = b'{"object":"instagram","entry":[{"text":"Ol\\u00e1"}]}'
    header = signatures.sign(body, "app-secret")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signatures.verify(body, header, "app-secret")
    assert not signatures.verify(body + b" ", header, "app-secret")
    assert not signatures.verify(body, header, "another-secret")
    assert not signatures.verify(body, None, "app-secret")
    assert not signatures.verify(body, "sha256=" + "0" * 64, "app-secret")


def test_page_tokens_are_encrypted_at_rest():
    config = {"TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "SECRET_KEY": "x"}
    stored = crypto.encrypt("EAAB-page-token", config)
    assert "EAAB" not in stored
    assert crypto.decrypt(stored, config) == "EAAB-page-token"
    assert crypto.encrypt("EAAB-page-token", config) != stored  # random IV: equal tokens do not look equal


def test_a_rotated_key_still_reads_old_tokens_and_a_wrong_key_fails_clearly():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = crypto.encrypt("token", {"TOKEN_ENCRYPTION_KEY": old, "SECRET_KEY": "x"})
    assert crypto.decrypt(stored, {"TOKEN_ENCRYPTION_KEY": f"{new},{old}", "SECRET_KEY": "x"}) == "token"
    with pytest.raises(crypto.TokenDecryptError):
        crypto.decrypt(stored, {"TOKEN_ENCRYPTION_KEY": new, "SECRET_KEY": "x"})


# ---- no answer: was the request delivered? ---------------------------------------------------------------


def graph_at(port: int, read_timeout: float = 0.3) -> client.GraphClient:
    return client.GraphClient(f"http://127.0.0.1:{port}/", "v24.0", "app", "secret", timeout=(1, read_timeout))


def send_through(graph: client.GraphClient) -> errors.MetaError:
    with pytest.raises(errors.MetaError) as raised:
        graph.send_message("page", "page-token", "igsid", {"text": "Oi"})
    return raised.value


def test_a_refused_connection_is_transient_and_safe_to_send_again():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = send_through(graph_at(port))
    assert type(error) is errors.Transient and error.retryable


def test_no_answer_in_time_leaves_the_request_unconfirmed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # the kernel accepts the connection; nobody ever answers
        error = send_through(graph_at(server.getsockname()[1]))
    assert type(error) is errors.Unconfirmed and error.retryable  # a read may be repeated; a send must be confirmed
    assert "in time" in str(error)


def test_a_connection_dropped_after_the_request_left_is_unconfirmed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def read_then_hang_up():
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)  # the request arrived: Meta might act on it...

        listener = threading.Thread(target=read_then_hang_up)
        listener.start()
        error = send_through(graph_at(server.getsockname()[1], read_timeout=5))
        listener.join(5)
    assert type(error) is errors.Unconfirmed  # ...so the caller cannot know whether it was sent


def test_the_read_timeout_is_configured_and_the_connect_timeout_stays_short():
    config = {"META_GRAPH_URL": "https://graph.facebook.com/", "META_GRAPH_VERSION": "v24.0",
              "FACEBOOK_CLIENT_ID": "1", "FACEBOOK_CLIENT_SECRET": "s", "META_READ_TIMEOUT": 7}
    assert client.GraphClient.from_config(config).timeout == (5, 7.0)
