"""The generated Make custom app: valid for Make's Apps SDK, and working when its IML is
evaluated with the values Make really sends, against a live connector."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import pathlib
import re
import typing as t

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY, fault

ROOT = pathlib.Path(__file__).parent.parent
APP = ROOT / "make_app"
SCHEMAS = pathlib.Path(__file__).parent / "make_schemas"

# What Make's runtime puts in {{scenario.id}} and {{webhook.id}}: JSON numbers. IML keeps the
# type of a string that is one whole {{expression}} (Make's docs rely on it: "limit":
# "{{parameters.limit}}" is a number and "iterate": "{{body.data}}" an array,
# https://developers.make.com/custom-apps-documentation/best-practices/modules/search-modules).
# Scenario ids are integers in Make's API (e.g. /scenarios/925,
# https://developers.make.com/api-documentation/api-reference/scenarios), and so are hook ids
# (e.g. /hooks/654, https://developers.make.com/api-documentation/api-reference/hooks), which
# an attach procedure sees as {{webhook.id}}, "Internal webhook ID"
# (https://developers.make.com/custom-apps-documentation/app-structure/rpcs/available-iml-variables).
SCENARIO_ID = 2345678
WEBHOOK_ID = 876543

# Which schema checks which code file (as Make's Apps SDK extension pairs them).
SCHEMA_OF_CODE = {
    "communication": "api.json",
    "attach": "api.json",
    "detach": "api.json",
    "epoch": "epoch.json",
    "params": "parameters.json",
    "staticParams": "parameters.json",
    "mappableParams": "parameters.json",
    "interface": "parameters.json",
    "samples": "samples.json",
    "scope": "scope.json",
}
GENERAL = {"base": "base.json", "groups": "groups.json", "common": "common.json"}


def validator(schema_file: str) -> jsonschema.Draft7Validator:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT7))
        for path in SCHEMAS.glob("*.json")
    ]
    registry: Registry[t.Any] = Registry().with_resources(resources)
    return jsonschema.Draft7Validator({"$ref": schema_file}, registry=registry)


def errors(schema_file: str, document: t.Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(schema_file).iter_errors(document)
    ]


def code_files() -> list[tuple[str, str, str]]:
    """(component, code, path) for every code file makecomapp.json lists."""
    app = json.loads((APP / "makecomapp.json").read_text())
    listed = [("general", code, path) for code, path in app["generalCodeFiles"].items() if path]
    for kind, components in app["components"].items():
        for key, component in components.items():
            for code, path in component["codeFiles"].items():
                listed.append((f"{kind}/{key}", code, path))
    return listed


def code(component: str, name: str) -> t.Any:
    """The content of one code file, e.g. code("module/new_video", "communication")."""
    path = next(p for c, n, p in code_files() if c == component and n == name)
    return json.loads((APP / path).read_text())


# --- the files, as the Apps SDK checks them --------------------------------------------------


def test_makecomapp_json_is_valid() -> None:
    app = json.loads((APP / "makecomapp.json").read_text())
    assert errors("makecomapp.schema.json", app) == []
    modules = app["components"]["module"]
    assert {key: m["moduleType"] for key, m in modules.items()} == {
        "new_video": "trigger",
        "new_video_instant": "instant_trigger",
        "get_video": "action",
        "get_profile": "action",
    }
    assert modules["new_video_instant"]["webhook"] in app["components"]["webhook"]


@pytest.mark.parametrize(
    ("component", "code_name", "path"),
    [c for c in code_files() if c[1] in SCHEMA_OF_CODE or c[1] in GENERAL],
    ids=lambda v: str(v),
)
def test_every_code_file_is_valid(component: str, code_name: str, path: str) -> None:
    document = json.loads((APP / path).read_text())
    schema = GENERAL.get(code_name) if component == "general" else SCHEMA_OF_CODE[code_name]
    assert schema is not None
    assert errors(schema, document) == []


def test_every_listed_file_exists_and_nothing_else() -> None:
    listed = {path for _, _, path in code_files()} | {"makecomapp.json"}
    present = {str(p.relative_to(APP)) for p in APP.rglob("*") if p.is_file()}
    assert listed == present


def test_the_schemas_bite() -> None:
    assert errors("api.json", {"url": 5, "method": "FETCH"})
    trigger = code("module/new_video", "communication")
    del trigger["response"]["trigger"]["id"]
    assert errors("api.json", trigger)
    base = code("general", "base")
    base["response"]["error"]["401"]["type"] = "InvalidKeyError"  # not one of Make's types
    assert errors("base.json", base)


def test_modules_are_named_the_way_make_names_them() -> None:
    # https://docs.make.com/apps/best-practices/names-labels-and-descriptions: triggers
    # "Watch <watched node>", actions "Get a User", descriptions "Triggers when ...".
    modules = json.loads((APP / "makecomapp.json").read_text())["components"]["module"]
    assert {key: m["label"] for key, m in modules.items()} == {
        "new_video": "Watch New Videos",
        "new_video_instant": "Watch New Videos (Instant)",
        "get_video": "Get a Video",
        "get_profile": "Get a Profile",
    }
    assert all(modules[k]["description"].startswith("Triggers ") for k in ("new_video",))
    assert all(modules[k]["description"].startswith("Retrieves ") for k in ("get_video",))


def test_the_key_lives_only_in_the_connection() -> None:
    """Every request takes the key from the connection (which Make keeps in its keychain);
    Make hides it in logs; no file holds a key."""
    for component, name in [
        ("general", "base"),
        ("connection/tiktok", "communication"),
        ("webhook/new_video_instant", "attach"),
        ("webhook/new_video_instant", "detach"),
    ]:
        request = code(component, name)
        holder = "parameters" if component.startswith("connection") else "connection"
        assert request["headers"]["Authorization"] == f"Bearer {{{{{holder}.apiKey}}}}"
        assert request["headers"]["X-Request-Source"] == "MAKE_DOT_COM"
        assert request["log"]["sanitize"] == ["request.headers.authorization"]
    params = code("connection/tiktok", "params")
    assert {p["name"]: p["type"] for p in params}["apiKey"] == "password"
    text = "".join(p.read_text() for p in APP.rglob("*") if p.is_file())
    assert KEY not in text and "sk_" not in text


def test_watch_module_has_makes_limit_and_passes_it_on() -> None:
    (limit,) = [p for p in code("module/new_video", "staticParams") if p["name"] == "limit"]
    assert limit["type"] == "uinteger" and limit["required"] and limit["default"] >= 1
    communication = code("module/new_video", "communication")
    assert communication["body"]["limit"] == "{{parameters.limit}}"
    assert communication["response"]["limit"] == "{{parameters.limit}}"
    assert communication["body"]["include_recent"] is True


# --- IML, evaluated as Make evaluates it -----------------------------------------------------


class Undefined:
    """JavaScript's undefined: what an unknown IML path gives; JSON.stringify drops the key."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = Undefined()
_WHOLE = re.compile(r"^\{\{(.*)\}\}$", re.DOTALL)
_PART = re.compile(r"\{\{(.*?)\}\}")


def iml(template: t.Any, context: dict[str, t.Any]) -> t.Any:
    """``template`` with its IML evaluated: a string that is one whole ``{{expression}}`` keeps
    the expression's type (a number stays a number), text around one makes a string, and
    keys whose value is undefined are left out of objects."""
    if isinstance(template, dict):
        items = ((k, iml(v, context)) for k, v in template.items())
        return {k: v for k, v in items if v is not UNDEFINED}
    if isinstance(template, list):
        return [iml(v, context) for v in template]
    if not isinstance(template, str):
        return template
    whole = _WHOLE.match(template)
    if whole and "{{" not in whole.group(1):
        return _evaluate(whole.group(1).strip(), context)
    return _PART.sub(lambda m: _text(_evaluate(m.group(1).strip(), context)), template)


def _text(value: t.Any) -> str:
    if value is UNDEFINED or value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _evaluate(expression: str, context: dict[str, t.Any]) -> t.Any:
    """The few IML forms the generated app uses: paths, literals and ifempty(a, b)."""
    call = re.fullmatch(r"(\w+)\((.*)\)", expression)
    if call:
        name, args = call.group(1), [_evaluate(a.strip(), context) for a in _split(call[2])]
        assert name == "ifempty", f"IML function {name} is not modelled here"
        return args[1] if args[0] in (UNDEFINED, None, "") else args[0]
    if re.fullmatch(r"-?\d+", expression):
        return int(expression)
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    if expression in ("true", "false", "null"):
        return json.loads(expression)
    value: t.Any = context
    for part in expression.split("."):
        value = value.get(part, UNDEFINED) if isinstance(value, dict) else UNDEFINED
    return value


def _split(arguments: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for char in arguments:
        if char == "'" and depth == 0:
            quoted = not quoted
        depth += {"(": 1, ")": -1}.get(char, 0) if not quoted else 0
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def test_iml_model_keeps_whole_expression_types_and_drops_undefined() -> None:
    context = {"scenario": {"id": SCENARIO_ID}, "parameters": {"handle": "tiktok"}}
    assert iml("{{scenario.id}}", context) == SCENARIO_ID
    assert iml("id {{scenario.id}}", context) == f"id {SCENARIO_ID}"
    assert iml({"a": "{{parameters.nope}}", "b": "{{parameters.handle}}"}, context) == {
        "b": "tiktok"
    }
    assert iml("{{ifempty(data.lastDate, 0)}}", context) == 0
    assert iml("{{ifempty(parameters.handle, 'x')}}", context) == "tiktok"


# --- Make's polling trigger, modelled -----------------------------------------------------------


def _moment(value: t.Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(moment: dt.datetime) -> str:
    """A date as JSON.stringify writes a JavaScript Date (what IML puts in a JSON body)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclasses.dataclass
class WatchState:
    """What Make keeps for one watch module between runs, and how it picks what to process.

    Make's trigger "saves the information about the last item processed and continues the
    execution from that item"; with ``type: date`` it "sorts all items by their date and id
    fields and returns only unprocessed items", handed on "in ascending order"
    (https://developers.make.com/custom-apps-documentation/app-components/modules/trigger).
    The saved information is the last date and the ids processed at that very date (lastDate
    and sameDateIds in the runtime's epoch tracking, as described in
    https://github.com/minsu-kang/make-custom-app-skill, skill/references/runtime-reference.md).
    "Choose where to start" sets it: All leaves it empty, From now on and Since specific
    date set the date (https://developers.make.com/custom-apps-documentation/component-blocks/epoch).
    """

    last_date: dt.datetime | None = None
    same_date_ids: set[str] = dataclasses.field(default_factory=set)

    def data(self) -> dict[str, t.Any]:
        """The module's ``data`` collection as IML sees it (``{{data.lastDate}}``)."""
        return {} if self.last_date is None else {"lastDate": _iso(self.last_date)}

    def process(self, directive: dict[str, str], bundles: list[dict[str, t.Any]], limit: int):
        """The bundles Make hands on, oldest first, at most ``limit``; remembers the last."""
        keyed = [(_moment(iml(directive["date"], {"item": b})), str(b["id"]), b) for b in bundles]
        fresh = sorted((k for k in keyed if self._unprocessed(k[0], k[1])), key=lambda k: k[:2])
        chosen = fresh[:limit]
        for moment, video_id, _ in chosen:
            if moment != self.last_date:
                self.last_date, self.same_date_ids = moment, set()
            self.same_date_ids.add(video_id)
        return [bundle for _, _, bundle in chosen]

    def _unprocessed(self, moment: dt.datetime, video_id: str) -> bool:
        if self.last_date is None or moment > self.last_date:
            return True
        return moment == self.last_date and video_id not in self.same_date_ids


class Make:
    """Runs the generated app's requests the way Make's runtime does, against a connector."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self.http = http
        self.connection = {"baseUrl": base_url, "apiKey": KEY}

    def request(self, request: dict[str, t.Any], context: dict[str, t.Any]) -> httpx.Response:
        """Send one request; modules inherit the base, the connection and webhooks do not."""
        context = {"connection": self.connection, **context}
        base = code("general", "base") if not request["url"].startswith("{{") else {}
        url = iml(base.get("baseUrl", ""), context) + iml(request["url"], context)
        headers = iml({**base.get("headers", {}), **request.get("headers", {})}, context)
        body = iml(request["body"], context) if "body" in request else None
        return self.http.request(request["method"], url, json=body, headers=headers)

    def error(self, request: dict[str, t.Any], response: httpx.Response) -> tuple[str, str]:
        """(Make error type, message) of an error answer, by the response.error directive."""
        inherited = code("general", "base")["response"]["error"]
        directive = request.get("response", {}).get("error") or inherited
        chosen = directive.get(str(response.status_code), directive)
        context = {"statusCode": response.status_code, "body": response.json()}
        return chosen.get("type", directive["type"]), iml(chosen["message"], context)

    def watch(
        self, state: WatchState, parameters: dict[str, t.Any], scenario: int | None = SCENARIO_ID
    ) -> list[dict[str, t.Any]]:
        """One scheduled run of the Watch New Videos module: what the connector answered
        (``scenario=None``: a scenario without an id yet, so no consumer is sent)."""
        known = {} if scenario is None else {"id": scenario}
        context = {"parameters": parameters, "scenario": known, "data": state.data()}
        response = self.request(code("module/new_video", "communication"), context)
        assert response.status_code == 200, response.text
        return t.cast(list[dict[str, t.Any]], response.json())


@pytest.fixture
def start_make(make_app: t.Callable[..., t.Any]) -> t.Iterator[t.Callable[..., Make]]:
    """Serves a connector (with ``settings``) on 127.0.0.1 and gives a Make runtime for it."""
    with contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(timeout=30))

        def start(**settings: t.Any) -> Make:
            server = stack.enter_context(BackgroundServer(make_app(**settings)))
            return Make(http, server.url)

        yield start


@pytest.fixture
def make(start_make: t.Callable[..., Make]) -> Make:
    return start_make()


def ids(videos: list[dict[str, t.Any]]) -> list[str]:
    return [v["id"] for v in videos]


def test_watch_module_polls_as_make_runs_it(make: Make, world: World) -> None:
    """A numeric scenario id, "From now on", Limit 2 and Make's own date/id state, end to end:
    baseline, each new video handed on once, the limit oldest first, and an answer lost on
    its way to Make recovered by the next run."""
    directive = code("module/new_video", "communication")["response"]["trigger"]
    parameters = {"handle": "tiktok", "limit": 2}
    newest = world.profile("tiktok").videos[0]  # type: ignore[union-attr]
    # "From now on", chosen a minute after the newest video.
    state = WatchState(last_date=dt.datetime.fromtimestamp(newest.create_time + 60, dt.UTC))

    assert make.watch(state, parameters) == []  # the feed's baseline

    first = world.post_video("tiktok")
    answer = make.watch(state, parameters)
    assert ids(state.process(directive, answer, 2)) == [first.id]
    # Repeated as recent, and hidden by Make's own state.
    assert state.process(directive, make.watch(state, parameters), 2) == []

    a, b, c = (world.post_video("tiktok") for _ in range(3))
    answer = make.watch(state, parameters)
    assert ids(answer) == [b.id, a.id]  # the oldest two, newest first as Make expects
    assert ids(state.process(directive, answer, 2)) == [a.id, b.id]
    assert ids(state.process(directive, make.watch(state, parameters), 2)) == [c.id]

    d = world.post_video("tiktok")
    lost = make.watch(state, parameters)  # Make never receives this answer
    assert d.id in ids(lost)
    assert ids(state.process(directive, make.watch(state, parameters), 2)) == [d.id]
    assert state.process(directive, make.watch(state, parameters), 2) == []


def test_a_lost_answer_is_recovered_even_with_a_backlog(make: Make, world: World) -> None:
    directive = code("module/new_video", "communication")["response"]["trigger"]
    parameters = {"handle": "tiktok", "limit": 2}
    newest = history(world)[0]
    state = WatchState(last_date=dt.datetime.fromtimestamp(newest.create_time + 60, dt.UTC))
    assert make.watch(state, parameters) == []
    posted = [world.post_video("tiktok").id for _ in range(4)]
    make.watch(state, parameters)  # the two oldest, lost on the way to Make
    handed_on: list[str] = []
    for _ in range(4):
        handed_on += ids(state.process(directive, make.watch(state, parameters), 2))
    assert handed_on == posted


def test_the_scenario_id_arrives_as_a_number_and_names_the_feed(make: Make, world: World) -> None:
    communication = code("module/new_video", "communication")
    context = {"parameters": {"handle": "tiktok", "limit": 2}, "scenario": {"id": SCENARIO_ID}}
    body = iml(communication["body"], context)
    assert body["consumer"] == SCENARIO_ID and isinstance(body["consumer"], int)
    assert body["limit"] == 2 and body["since"] == 0 and body["include_recent"] is True
    # Two scenarios on one handle and key are two feeds: each gets every new video.
    now = dt.datetime.fromtimestamp(history(world)[0].create_time + 60, dt.UTC)
    parameters = {"handle": "tiktok", "limit": 2}
    scenarios = {SCENARIO_ID: WatchState(last_date=now), SCENARIO_ID + 1: WatchState(last_date=now)}
    for scenario, state in scenarios.items():
        assert make.watch(state, parameters, scenario=scenario) == []
    video = world.post_video("tiktok")
    for scenario, state in scenarios.items():
        assert ids(make.watch(state, parameters, scenario=scenario)) == [video.id]


def test_a_new_feed_starts_where_make_stands(make: Make, world: World) -> None:
    """Whenever the connector sees a scenario's feed for the first time (the scenario got its
    id after a first "Run once", the connector's store was reset), ``since`` is Make's own
    position: nothing Make has not processed is skipped, nothing it has is handed on again."""
    directive = code("module/new_video", "communication")["response"]["trigger"]
    parameters = {"handle": "tiktok", "limit": 5}
    newest = history(world)[0]
    state = WatchState(last_date=dt.datetime.fromtimestamp(newest.create_time + 60, dt.UTC))
    assert make.watch(state, parameters, scenario=None) == []
    first = world.post_video("tiktok")
    answer = make.watch(state, parameters, scenario=None)
    assert ids(state.process(directive, answer, 5)) == [first.id]
    second = world.post_video("tiktok")  # posted before the scenario's first poll as itself
    answer = make.watch(state, parameters)  # a new feed: its first poll
    assert ids(state.process(directive, answer, 5)) == [second.id]


def history(world: World) -> list[t.Any]:
    return world.profile("tiktok").videos  # type: ignore[union-attr]


@pytest.mark.parametrize("choice", ["All", "Since specific date", "Choose manually"])
def test_choose_where_to_start_decides_the_first_poll(
    make: Make, world: World, choice: str
) -> None:
    """Each "Choose where to start" choice reaches the connector as ``since`` (Make's
    ``data.lastDate``; none for All): the first runs hand Make the videos from there on,
    oldest first, Limit at a time. A chosen video counts itself (Make starts with it)."""
    directive = code("module/new_video", "communication")["response"]["trigger"]
    videos = history(world)  # newest first
    if choice == "All":
        state, wanted = WatchState(), videos
    else:  # a date, or the date of the video chosen in the list: the fifth newest
        start = dt.datetime.fromtimestamp(videos[4].create_time, dt.UTC)
        state, wanted = WatchState(last_date=start), videos[:5]
    oldest_first = [v.id for v in reversed(wanted)]
    parameters = {"handle": "tiktok", "limit": 3}
    answer = make.watch(state, parameters)
    assert ids(answer) == list(reversed(oldest_first[:3]))
    assert ids(state.process(directive, answer, 3)) == oldest_first[:3]
    following = state.process(directive, make.watch(state, parameters), 3)
    assert ids(following) == oldest_first[3:6]


def test_choose_where_to_start_lists_videos_without_changing_state(
    make: Make, world: World
) -> None:
    epoch = code("module/new_video", "epoch")
    communication = code("module/new_video", "communication")
    # Make merges the epoch's overrides into the trigger's request.
    merged = {**communication, **epoch, "body": {**communication["body"], **epoch["body"]}}
    context = {"parameters": {"handle": "tiktok", "limit": 2}, "scenario": {"id": SCENARIO_ID}}
    listed = make.request(merged, context).json()
    assert listed and ids(listed) == [v.id for v in history(world)[: len(listed)]]
    labels = [iml(epoch["response"]["output"], {"item": item}) for item in listed]
    assert all(label["label"] and label["date"] for label in labels)
    # Nothing was recorded: the scenario's first real poll is still its baseline.
    video = world.post_video("tiktok")
    state = WatchState(last_date=dt.datetime.fromtimestamp(video.create_time - 1, dt.UTC))
    assert ids(make.watch(state, {"handle": "tiktok", "limit": 2})) == [video.id]


def test_webhook_attach_and_detach_with_makes_numeric_webhook_id(
    start_make: t.Callable[..., Make], world: World
) -> None:
    make = start_make(SECRET_KEY="make-test-key-91c4e7a2b05f3d68ab", ALLOW_PRIVATE_TARGETS=True)
    webhook = {"id": WEBHOOK_ID, "url": "http://127.0.0.1:9/make-hook"}
    context = {"parameters": {"handle": "tiktok"}, "webhook": webhook}
    attach = code("webhook/new_video_instant", "attach")
    assert iml(attach["body"], context)["consumer"] == WEBHOOK_ID
    response = make.request(attach, context)
    assert response.status_code == 201, response.text
    data = iml(attach["response"]["data"], {"body": response.json()})
    assert response.json()["consumer"] == str(WEBHOOK_ID)

    detach = code("webhook/new_video_instant", "detach")
    removed = make.request(detach, {"webhook": {**webhook, **data}})
    assert removed.status_code == 200 and removed.json()["id"] == data["externalHookId"]
    assert make.request(detach, {"webhook": {**webhook, **data}}).status_code == 404


def test_connection_test_labels_the_connection(make: Make) -> None:
    communication = code("connection/tiktok", "communication")
    context = {"parameters": make.connection}
    response = make.request(communication, context)
    assert response.status_code == 200, response.text
    label = iml(communication["response"]["metadata"]["value"], {"body": response.json()})
    assert label.startswith("dumplingai key ")


@pytest.mark.parametrize(
    ("upstream", "status", "make_type"),
    [
        (401, 401, "InvalidAccessTokenError"),
        (403, 402, "RuntimeError"),
        (503, 429, "RateLimitError"),
        (404, 404, "DataError"),
        (400, 400, "DataError"),
        (500, 502, "ConnectionError"),
    ],
)
def test_connector_errors_become_makes_error_types(
    make: Make, world: World, upstream: int, status: int, make_type: str
) -> None:
    fault(world, endpoint="profile", status=upstream)
    request = code("module/get_profile", "communication")
    response = make.request(request, {"parameters": {"handle": "tiktok"}})
    assert response.status_code == status
    kind, message = make.error(request, response)
    assert kind == make_type
    assert message == f"[{status}] {response.json()['error']}"


def test_a_refused_key_fails_the_connection_test(make: Make) -> None:
    make.connection["apiKey"] = "sk_invalid_for_make"
    communication = code("connection/tiktok", "communication")
    response = make.request(communication, {"parameters": make.connection})
    assert response.status_code == 401
    assert make.error(communication, response)[0] == "InvalidAccessTokenError"


def test_actions_work_with_what_make_sends(make: Make, world: World) -> None:
    video = history(world)[0]
    get_video = code("module/get_video", "communication")
    # Optional fields left empty are undefined in IML, so Make leaves them out of the body.
    response = make.request(get_video, {"parameters": {}})
    assert response.status_code == 400
    assert make.error(get_video, response)[0] == "DataError"
    response = make.request(get_video, {"parameters": {"video_id": video.id}})
    assert response.status_code == 200 and response.json()["id"] == video.id
    get_profile = code("module/get_profile", "communication")
    response = make.request(get_profile, {"parameters": {"handle": "@TikTok"}})
    assert response.status_code == 200 and response.json()["handle"] == "tiktok"
    assert {r.body["requestSource"] for r in world.requests()} == {"MAKE_DOT_COM"}
