"""The web app: staff pages (and later the JSON API) over the service layer."""

from ravingfans.web.app import create_app

__all__ = ["create_app"]
