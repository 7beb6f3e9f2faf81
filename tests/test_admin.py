"""Administração: users and departments, as htmx fragments with inline errors; 404 for everyone else."""
import pytest

from tests.conftest import TEST_PASSWORD, AuthActions, csrf_token, htmx
from webapp.extensions import db
from webapp.team.models import Department, Role, User, find_user_by_email

ADMIN_PAGES = ["/admin/", "/admin/users", "/admin/users/new", "/admin/departments", "/admin/departments/new", "/connections/"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agents_and_supervisors_do_not_see_admin_pages(agent_client, supervisor_client, path):
    assert agent_client.get(path).status_code == 404
    assert supervisor_client.get(path).status_code == 404


def test_agents_cannot_change_users_either(agent_client, make_user):
    other = make_user("agent")
    token = csrf_token(agent_client, "/")
    response = agent_client.post(f"/admin/users/{other['id']}/active", data={"csrf_token": token})
    assert response.status_code == 404


def test_admin_sees_the_team(admin_client, make_user):
    make_user("agent", name="Carla <b>Vendas</b>")
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Carla &lt;b&gt;Vendas&lt;/b&gt;" in page  # names are escaped
    assert "<b>Vendas</b>" not in page


def _user_form(token, **fields):
    data = {"csrf_token": token, "name": "Dora Suporte", "email": "dora@example.test", "role": "agent",
            "language": "pt_BR", "password": "a good password"}
    data.update(fields)
    return data


def _department_id(app, name):
    with app.app_context():
        return db.session.scalar(db.select(Department.id).where(Department.name == name))


def test_admin_creates_an_agent_who_can_sign_in(app, admin_client, make_user):
    make_user("agent", departments=("Suporte",))
    token = csrf_token(admin_client, "/admin/users")
    form_page = admin_client.get("/admin/users/new", headers=htmx())
    assert form_page.status_code == 200 and 'id="users-section"' in form_page.get_data(as_text=True)
    assert "<html" not in form_page.get_data(as_text=True)  # a fragment, not a page
    assert "HX-Request" in form_page.headers["Vary"]

    response = admin_client.post(
        "/admin/users", data=_user_form(token, departments=[_department_id(app, "Suporte")]), headers=htmx()
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Usuário Dora Suporte criado." in body and "dora@example.test" in body

    newcomer = app.test_client()
    assert AuthActions(newcomer).login("dora@example.test", "a good password").status_code == 302
    with app.app_context():
        assert [d.name for d in find_user_by_email("dora@example.test").departments] == ["Suporte"]


def test_invalid_user_form_shows_inline_errors_and_keeps_the_input(admin_client):
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        "/admin/users", data=_user_form(token, email="not-an-email", password="short"), headers=htmx()
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Informe um e-mail válido." in body
    assert "An agent needs at least one department." not in body
    assert "Um atendente precisa de pelo menos um departamento." in body
    assert 'value="Dora Suporte"' in body and 'value="not-an-email"' in body
    assert 'aria-invalid="true"' in body


def test_duplicate_email_is_refused(admin_client, make_user):
    existing = make_user("agent")
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post("/admin/users", data=_user_form(token, email=existing["email"].upper(), role="supervisor"), headers=htmx())
    assert response.status_code == 422
    assert "Já existe um usuário com este e-mail." in response.get_data(as_text=True)


def test_plain_form_post_redirects_after_success(admin_client):
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post("/admin/users", data=_user_form(token, role="supervisor"))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"


def test_admin_edits_a_user_and_a_new_password_ends_their_sessions(app, admin_client, make_user):
    agent = make_user("agent", name="Edu")
    agent_browser = app.test_client()
    AuthActions(agent_browser).login(agent["email"])
    assert agent_browser.get("/").status_code == 200

    edit = admin_client.get(f"/admin/users/{agent['id']}/edit", headers=htmx()).get_data(as_text=True)
    assert 'value="Edu"' in edit
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        f"/admin/users/{agent['id']}",
        data=_user_form(token, name="Eduardo", email=agent["email"], role="supervisor", password="brand new password"),
        headers=htmx(),
    )
    assert response.status_code == 200
    with app.app_context():
        user = db.session.get(User, agent["id"])
        assert (user.name, user.role) == ("Eduardo", Role.SUPERVISOR)
    assert agent_browser.get("/").status_code == 302  # signed out by the password change


def test_editing_without_a_password_keeps_the_old_one(app, admin_client, make_user):
    agent = make_user("agent")
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        f"/admin/users/{agent['id']}",
        data=_user_form(token, name="Same", email=agent["email"], password="", departments=[_department_id(app, "Vendas")]),
        headers=htmx(),
    )
    assert response.status_code == 200
    assert AuthActions(app.test_client()).login(agent["email"], TEST_PASSWORD).status_code == 302


def test_deactivating_a_user_signs_them_out_and_reactivating_lets_them_back(app, admin_client, make_user):
    agent = make_user("agent")
    agent_browser = app.test_client()
    AuthActions(agent_browser).login(agent["email"])
    token = csrf_token(admin_client, "/admin/users")

    response = admin_client.post(f"/admin/users/{agent['id']}/active", data={"csrf_token": token}, headers=htmx())
    assert response.status_code == 200 and "desativado" in response.get_data(as_text=True)
    assert agent_browser.get("/").status_code == 302
    assert AuthActions(agent_browser).login(agent["email"]).status_code == 401

    admin_client.post(f"/admin/users/{agent['id']}/active", data={"csrf_token": token}, headers=htmx())
    assert AuthActions(agent_browser).login(agent["email"]).status_code == 302


def test_admin_cannot_deactivate_or_demote_themselves(app, admin_client):
    me = admin_client.user
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(f"/admin/users/{me['id']}/active", data={"csrf_token": token}, headers=htmx())
    assert response.status_code == 422 and "Você não pode desativar a si mesmo." in response.get_data(as_text=True)
    demote = admin_client.post(
        f"/admin/users/{me['id']}", data=_user_form(token, email=me["email"], role="agent"), headers=htmx()
    )
    assert demote.status_code == 422
    with app.app_context():
        assert db.session.get(User, me["id"]).role == Role.ADMIN


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999/edit").status_code == 404


def test_departments_are_created_renamed_and_deactivated(app, admin_client):
    token = csrf_token(admin_client, "/admin/departments")
    created = admin_client.post("/admin/departments", data={"csrf_token": token, "name": "  Pós-venda "}, headers=htmx())
    assert created.status_code == 200 and "Departamento Pós-venda criado." in created.get_data(as_text=True)

    duplicate = admin_client.post("/admin/departments", data={"csrf_token": token, "name": "pós-VENDA"}, headers=htmx())
    assert duplicate.status_code == 422
    assert "Já existe um departamento com este nome." in duplicate.get_data(as_text=True)
    assert 'value="pós-VENDA"' in duplicate.get_data(as_text=True)

    department_id = _department_id(app, "Pós-venda")
    renamed = admin_client.post(f"/admin/departments/{department_id}", data={"csrf_token": token, "name": "Pós-vendas"}, headers=htmx())
    assert renamed.status_code == 200
    admin_client.post(f"/admin/departments/{department_id}/active", data={"csrf_token": token}, headers=htmx())
    with app.app_context():
        department = db.session.get(Department, department_id)
        assert (department.name, department.active) == ("Pós-vendas", False)
    # A deactivated department is no longer offered in the user form.
    assert "Pós-vendas" not in admin_client.get("/admin/users/new").get_data(as_text=True)


def test_empty_department_name_is_an_inline_error(admin_client):
    token = csrf_token(admin_client, "/admin/departments")
    response = admin_client.post("/admin/departments", data={"csrf_token": token, "name": " "}, headers=htmx())
    assert response.status_code == 422 and "Informe o nome." in response.get_data(as_text=True)
