"""The web console: server-rendered pages on the API's port, beside /v1.

`console_routes(runtime, sessions, token)` gives the pages and their static files;
`create_app` adds them. Sessions and CSRF tokens are described in `_sessions`.
"""

from whispersync.web.console._pages import routes as console_routes
from whispersync.web.console._sessions import COOKIE, Sessions

__all__ = ["COOKIE", "Sessions", "console_routes"]
