"""Chat → Fila: what a webhook brought waits in the queue of its department, seen by those who may see it."""
from tests.conftest import TEST_PASSWORD, AuthActions
from tests.inbound_support import customer
from webapp.team.models import Role


def signed_in(inbox_app, make_user, role, departments):
    client = inbox_app.test_client()
    user = make_user(role, departments=departments)
    assert AuthActions(client).login(user["email"], TEST_PASSWORD).status_code == 302
    return client


def test_the_ticket_waits_in_its_departments_queue_with_its_protocol(inbox_app, shop, meta, make_user):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "2"}))  # Suporte
    support = signed_in(inbox_app, make_user, Role.AGENT, ("Suporte",))
    page = support.get("/").get_data(as_text=True)
    assert "Protocolo 2" in page and "Suporte" in page and "Túnel aberto — fecha em 23 h" in page
    sales = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",))
    assert "Protocolo" not in sales.get("/").get_data(as_text=True)  # another department's ticket: not listed
    supervisor = signed_in(inbox_app, make_user, Role.SUPERVISOR, ())
    assert "Protocolo 2" in supervisor.get("/").get_data(as_text=True)


def test_a_ticket_still_with_the_bot_is_marked_so_and_the_customers_text_is_only_text(inbox_app, shop, meta,
                                                                                      make_user):
    meta(customer({"mid": "m-1", "text": "<img src=x onerror=alert(1)> tem o 42?"}))
    page = signed_in(inbox_app, make_user, Role.AGENT, ("Recepção",)).get("/").get_data(as_text=True)
    assert "Com o robô" in page
    assert "&lt;img src=x onerror=alert(1)&gt; tem o 42?" in page and "<img src=x" not in page
