"""The Blueprint all routes use: flask-smorest's, answering invalid input with 400."""

from __future__ import annotations

import json
import typing as t

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser, is_json_request

from ..errors import InvalidInput

if t.TYPE_CHECKING:
    import flask


class _Parser(FlaskParser):
    """webargs' parser, strict about what it reads:

    - unknown query parameters are errors, as unknown body keys are (webargs would drop
      them), so the GET and POST forms of a route accept the same input;
    - a body is JSON or nothing: any other body is refused rather than read as no input
      (where no input means "everything", as for dead-letter replay, that matters);
    - JSON nested too deeply or with a number too long for Python is invalid input, not a
      crash.
    """

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,  # None: the schema's own Meta.unknown (RAISE for request schemas)
        "querystring": None,
    }

    def _raw_load_json(self, req: flask.Request) -> t.Any:
        if not is_json_request(req):
            # Bounded by MAX_CONTENT_LENGTH, like every read of the body.
            if req.get_data(cache=True):
                raise InvalidInput(
                    "The request body must be a JSON object sent with "
                    "'Content-Type: application/json'."
                )
            return super()._raw_load_json(req)
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs answers these (and reads an empty body as no input)
        except (RecursionError, ValueError) as exc:
            raise InvalidInput(
                "The request body is JSON this API cannot read: nested too deeply or with a "
                "number too long. Send a flat JSON object."
            ) from exc


class Blueprint(SmorestBlueprint):
    """flask-smorest's blueprint, reading arguments with the connector's parser."""

    ARGUMENTS_PARSER = _Parser()

    def arguments(self, schema: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """flask-smorest's ``arguments``, with a schema class made an instance once: webargs
        builds a schema it is given as a class on every request (a tenth of an idle trigger
        poll's time in the framework)."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
