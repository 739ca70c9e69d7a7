"""The drug, service and consumable catalogue (目录) with classes, price caps and restrictions."""
