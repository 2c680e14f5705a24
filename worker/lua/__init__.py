"""Lua scripts, loaded with importlib.resources (a package so package-data ships them)."""
