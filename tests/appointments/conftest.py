"""The browser plumbing of the pages' tests: a real server process, tokens, Chromium pages."""
from tests.displays.conftest import open_page, server, server_url  # noqa: F401
