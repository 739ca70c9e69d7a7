"""Wire schemas (pydantic): what integrators send and receive."""
