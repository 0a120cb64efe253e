"""Jinja2 templates of the quarterly report (a package so that they ship with qaloop)."""
