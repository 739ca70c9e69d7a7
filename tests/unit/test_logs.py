import logging

import pytest

from yibao.logs import ScrubFilter, scrub


def test_scrub_masks_ids_and_secrets() -> None:
    line = "settle 430522199001011235 key=ybk_4NjJKSZYZ6jFOPDE8f6hVOn1 x 43052219900101123X"
    assert scrub(line) == "settle 4305221990******35 key=ybk_*** x 4305221990******3X"


def test_filter_rewrites_the_record(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("yibao.test")
    caplog.handler.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO):
        logger.info("person %s not enrolled", "430522199001011235")
    assert "430522199001011235" not in caplog.text and "4305221990******35" in caplog.text
