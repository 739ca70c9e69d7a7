"""Integration events between services: topic names and subscribers, the consumers' inbox."""
