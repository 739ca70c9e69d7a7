"""Smart monitoring (智能监控): rules as data, post-settlement models, the suspect workflow, alerts."""
