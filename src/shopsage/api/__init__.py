"""The HTTP API (FastAPI): thin routers over :class:`shopsage.serving.service.Service`."""

from shopsage.api.app import app_from_env, create_app
from shopsage.api.security import Keys

__all__ = ["create_app", "app_from_env", "Keys"]
