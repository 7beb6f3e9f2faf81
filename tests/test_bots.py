"""Robôs and Horários: the bot editor and business hours, as htmx fragments with inline errors; 404 for others.

The admin reads English here: the assertions hold before and after the pt-BR catalog gains these texts.
"""
import datetime as dt
import re

import pytest

from tests.conftest import csrf_token, htmx, value_of
from webapp.bots import placeholders, store
from webapp.bots.models import Bot, BusinessHours
from webapp.extensions import db
from webapp.team import directory


@pytest.fixture
def admin(english_admin):
    return english_admin


@pytest.fixture
def departments(app):
    with app.app_context():
        return {name: directory.ensure_department(name).id for name in ("Recepção", "Vendas", "Suporte")}


def _bot_form(token, departments, menu=(("Falar com vendas", "Vendas"), ("Suporte técnico", "Suporte")), **fields):
    data = {
        "csrf_token": token, "name": "Triagem", "greeting": "Olá {{nome}}! Seu protocolo é {{protocolo}}.",
        "invalid_answer_message": "Não entendi. Responda com o número da opção.", "max_attempts": "3",
        "fallback_department": str(departments["Recepção"]),
        "out_of_hours_message": "Estamos fora do horário. Protocolo {{ protocolo }}.",
        "no_answer_timeout_minutes": "30", "schedule": "",
    }
    for index, (label, department) in enumerate(menu):
        data[f"options-{index}-label"] = label
        data[f"options-{index}-department"] = str(departments[department]) if department else ""
    data.update(fields)
    return data


def has_autofocus(body, element_id):
    tag = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', body)
    return tag is not None and " autofocus" in tag.group(0)


def _saved_bot(app, name="Triagem"):
    with app.app_context():
        bot = store.find_bot_by_name(name)
        return bot and {
            "id": bot.id, "active": bot.active, "max_attempts": bot.max_attempts,
            "menu": [(o.position, o.label, o.department.name) for o in bot.options],
            "schedule": bot.schedule.name if bot.schedule else None, "greeting": bot.greeting,
        }


@pytest.fixture
def a_bot_and_schedule(app, departments):
    with app.app_context():
        schedule = store.ensure_default_schedule()
        bot = store.save_bot(
            None, name="Existente", greeting="Oi", menu=[("Vendas", departments["Vendas"])],
            invalid_answer_message="?", max_attempts=2, fallback_department_id=departments["Recepção"],
            out_of_hours_message="Fechado", no_answer_timeout_minutes=10, schedule_id=schedule.id,
        )
        return {"bot": bot.id, "schedule": schedule.id}


def _routes(ids):
    bot, schedule = ids["bot"], ids["schedule"]
    return [
        ("get", "/admin/bots"), ("get", "/admin/bots/new"), ("post", "/admin/bots"),
        ("get", f"/admin/bots/{bot}/edit"), ("post", f"/admin/bots/{bot}"), ("post", f"/admin/bots/{bot}/active"),
        ("get", "/admin/business-hours"), ("get", "/admin/business-hours/new"), ("post", "/admin/business-hours"),
        ("get", f"/admin/business-hours/{schedule}/edit"), ("post", f"/admin/business-hours/{schedule}"),
        ("post", f"/admin/business-hours/{schedule}/delete"),
    ]


def test_agents_and_supervisors_get_404_on_every_bot_and_hours_route(app, agent_client, supervisor_client, a_bot_and_schedule):
    for client in (agent_client, supervisor_client):
        token = csrf_token(client, "/")
        for method, path in _routes(a_bot_and_schedule):
            response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None, headers=htmx())
            assert response.status_code == 404, (client.user["role"], method, path)
    with app.app_context():
        assert db.session.get(Bot, a_bot_and_schedule["bot"]).active  # the toggle did nothing
        assert db.session.get(BusinessHours, a_bot_and_schedule["schedule"]) is not None


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/bots")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_posts_without_the_csrf_token_are_refused(admin, departments):
    response = admin.post("/admin/bots", data=_bot_form("", departments), headers=htmx())
    assert response.status_code == 400
    assert _saved_bot(admin.application) is None


# ---- the bot editor ------------------------------------------------------------------------------------


def test_admin_creates_a_bot_with_a_numbered_menu(app, admin, departments):
    form = admin.get("/admin/bots/new", headers=htmx())
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and 'id="bots-section"' in body and "<html" not in body
    assert "HX-Request" in form.headers["Vary"]
    assert "You can use {{protocolo}}, {{nome}}, {{departamento}}." in body  # the help line

    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments), headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert "Bot Triagem saved." in body and "Falar com vendas" in body and "<form class=\"editor" not in body
    assert _saved_bot(app)["menu"] == [(1, "Falar com vendas", "Vendas"), (2, "Suporte técnico", "Suporte")]


def test_plain_form_post_redirects_after_success(admin, departments):
    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/bots"


def test_an_unknown_placeholder_is_named_inline_and_the_input_is_kept(app, admin, departments):
    data = _bot_form(admin.token, departments, greeting="Olá {{cliente}}, protocolo {{protocolo}}")
    response = admin.post("/admin/bots", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown placeholder {{cliente}}. You can use {{protocolo}}, {{nome}}, {{departamento}}." in body
    assert "Olá {{cliente}}, protocolo {{protocolo}}</textarea>" in body and value_of(body, "name") == "Triagem"
    assert 'aria-invalid="true"' in body
    assert _saved_bot(app) is None


def test_a_hostile_placeholder_name_is_shown_as_text(admin, departments):
    data = _bot_form(admin.token, departments, greeting="{{<img src=x>}}")
    body = admin.post("/admin/bots", data=data, headers=htmx()).get_data(as_text=True)
    assert "Unknown placeholder {{&lt;img src=x&gt;}}" in body and "<img src=x>" not in body


@pytest.mark.parametrize("text", ["Olá {{nome}", "Olá {{ nome }} }}", "Olá {{nome}} e {{departamento}"])
def test_a_broken_placeholder_is_refused(admin, departments, text):
    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments, invalid_answer_message=text), headers=htmx())
    assert response.status_code == 422
    assert "Write placeholders with two braces on each side, like {{nome}}." in response.get_data(as_text=True)


def test_every_message_is_checked_and_spaces_inside_braces_are_fine(app, admin, departments):
    data = _bot_form(admin.token, departments, out_of_hours_message="Volte amanhã, {{ nome }}", greeting="Oi {{departamento}}")
    assert admin.post("/admin/bots", data=data, headers=htmx()).status_code == 200
    bad = _bot_form(admin.token, departments, name="Outro", out_of_hours_message="Fechado, {{horario}}")
    response = admin.post("/admin/bots", data=bad, headers=htmx())
    assert response.status_code == 422 and "Unknown placeholder {{horario}}" in response.get_data(as_text=True)


def test_messages_must_fit_one_instagram_message(admin, departments):
    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments, greeting="é" * 501), headers=htmx())
    assert response.status_code == 422
    assert "Instagram accepts at most 1000 bytes per message; this text has 1002" in response.get_data(as_text=True)


def test_menu_rows_are_checked_and_blank_rows_ignored(app, admin, departments):
    data = _bot_form(admin.token, departments, menu=(("", None), ("Vendas", "Vendas"), ("Sem destino", None), ("", "Suporte")))
    response = admin.post("/admin/bots", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert body.count("Choose an active department.") == 1 and body.count("Enter the option text.") == 1
    assert value_of(body, "options-2-label") == "Sem destino"

    fixed = _bot_form(admin.token, departments, menu=(("", None), ("Vendas", "Vendas"), ("", None)))
    assert admin.post("/admin/bots", data=fixed, headers=htmx()).status_code == 200
    assert _saved_bot(app)["menu"] == [(1, "Vendas", "Vendas")]


def test_a_menu_needs_an_option_and_options_need_active_departments(app, admin, departments):
    empty = admin.post("/admin/bots", data=_bot_form(admin.token, departments, menu=(("", None),)), headers=htmx())
    assert empty.status_code == 422 and "Add at least one option to the menu." in empty.get_data(as_text=True)
    with app.app_context():
        directory.set_department_active(db.session.get(directory.Department, departments["Suporte"]), False)
    inactive = admin.post("/admin/bots", data=_bot_form(admin.token, departments), headers=htmx())
    body = inactive.get_data(as_text=True)
    assert inactive.status_code == 422 and "Choose an active department." in body
    assert f'<option value="{departments["Suporte"]}"' not in body  # inactive departments are not offered


@pytest.mark.parametrize("field,value", [("max_attempts", "0"), ("max_attempts", "11"), ("max_attempts", ""),
                                         ("no_answer_timeout_minutes", "0"), ("fallback_department", "")])
def test_attempts_timeout_and_fallback_are_checked(admin, departments, field, value):
    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments, **{field: value}), headers=htmx())
    assert response.status_code == 422
    assert f'id="{field}-errors"' in response.get_data(as_text=True)


def test_bot_names_are_unique_and_shown_as_text(app, admin, departments):
    admin.post("/admin/bots", data=_bot_form(admin.token, departments, name="<b>Robô</b>"), headers=htmx())
    page = admin.get("/admin/bots").get_data(as_text=True)
    assert "&lt;b&gt;Robô&lt;/b&gt;" in page and "<b>Robô</b>" not in page
    again = admin.post("/admin/bots", data=_bot_form(admin.token, departments, name="<B>robô</B> "), headers=htmx())
    assert again.status_code == 422 and "A bot with this name already exists." in again.get_data(as_text=True)


def test_add_option_returns_the_form_with_one_more_row_and_saves_nothing(app, admin, departments):
    data = _bot_form(admin.token, departments, row="add:options")
    response = admin.post("/admin/bots", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert value_of(body, "options-2-label") == "" and value_of(body, "options-3-label") is None
    assert has_autofocus(body, "options-2-label")  # the new row takes the focus
    assert value_of(body, "options-0-label") == "Falar com vendas"  # what was typed stays
    assert 'class="errors"' not in body  # nothing was validated yet
    assert _saved_bot(app) is None


def test_remove_and_move_options_then_save_the_new_order(app, admin, departments):
    menu = (("Um", "Vendas"), ("Dois", "Suporte"), ("Três", "Recepção"))
    removed = admin.post("/admin/bots", data=_bot_form(admin.token, departments, menu=menu, row="remove:options:0"), headers=htmx())
    body = removed.get_data(as_text=True)
    assert [value_of(body, f"options-{i}-label") for i in range(3)] == ["Dois", "Três", None]
    assert has_autofocus(body, "add-options")

    moved = admin.post("/admin/bots", data=_bot_form(admin.token, departments, menu=menu, row="up:options:2"), headers=htmx())
    body = moved.get_data(as_text=True)
    assert [value_of(body, f"options-{i}-label") for i in range(3)] == ["Um", "Três", "Dois"]
    assert has_autofocus(body, "options-1-up")  # the moved row's button keeps the focus

    admin.post("/admin/bots", data=_bot_form(admin.token, departments, menu=menu), headers=htmx())
    bot_id = _saved_bot(app)["id"]
    reordered = _bot_form(admin.token, departments, menu=(("Três", "Recepção"), ("Um", "Vendas")))
    assert admin.post(f"/admin/bots/{bot_id}", data=reordered, headers=htmx()).status_code == 200
    assert _saved_bot(app)["menu"] == [(1, "Três", "Recepção"), (2, "Um", "Vendas")]


def test_row_buttons_work_without_javascript(admin, departments):
    response = admin.post("/admin/bots", data=_bot_form(admin.token, departments, row="add:options"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body and value_of(body, "options-2-label") == ""
    assert admin.post("/admin/bots", data=_bot_form(admin.token, departments, row="nonsense")).status_code in (200, 422)


def test_admin_edits_a_bot_and_chooses_business_hours(app, admin, departments, a_bot_and_schedule):
    bot_id, schedule_id = a_bot_and_schedule["bot"], a_bot_and_schedule["schedule"]
    edit = admin.get(f"/admin/bots/{bot_id}/edit", headers=htmx()).get_data(as_text=True)
    assert value_of(edit, "name") == "Existente" and f'<option selected value="{schedule_id}">Horário comercial</option>' in edit
    data = _bot_form(admin.token, departments, name="Existente", schedule=str(schedule_id), max_attempts="5")
    assert admin.post(f"/admin/bots/{bot_id}", data=data, headers=htmx()).status_code == 200
    saved = _saved_bot(app, "Existente")
    assert saved["schedule"] == "Horário comercial" and saved["max_attempts"] == 5 and len(saved["menu"]) == 2
    unknown = admin.post(f"/admin/bots/{bot_id}", data={**data, "schedule": "999"}, headers=htmx())
    assert unknown.status_code == 422 and "Choose business hours from the list." in unknown.get_data(as_text=True)


def test_deactivating_a_bot_hides_it_from_connections(app, admin, a_bot_and_schedule):
    bot_id = a_bot_and_schedule["bot"]
    response = admin.post(f"/admin/bots/{bot_id}/active", data={"csrf_token": admin.token}, headers=htmx())
    assert response.status_code == 200 and "Bot Existente deactivated." in response.get_data(as_text=True)
    with app.app_context():
        assert store.active_bots() == []
    admin.post(f"/admin/bots/{bot_id}/active", data={"csrf_token": admin.token}, headers=htmx())
    with app.app_context():
        assert [b.name for b in store.active_bots()] == ["Existente"]


def test_unknown_bots_are_404(admin):
    assert admin.get("/admin/bots/999/edit").status_code == 404
    assert admin.post("/admin/bots/999/active", data={"csrf_token": admin.token}).status_code == 404


# ---- business hours ------------------------------------------------------------------------------------


def _schedule_form(token, name="Plantão", time_zone="America/Sao_Paulo", holidays=(), row=None, **days):
    data = {"csrf_token": token, "name": name, "time_zone": time_zone}
    if row:
        data["row"] = row
    for day, spans in days.items():
        for index, span in enumerate(spans):
            data[f"{day}-{index}-start"], data[f"{day}-{index}-end"] = span.split("-")
    for index, (date, label) in enumerate(holidays):
        data[f"holidays-{index}-date"], data[f"holidays-{index}-name"] = date, label
    return data


def _saved_schedule(app, name="Plantão"):
    with app.app_context():
        schedule = store.find_schedule_by_name(name)
        return schedule and {
            "id": schedule.id, "time_zone": schedule.time_zone,
            "intervals": [(i.weekday, i.start_minute, i.end_minute) for i in schedule.intervals],
            "holidays": [(h.date, h.name) for h in schedule.holidays], "rules": schedule.rules(),
        }


def test_the_default_schedule_is_made_once(app):
    with app.app_context():
        first = store.ensure_default_schedule()
        assert store.ensure_default_schedule().id == first.id and len(store.all_schedules()) == 1
        rules = first.rules()
    assert rules.time_zone == "America/Sao_Paulo"
    from webapp.bots.hours import is_open
    friday_1759 = dt.datetime(2026, 11, 27, 20, 59, tzinfo=dt.timezone.utc)
    assert is_open(rules, friday_1759) and not is_open(rules, friday_1759 + dt.timedelta(minutes=1))
    assert is_open(rules, dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.timezone.utc))  # Saturday 08:00


def test_the_demo_bot_is_made_once_with_valid_texts(app, departments):
    with app.app_context():
        menu = [("Vendas", departments["Vendas"]), ("Suporte", departments["Suporte"])]
        bot = store.ensure_default_bot(departments["Recepção"], menu)
        assert store.ensure_default_bot(departments["Recepção"], menu).id == bot.id
        assert bot.schedule.name == "Horário comercial" and [o.label for o in bot.options] == ["Vendas", "Suporte"]
        for text in (bot.greeting, bot.invalid_answer_message, bot.out_of_hours_message):
            assert placeholders.unknown_placeholders(text) == [] and len(text.encode()) <= 1000


def test_the_new_schedule_form_starts_from_the_usual_week(admin):
    body = admin.get("/admin/business-hours/new", headers=htmx()).get_data(as_text=True)
    assert value_of(body, "monday-0-start") == "08:00" and value_of(body, "friday-0-end") == "18:00"
    assert value_of(body, "saturday-0-end") == "12:00" and value_of(body, "sunday-0-start") is None
    assert value_of(body, "time_zone") == "America/Sao_Paulo"


def test_admin_saves_several_intervals_a_day_and_holidays(app, admin):
    data = _schedule_form(admin.token, monday=["08:00-12:00", "13:00-18:00"], friday=["22:00-00:00"],
                          holidays=[("2026-12-25", "Natal")])
    response = admin.post("/admin/business-hours", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert "Business hours Plantão saved." in body and "13:00–18:00" in body and "22:00–24:00" in body
    saved = _saved_schedule(app)
    assert saved["intervals"] == [(0, 480, 720), (0, 780, 1080), (4, 1320, 1440)]
    assert saved["holidays"] == [(dt.date(2026, 12, 25), "Natal")]

    # Editing shows midnight as 00:00 (a time input has no 24:00); saving again keeps the holiday's row.
    edit = admin.get(f"/admin/business-hours/{saved['id']}/edit", headers=htmx()).get_data(as_text=True)
    assert value_of(edit, "friday-0-end") == "00:00" and value_of(edit, "holidays-0-date") == "2026-12-25"
    data = _schedule_form(admin.token, monday=["09:00-18:00"], holidays=[("2026-12-25", "Natal!"), ("2027-01-01", "Ano novo")])
    assert admin.post(f"/admin/business-hours/{saved['id']}", data=data, headers=htmx()).status_code == 200
    saved = _saved_schedule(app)
    assert saved["intervals"] == [(0, 540, 1080)]
    assert saved["holidays"] == [(dt.date(2026, 12, 25), "Natal!"), (dt.date(2027, 1, 1), "Ano novo")]


def test_overlapping_intervals_get_an_inline_error_and_keep_the_input(app, admin):
    data = _schedule_form(admin.token, tuesday=["08:00-12:00", "11:30-18:00"])
    response = admin.post("/admin/business-hours", data=data, headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert body.count("This interval overlaps another one on the same day.") == 2
    assert value_of(body, "tuesday-1-start") == "11:30" and value_of(body, "name") == "Plantão"
    assert _saved_schedule(app) is None
    # Touching intervals are fine: 12:00 closes one and opens the next.
    ok = admin.post("/admin/business-hours", data=_schedule_form(admin.token, tuesday=["08:00-12:00", "12:00-18:00"]), headers=htmx())
    assert ok.status_code == 200


@pytest.mark.parametrize("span,message", [
    ("18:00-08:00", "Closing must come after opening (00:00 means midnight)."),
    ("10:00-10:00", "Closing must come after opening (00:00 means midnight)."),
    ("25:00-26:00", "Enter the opening time as HH:MM."),
    ("08:00-", "Enter the closing time as HH:MM."),
])
def test_each_interval_must_open_before_it_closes(admin, span, message):
    response = admin.post("/admin/business-hours", data=_schedule_form(admin.token, wednesday=[span]), headers=htmx())
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_holidays_need_a_date_and_a_name_and_dates_do_not_repeat(admin):
    data = _schedule_form(admin.token, holidays=[("2026-12-25", "Natal"), ("2026-12-25", "De novo"), ("", "Sem data"), ("2027-01-01", "")])
    body = admin.post("/admin/business-hours", data=data, headers=htmx()).get_data(as_text=True)
    assert "This date is already a holiday." in body and "Enter the date." in body and "Enter the holiday's name." in body


def test_the_time_zone_must_be_an_iana_name(app, admin):
    response = admin.post("/admin/business-hours", data=_schedule_form(admin.token, time_zone="Brasília"), headers=htmx())
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "Unknown time zone. Use a name such as America/Sao_Paulo." in body
    assert value_of(body, "time_zone") == "Brasília"
    admin.post("/admin/business-hours", data=_schedule_form(admin.token, time_zone="America/New_York"), headers=htmx())
    assert _saved_schedule(app)["time_zone"] == "America/New_York"


def test_adding_an_interval_to_a_day_saves_nothing(app, admin):
    data = _schedule_form(admin.token, thursday=["08:00-12:00"], row="add:thursday")
    body = admin.post("/admin/business-hours", data=data, headers=htmx()).get_data(as_text=True)
    assert value_of(body, "thursday-0-start") == "08:00" and value_of(body, "thursday-1-start") == ""
    assert value_of(body, "thursday-2-start") is None and has_autofocus(body, "thursday-1-start")
    removed = admin.post("/admin/business-hours", data=_schedule_form(admin.token, thursday=["08:00-12:00"], row="remove:thursday:0"), headers=htmx())
    assert value_of(removed.get_data(as_text=True), "thursday-0-start") is None
    assert _saved_schedule(app) is None


def test_schedule_names_are_unique(admin):
    admin.post("/admin/business-hours", data=_schedule_form(admin.token), headers=htmx())
    again = admin.post("/admin/business-hours", data=_schedule_form(admin.token, name="  plantão "), headers=htmx())
    assert again.status_code == 422 and "Business hours with this name already exist." in again.get_data(as_text=True)


def test_schedules_in_use_cannot_be_deleted(app, admin, a_bot_and_schedule):
    schedule_id = a_bot_and_schedule["schedule"]
    page = admin.get("/admin/business-hours").get_data(as_text=True)
    assert f"/admin/business-hours/{schedule_id}/delete" not in page  # no button while a bot uses it
    refused = admin.post(f"/admin/business-hours/{schedule_id}/delete", data={"csrf_token": admin.token}, headers=htmx())
    assert refused.status_code == 422 and "A bot uses these business hours" in refused.get_data(as_text=True)

    admin.post("/admin/business-hours", data=_schedule_form(admin.token), headers=htmx())
    unused = _saved_schedule(app)["id"]
    deleted = admin.post(f"/admin/business-hours/{unused}/delete", data={"csrf_token": admin.token}, headers=htmx())
    assert deleted.status_code == 200 and "Business hours Plantão deleted." in deleted.get_data(as_text=True)
    assert _saved_schedule(app) is None


def test_placeholders_are_filled_as_plain_text():
    text = "Olá {{ nome }}! Protocolo {{protocolo}} em {{departamento}}. {{outro}}"
    filled = placeholders.fill(text, nome="Ana {{protocolo}}", protocolo="202611250001")
    assert filled == "Olá Ana {{protocolo}}! Protocolo 202611250001 em. {{outro}}"  # values are never re-read
