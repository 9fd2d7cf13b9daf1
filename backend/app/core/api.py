"""flask-smorest subclassed once: our error envelope, schema defaults and doc conventions."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, send_from_directory
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest.utils import resolve_schema_instance
from swagger_ui_bundle import swagger_ui_path

from app.core.hygiene import HygienicParser

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable snake_case code"})
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(metadata={"description": "Field name → list of reasons"})
    request_id = ma.fields.String(allow_none=True)


class ErrorSchema(ma.Schema):
    """The error envelope of API.md; documentation only, responses are built in core.errors."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)


ERROR_DESCRIPTIONS = {
    400: "The request could not be read (malformed JSON, a bad header).",
    401: "Authentication is missing, expired or revoked.",
    403: "Authenticated, but not allowed to do this.",
    404: "No such resource (or not yours).",
    409: "Conflicts with the current state (or an Idempotency-Key in use).",
    413: "The body is larger than the limit.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "The input is not valid; `details` names each field.",
    429: "Too many requests; see Retry-After.",
}


class Api(_Api):  # type: ignore[misc]  # flask-smorest ships no types
    """The Api with our envelope instead of flask-smorest's default error payload."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # core.errors registers the handlers for the whole app (routing errors included).
        return None

    def init_app(
        self, app: Flask, *args: Any, spec_kwargs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs["extra_plugins"] = [
            *spec_kwargs.get("extra_plugins", ()),
            NumericBounds(),
            SchemaKeywords(),
        ]
        super().init_app(app, *args, spec_kwargs=spec_kwargs, **kwargs)
        _serve_swagger_ui_assets(app)


class NumericBounds(BasePlugin):
    """`minimum`/`maximum` as JSON numbers (marshmallow's Decimal ranges come out as strings)."""

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        stack: list[object] = [operations or {}]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for key in ("minimum", "maximum"):
                    if isinstance(item.get(key), str | Decimal):
                        number = Decimal(item[key])
                        item[key] = int(number) if number == number.to_integral() else float(number)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)


SWAGGER_UI_ASSETS = "/docs/assets/"


def _serve_swagger_ui_assets(app: Flask) -> None:
    """Swagger UI's scripts and styles from the pinned `swagger-ui-bundle` package, served
    from our own origin (no CDN: /docs works on a locked-down network)."""
    if app.config.get("OPENAPI_SWAGGER_UI_URL") != SWAGGER_UI_ASSETS:
        return
    directory = str(swagger_ui_path)

    def swagger_ui_asset(filename: str) -> Response:
        return send_from_directory(directory, filename, max_age=86400)

    app.add_url_rule(f"{SWAGGER_UI_ASSETS}<path:filename>", "swagger_ui_asset", swagger_ui_asset)


class Blueprint(_Blueprint):  # type: ignore[misc]  # flask-smorest ships no types
    """Blueprint whose views document the envelope for the errors they may return.

    Arguments are read by `HygienicParser`: the input limits of `core.hygiene`, once, for
    every route.
    """

    ARGUMENTS_PARSER = HygienicParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_flowlet_doc)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        *,
        parameters: list[Any] | None = None,
        tags: list[str] | None = None,
        **options: Any,
    ) -> None:
        required = getattr(view_func, "_idempotency_key", None)
        if view_func is not None and required is not None:  # set by edge.idempotency.idempotent()
            apidoc = dict(getattr(view_func, "_apidoc", {}))
            apidoc["idempotency_key"] = required
            view_func.__dict__["_apidoc"] = apidoc  # flask-smorest's doc, a function attribute
        super().add_url_rule(
            rule,
            endpoint,
            view_func,
            provide_automatic_options,
            parameters=parameters,
            tags=tags,
            **options,
        )

    # flask-smorest ships no types: its decorators are declared here with theirs, so that a
    # decorated view keeps its parameters (and its result where the decorator passes it on).

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register the view under `rule` (the view itself is returned)."""
        decorator: Callable[[F], F] = super().route(rule, **options)
        return decorator

    def response(
        self, status_code: int, schema: ma.Schema | type[ma.Schema] | None = None, **kwargs: Any
    ) -> Callable[[Callable[P, Any]], Callable[P, Response]]:
        """The view's result dumped with `schema` into a JSON response."""
        decorator: Callable[[Callable[P, Any]], Callable[P, Response]] = super().response(
            status_code, schema, **kwargs
        )
        return decorator

    def alt_response(
        self, status_code: int, **kwargs: Any
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Document another response the view may give."""
        decorator: Callable[[Callable[P, R]], Callable[P, R]] = super().alt_response(
            status_code, **kwargs
        )
        return decorator

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Add `kwargs` to the view's OpenAPI operation."""
        decorator: Callable[[Callable[P, R]], Callable[P, R]] = _Blueprint.doc(**kwargs)
        return decorator

    def arguments(
        self, schema: ma.Schema | type[ma.Schema], *args: Any, **kwargs: Any
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """flask-smorest's `arguments` with the schema made an instance once, here: given a
        class, webargs would build an instance on every request.

        The view keeps its type; Flask calls it with the loaded arguments added.
        """
        decorator: Callable[[Callable[P, R]], Callable[P, R]] = super().arguments(
            resolve_schema_instance(schema), *args, **kwargs
        )
        return decorator

    @staticmethod
    def _prepare_flowlet_doc(
        doc: dict[str, Any], doc_info: dict[str, Any], *, method: str, **kwargs: Any
    ) -> dict[str, Any]:
        """Every operation documents the envelope for the 4xx it can give, and the
        `Idempotency-Key` header where the view takes one."""
        required = doc_info.get("idempotency_key")
        if required is not None:
            doc.setdefault("parameters", []).append(
                {
                    "in": "header",
                    "name": "Idempotency-Key",
                    "required": required,
                    "description": "A key of your choice (a UUID); retries with the same key "
                    "and body replay the first response instead of moving money twice.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        public = doc_info.get("manual_doc", {}).get("security") == []
        codes = [400, 404, 422, 429]
        if not public:
            codes += [401, 403]
        if method in {"post", "put", "patch", "delete"}:
            codes += [409, 413]
        if "requestBody" in doc:
            codes.append(415)
        responses = doc.setdefault("responses", {})
        for code in sorted(codes):
            responses.setdefault(
                str(code),
                {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            )
        return doc


class Schema(ma.Schema):
    """Base schema: unknown fields are rejected, output keeps declaration order, and JSON
    numbers are strict: an integer field takes a JSON integer, never `12.5` or `"12"`.

    `Meta.json_schema` adds keywords to the schema's OpenAPI component where a rule spans
    fields (`oneOf` for "exactly one of", `minProperties`), so the spec says what
    `validates_schema` enforces.
    """

    # Query strings carry text: `ArgsSchema` reads its numbers from it.
    STRICT_TYPES = True

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field[Any]) -> None:
        if self.STRICT_TYPES:
            _strict(field_obj)


def _strict(field: ma.fields.Field[Any]) -> None:
    """Integer fields, also inside lists and dicts, refuse anything but a JSON integer."""
    if isinstance(field, ma.fields.Integer):
        field.strict = True
    for inner in (
        getattr(field, "inner", None),
        getattr(field, "value_field", None),
        *getattr(field, "tuple_fields", ()),
    ):
        if isinstance(inner, ma.fields.Field):
            _strict(inner)


class ArgsSchema(Schema):
    """Base of query-string schemas: values arrive as text, so `?limit=20` is an integer."""

    STRICT_TYPES = False


class SchemaKeywords(BasePlugin):
    """A component gets the keywords of its schema's `Meta.json_schema` (see `Schema`)."""

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        meta = getattr(schema, "Meta", None)
        extra = getattr(meta, "json_schema", None)
        return dict(extra) if extra else None
