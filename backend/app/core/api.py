"""flask-smorest subclassed once: our error envelope, schema defaults and doc conventions."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint

from app.core.hygiene import HygienicParser


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable snake_case code"})
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(metadata={"description": "Field name → list of reasons"})
    request_id = ma.fields.String(allow_none=True)


class ErrorSchema(ma.Schema):
    """The error envelope of API.md; documentation only, responses are built in core.errors."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)


class Api(_Api):
    """The Api with our envelope instead of flask-smorest's default error payload."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        # core.errors registers the handlers for the whole app (routing errors included).
        return None

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        _serve_swagger_ui_assets(app)


SWAGGER_UI_ASSETS = "/docs/assets/"


def _serve_swagger_ui_assets(app) -> None:
    """Swagger UI's scripts and styles from the pinned `swagger-ui-bundle` package, served
    from our own origin (no CDN: /docs works on a locked-down network)."""
    if app.config.get("OPENAPI_SWAGGER_UI_URL") != SWAGGER_UI_ASSETS:
        return
    from flask import send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    directory = str(swagger_ui_path)

    def swagger_ui_asset(filename: str):
        return send_from_directory(directory, filename, max_age=86400)

    app.add_url_rule(f"{SWAGGER_UI_ASSETS}<path:filename>", "swagger_ui_asset", swagger_ui_asset)


class Blueprint(_Blueprint):
    """Blueprint whose views document the envelope for the errors they may return.

    Arguments are read by `HygienicParser`: the input limits of `core.hygiene`, once, for
    every route.
    """

    ARGUMENTS_PARSER = HygienicParser()


class Schema(ma.Schema):
    """Base schema: unknown fields are rejected, output keeps declaration order."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class EmptySchema(Schema):
    """A body with no fields."""
