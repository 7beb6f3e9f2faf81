"""The command line: how a production install gets its first admin, and `make run`'s first-run steps."""
import json
import stat

from tests.conftest import AuthActions
from webapp.bots.models import Bot
from webapp.extensions import db
from webapp.team.models import Department, Role, find_user_by_email


def test_create_user_makes_an_admin_who_can_sign_in(app, runner):
    result = runner.invoke(args=["create-user", "Chefe@Example.test", "--password", "long enough pw", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert "Created admin chefe@example.test" in result.output
    assert AuthActions(app.test_client()).login("chefe@example.test", "long enough pw").status_code == 302


def test_create_user_with_departments_creates_missing_ones(app, runner):
    result = runner.invoke(args=["create-user", "ag@example.test", "--password", "long enough pw", "--role", "agent",
                                 "--department", "Vendas", "--department", "Pós-venda"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = find_user_by_email("ag@example.test")
        assert user.role == Role.AGENT
        assert sorted(d.name for d in user.departments) == ["Pós-venda", "Vendas"]


def test_create_user_refuses_duplicates_and_short_passwords(runner):
    args = ["create-user", "x@example.test", "--role", "agent"]
    assert runner.invoke(args=args + ["--password", "long enough pw"]).exit_code == 0
    duplicate = runner.invoke(args=args + ["--password", "long enough pw"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "y@example.test", "--role", "agent", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output


def test_init_instance_writes_secrets_once_and_keeps_them(app, runner):
    path = app.instance_path + "/direto.json"
    first = runner.invoke(args=["init-instance"])
    assert first.exit_code == 0, first.output
    with open(path) as fh:
        written = json.load(fh)
    for key in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET", "META_VERIFY_TOKEN"):
        assert written[key]
    import os

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = runner.invoke(args=["init-instance"])
    assert "kept" in second.output
    with open(path) as fh:
        assert json.load(fh) == written
    os.remove(path)


def test_seed_demo_creates_the_demo_team_once(app, runner):
    import os

    runner.invoke(args=["init-instance"])
    try:
        first = runner.invoke(args=["seed-demo"])
        assert first.exit_code == 0, first.output
        assert "admin@direto.local" in first.output and "bruno@direto.local" in first.output
        assert runner.invoke(args=["seed-demo"]).exit_code == 0
        with app.app_context():
            names = sorted(db.session.scalars(db.select(Department.name)))
            assert names == ["Recepção", "Suporte", "Vendas"]
            assert [d.name for d in find_user_by_email("bruno@direto.local").departments] == ["Vendas"]
            assert find_user_by_email("admin@direto.local").role == Role.ADMIN
            bot = db.session.scalar(db.select(Bot))
            assert bot.name == "Triagem" and [o.label for o in bot.options] == ["Vendas", "Suporte"]
            assert bot.schedule.name == "Horário comercial"
        with open(app.instance_path + "/direto.json") as fh:
            password = json.load(fh)["DEMO_ADMIN_PASSWORD"]
        assert AuthActions(app.test_client()).login("admin@direto.local", password).status_code == 302
    finally:
        os.remove(app.instance_path + "/direto.json")
