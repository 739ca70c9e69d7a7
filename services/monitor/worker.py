"""The module ``dramatiq`` loads: configure the broker first, then declare the actors."""

from yibao.config import get_settings
from yibao.messaging.broker import install_broker

broker = install_broker(get_settings())

from monitor import actors  # noqa: E402,F401
