"""The module ``dramatiq`` loads: configure the broker first, then declare the actors."""

from yibao.config import get_settings
from yibao.logs import scrub_existing_handlers
from yibao.messaging.broker import install_broker

scrub_existing_handlers()
broker = install_broker(get_settings())

from settlement import actors  # noqa: E402,F401
