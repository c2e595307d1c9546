"""The appointments' test plumbing: a real server process, tokens and Chromium pages for the pages'
tests; the Twilio stand-in and a fixed clock for booking with the residents' SMS code."""
from tests.displays.conftest import open_page, server, server_url  # noqa: F401
from tests.evaluation.conftest import clock, standin  # noqa: F401
