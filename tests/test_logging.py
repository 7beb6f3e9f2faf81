"""No secret reaches the logs."""
import logging

from webapp.core.logging import redact


def test_tokens_and_secrets_are_redacted():
    line = ("GET /oauth/access_token?client_id=1&client_secret=s3cr3t&code=AQDx&redirect_uri=x "
            "Authorization: Bearer EAAB123.abc access_token=EAAC999&fields=id password=hunter2")
    cleaned = redact(line)
    for secret in ("s3cr3t", "AQDx", "EAAB123.abc", "EAAC999", "hunter2"):
        assert secret not in cleaned
    assert "client_id=1" in cleaned and "fields=id" in cleaned


def test_app_logger_redacts_what_it_prints(app, caplog):
    with caplog.at_level(logging.INFO):
        app.logger.warning("calling graph with access_token=%s", "EAAsecret")
    assert "EAAsecret" not in caplog.text
    assert "access_token=[redacted]" in caplog.text
