"""Configuration: environment first, then instance/, then defaults; production refuses unsafe values."""
import json
import subprocess
import sys

import pytest

from webapp import config, create_app


def _write_instance(path, **values):
    (path / config.INSTANCE_FILE).write_text(json.dumps(values))


def test_defaults_run_on_one_machine_with_nothing_installed(tmp_path):
    settings = config.load(tmp_path, environ={})
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'direto.sqlite3'}"
    assert settings["REDIS_URL"] is None
    assert settings["META_SANDBOX"] is False
    assert settings["META_GRAPH_URL"] == "https://graph.facebook.com/"
    assert settings["META_OAUTH_DIALOG_URL"] == "https://www.facebook.com/"


def test_environment_wins_over_the_instance_file(tmp_path):
    _write_instance(tmp_path, SECRET_KEY="from-file", FACEBOOK_CLIENT_ID="111", META_SANDBOX="1")
    settings = config.load(tmp_path, environ={"SECRET_KEY": "from-env"})
    assert settings["SECRET_KEY"] == "from-env"
    assert settings["FACEBOOK_CLIENT_ID"] == "111"
    assert settings["META_SANDBOX"] is True
    assert config.load(tmp_path, environ={"META_SANDBOX": "0"})["META_SANDBOX"] is False


def test_the_sandbox_maps_meta_hosts_onto_this_server(tmp_path):
    settings = config.load(tmp_path, environ={"META_SANDBOX": "1", "PUBLIC_BASE_URL": "http://127.0.0.1:5000/"})
    assert settings["META_GRAPH_URL"] == "http://127.0.0.1:5000/sandbox/graph/"
    assert settings["META_OAUTH_DIALOG_URL"] == "http://127.0.0.1:5000/sandbox/www/"
    assert settings["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:5000/webhooks/instagram"


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"])
def test_postgres_urls_use_psycopg_3(tmp_path, url):
    assert config.load(tmp_path, environ={"DATABASE_URL": url})["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


PRODUCTION_OK = {
    "DIRETO_ENV": "production",
    "SECRET_KEY": "a-real-secret-from-the-operator",
    "TOKEN_ENCRYPTION_KEY": "k" * 44,
    "META_VERIFY_TOKEN": "operator-verify-token",
    "FACEBOOK_CLIENT_ID": "1234",
    "FACEBOOK_CLIENT_SECRET": "operator-app-secret",
}


def test_production_starts_with_real_secrets(tmp_path):
    config.check_production(config.load(tmp_path, environ=PRODUCTION_OK))


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": config.DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"TOKEN_ENCRYPTION_KEY": ""}, "TOKEN_ENCRYPTION_KEY"),
        ({"META_VERIFY_TOKEN": ""}, "META_VERIFY_TOKEN"),
        ({"META_SANDBOX": "1"}, "META_SANDBOX"),
        ({"FACEBOOK_CLIENT_SECRET": ""}, "FACEBOOK_CLIENT_SECRET"),
        ({"FACEBOOK_CLIENT_ID": ""}, "FACEBOOK_CLIENT_ID"),
    ],
)
def test_production_refuses_default_secrets_and_the_sandbox(tmp_path, change, complaint):
    settings = config.load(tmp_path, environ={**PRODUCTION_OK, **change})
    with pytest.raises(config.ConfigError, match=complaint):
        config.check_production(settings)


def test_the_app_itself_refuses_to_start_in_production_with_the_default_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRETO_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_psycopg_imported_before_gevent_is_refused(test_settings, tmp_path):
    """Under gevent a blocking psycopg would freeze every request of a worker during each query: refuse to start."""
    script = (
        "import sys, psycopg\n"
        "from gevent import monkey\n"
        "monkey.patch_all()\n"
        "from webapp import create_app\n"
        "try:\n"
        f"    create_app({{'SQLALCHEMY_DATABASE_URI': 'postgresql+psycopg://nobody@127.0.0.1:9/none',"
        f" 'INSTANCE_PATH': {str(tmp_path)!r}}})\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    late = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert late.returncode == 3, late.stderr
    assert "before gevent's monkey patch" in late.stdout
    in_order = subprocess.run([sys.executable, "-c", script.replace("import sys, psycopg\n", "import sys\n")],
                              capture_output=True, text=True, timeout=60)
    assert in_order.returncode == 0, in_order.stdout + in_order.stderr
