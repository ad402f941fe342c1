"""The docs page: Swagger UI served by the service itself, so it works offline and under a strict CSP.

Litestar's own Swagger plugin loads Swagger UI from a CDN and starts it with an inline script:
behind a proxy, air-gapped, or under ``Content-Security-Policy: default-src 'self'`` the page
stays blank. Here the files come from the pinned ``swagger-ui-py`` package (swagger-ui-dist's
files, unmodified), the page holds no inline script or style, and ``swagger.js`` starts Swagger
UI from a file of the same origin.
"""

from __future__ import annotations

import html
from importlib import metadata, util
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File

PACKAGE = "swagger-ui-py"  # its module is swagger_ui; its static/ folder is swagger-ui-dist's files
# What a page may load, and from where: the service alone. Swagger UI's stylesheet draws a few icons
# as data: URIs, which are not another origin.
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
# The page's own files, out of the package's whole folder (which also holds Swagger Editor).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "favicon-32x32.png": "image/png",
}
ASSET_ROUTE = "swagger-ui-asset"
STARTER_ROUTE = "swagger-ui-starter"
STARTER = Path(__file__).with_name("swagger.js")
NO_CACHE = CacheControlHeader(no_cache=True)  # ours: it changes with the service, so always revalidated


def docs_router(path: str) -> Router:
    """The router the OpenAPI routes are served from: every answer under it carries the CSP."""
    return Router(
        path,
        route_handlers=[],
        include_in_schema=False,
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY)],
    )


class SelfHostedSwagger(OpenAPIRenderPlugin):
    """Swagger UI from the service's own files, started by a script file instead of an inline one."""

    def __init__(self, *, path: str = "/", **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        spec = util.find_spec("swagger_ui")  # only located, not imported: its own code is for other frameworks
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"the {PACKAGE} package is not installed: the docs page has no Swagger UI to serve")
        self.folder = Path(spec.submodule_search_locations[0]) / "static"
        missing = [name for name in ASSETS if not (self.folder / name).is_file()]
        if missing:
            raise RuntimeError(f"{PACKAGE} lacks {missing} in {self.folder}")
        # In the assets' path, so a browser may keep them for good and an upgrade is fetched anew.
        self.version = metadata.version(PACKAGE)
        self.starter = STARTER.read_bytes()

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        def asset(name: str) -> str:
            return html.escape(request.app.route_reverse(ASSET_ROUTE, file=name))

        title = html.escape(str(openapi_schema["info"]["title"]))
        document = html.escape(self.get_openapi_json_route(request))
        starter = html.escape(request.app.route_reverse(STARTER_ROUTE))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{asset("favicon-32x32.png")}">
<link rel="stylesheet" href="{asset("index.css")}">
<link rel="stylesheet" href="{asset("swagger-ui.css")}">
<script src="{asset("swagger-ui-bundle.js")}" defer></script>
<script src="{starter}" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{document}"></div>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        folder = self.folder

        @get(
            f"/swagger-ui/{self.version}/{{file:str}}",
            name=ASSET_ROUTE,
            sync_to_thread=False,
            cache_control=CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True),
        )
        def asset(file: FromPath[str]) -> File:
            if file not in ASSETS:
                raise NotFoundException()
            return File(folder / file, media_type=ASSETS[file], content_disposition_type="inline")

        @get("/swagger-ui.js", name=STARTER_ROUTE, sync_to_thread=False, cache_control=NO_CACHE)
        def starter() -> Response[bytes]:
            return Response(self.starter, media_type="text/javascript")

        router.register(asset)
        router.register(starter)
